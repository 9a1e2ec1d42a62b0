package revocation_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/apptest"
)

// getWith GETs u with the headers given as name, value pairs and returns
// the answer with its body read.
func getWith(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// RFC 5019 §6.2, BR §4.9.10: a cache holding the good response of a
// certificate revoked in the same second (Last-Modified, thisUpdate, has
// one-second resolution) asks If-Modified-Since that second and must get
// the revoked response, not 304, which kept it serving good.
func TestOCSPIfModifiedSinceAfterASameSecondRevocation(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		iss := f.IssuerCertificate()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		req, err := ocsp.CreateRequest(cert, iss, &ocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			t.Fatal(err)
		}
		u := f.Server.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
		resp, body := getWith(t, u)
		if r, err := ocsp.ParseResponseForCert(body, cert, iss); err != nil || r.Status != ocsp.Good {
			t.Fatalf("before: %v", err)
		}
		if x := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); x.Status != 200 {
			t.Fatal(x.Raw)
		}
		again, body := getWith(t, u, "If-Modified-Since", resp.Header.Get("Last-Modified"))
		if again.StatusCode != http.StatusOK {
			t.Fatalf("revoked in the second of the good response: HTTP %d to If-Modified-Since %s", again.StatusCode, resp.Header.Get("Last-Modified"))
		}
		if r, err := ocsp.ParseResponseForCert(body, cert, iss); err != nil || r.Status != ocsp.Revoked {
			t.Fatalf("after: %v", err)
		}
	})
}

// RFC 9110 §13.2.1: the CRL endpoint, which sends ETag and Last-Modified,
// answers a poller that has the current CRL 304 instead of the whole list;
// one that has an earlier CRL, even one built in the same second, gets
// the new one.
func TestCRLConditionalGet(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(cert.CRLDistributionPoints[0])
		if err != nil {
			t.Fatal(err)
		}
		u := f.Server.URL + pu.Path
		first, _ := getWith(t, u)
		etag, lm := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
		if first.StatusCode != 200 || etag == "" || lm == "" {
			t.Fatalf("CRL: %d, ETag %q, Last-Modified %q", first.StatusCode, etag, lm)
		}
		if r, b := getWith(t, u, "If-None-Match", etag); r.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("If-None-Match of the current CRL: HTTP %d, %d bytes", r.StatusCode, len(b))
		}
		lmt, _ := http.ParseTime(lm)
		if r, _ := getWith(t, u, "If-Modified-Since", lmt.Add(time.Second).Format(http.TimeFormat)); r.StatusCode != http.StatusNotModified {
			t.Errorf("If-Modified-Since after the current CRL: HTTP %d", r.StatusCode)
		}
		if x := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); x.Status != 200 {
			t.Fatal(x.Raw)
		}
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		if r, _ := getWith(t, u, "If-None-Match", etag); r.StatusCode != http.StatusOK {
			t.Errorf("If-None-Match of the earlier CRL: HTTP %d", r.StatusCode)
		}
		if r, _ := getWith(t, u, "If-Modified-Since", lm); r.StatusCode != http.StatusOK {
			t.Errorf("If-Modified-Since of an earlier CRL of the same second: HTTP %d", r.StatusCode)
		}
	})
}
