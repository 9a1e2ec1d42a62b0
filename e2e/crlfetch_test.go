package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type crlVerifyJSON struct {
	OK       bool `json:"ok"`
	Findings []struct {
		URL     string `json:"url"`
		Serial  string `json:"serial"`
		Message string `json:"message"`
	} `json:"findings"`
}

func crlVerify(t *testing.T, in *Instance, args ...string) (crlVerifyJSON, int) {
	t.Helper()
	out, errOut, code := in.CLI(append([]string{"crl", "verify", "--json"}, args...)...)
	var v crlVerifyJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("crl verify --json %v: exit %d: %v: %q %s", args, code, err, out, errOut)
	}
	if v.OK != (code == 0) {
		t.Fatalf("crl verify %v: exit %d but ok %v", args, code, v.OK)
	}
	return v, code
}

// `vetca crl verify --fetch` fetches every shard at the URL certificates
// name (the public URL, here the server's own loopback address) and
// compares the bytes with the current CRL: it passes against the running
// server; with nothing listening it names every shard as not fetchable
// (and without --fetch the same database passes); against a stand-in at
// that address serving the right bytes for one shard and wrong ones for
// the others, it asks for every shard and names exactly the wrong ones.
func TestCRLVerifyFetch(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := NewOnLoopback(t, backend)
			c := setupCA(t, in)
			serial, cert := c.issue(t)
			shard := cert.CRLDistributionPoints[0]
			if !strings.HasPrefix(shard, in.PublicURL+"/crl/") {
				t.Fatalf("the certificate's CRL URL %s is not under the public URL %s", shard, in.PublicURL)
			}
			if r := in.Do("POST", "/api/v1/certificates/"+serial+"/revoke", c.accTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for !c.crlHas(t, shard, cert.SerialNumber) {
				if time.Now().After(deadline) {
					t.Fatal("revocation not on the CRL within two minutes")
				}
				time.Sleep(100 * time.Millisecond)
			}
			if v, code := crlVerify(t, in, "--fetch"); code != 0 {
				t.Fatalf("crl verify --fetch against the running server: exit %d %+v", code, v.Findings)
			}
			good := httpGet(t, shard)
			in.Stop()

			// Nothing listens at the public URL.
			v, code := crlVerify(t, in, "--fetch")
			urls := map[string]bool{}
			for _, f := range v.Findings {
				if !strings.Contains(f.Message, "not fetchable") || !strings.HasPrefix(f.URL, in.PublicURL+"/") {
					t.Errorf("with no server: %+v", f)
				}
				urls[f.URL] = true
			}
			if code != 1 || !urls[shard] || len(urls) < 16 {
				t.Fatalf("with no server: exit %d, %d shards named (the certificate's: %v)", code, len(urls), urls[shard])
			}
			if v, code := crlVerify(t, in); code != 0 {
				t.Fatalf("crl verify without --fetch fetched something: exit %d %+v", code, v.Findings)
			}

			// A stand-in server at the public URL.
			shardURL, err := url.Parse(shard)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			asked := map[string]bool{}
			ln, err := net.Listen("tcp", in.Addr)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				asked[r.URL.EscapedPath()] = true
				mu.Unlock()
				if r.URL.EscapedPath() == shardURL.EscapedPath() {
					_, _ = w.Write(good)
					return
				}
				_, _ = io.WriteString(w, "not the CRL")
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			v, code = crlVerify(t, in, "--fetch")
			named := map[string]bool{}
			for _, f := range v.Findings {
				if !strings.Contains(f.Message, "different bytes") {
					t.Errorf("against the stand-in: %+v", f)
				}
				named[f.URL] = true
			}
			if code != 1 || named[shard] || len(named) != len(urls)-1 {
				t.Fatalf("against the stand-in: exit %d, %d of %d shards named (the right one: %v)", code, len(named), len(urls), named[shard])
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d shard URLs, %d named wrong, %d fetched", len(urls), len(named), len(asked))
			for u := range urls {
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				if !asked[pu.EscapedPath()] {
					t.Errorf("crl verify --fetch did not fetch %s", u)
				}
			}
		})
	}
}

// httpGet fetches a URL and fails the test unless it answers 200.
func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}
