package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/mpic/mpictest"
)

const caaIdentity = "pki.vetca-test.com"

var regions = []string{"ARIN", "RIPE NCC", "APNIC", "LACNIC", "AFRINIC", "ARIN"}

// perspectiveProc is one `vetca perspective serve` process with its own
// DNS server.
type perspectiveProc struct {
	id, url string
	dns     *dnstest.Server
}

// startPerspective runs the real binary as a remote perspective on a free
// loopback port and returns once it prints its URL. Its website checks may
// reach loopback (--allow-private-validation-targets), where the test's
// website is.
func startPerspective(t *testing.T, id, region string, files mpictest.Files, httpPort int) *perspectiveProc {
	t.Helper()
	p := &perspectiveProc{id: id, dns: dnstest.New(t)}
	cmd := exec.Command(vetcaBin, "perspective", "serve", "--listen", "127.0.0.1:0",
		"--cert", files.ServerCert, "--key", files.ServerKey, "--client-ca", files.CA,
		"--id", id, "--region", region, "--dns-resolver", p.dns.Addr(), "--caa-identity", caaIdentity,
		"--http-validation-port", strconv.Itoa(httpPort), "--allow-private-validation-targets")
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		i := strings.Index(l, "https://")
		if !strings.HasPrefix(l, "perspective "+id+" ("+region+") listening on ") || i < 0 {
			t.Fatalf("perspective %s printed %q", id, l)
		}
		p.url = strings.TrimSuffix(strings.Fields(l[i:])[0], ",")
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("perspective %s did not start: %s", id, logs.String())
	}
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Remote corroboration as a user would run it: the real binary as remote
// perspectives, each pointed at its own DNS server on loopback, and
// `vetca serve --perspective ...` using them over mutual TLS. There are as
// many perspectives as the last phase of the BR §3.2.2.9 timeline requires
// (at least four): enough for every phase, so the test does not change
// with the day it runs although the server dates its evaluation by the
// real clock. Validating a
// dns-change domain through the API, the quorum holds with one dissenting
// perspective and fails with two, and the stored evidence shows every
// perspective's answer.
func TestPerspectiveQuorumE2E(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		n := 4
		for _, ph := range mpic.Phases() {
			n = max(n, ph.MinRemote)
		}
		if mpic.AllowedNonCorroborations(n) != 1 {
			t.Fatalf("with %d perspectives the quorum allows %d dissenting; this test is written for exactly one", n, mpic.AllowedNonCorroborations(n))
		}
		if n > len(regions) {
			t.Fatalf("%d perspectives but only %d region labels", n, len(regions))
		}
		pki, err := mpictest.New(clock.Real{})
		if err != nil {
			t.Fatal(err)
		}
		files, err := pki.WriteFiles(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, sitePages.get(r.URL.Path))
		}))
		t.Cleanup(site.Close)
		_, portStr, err := net.SplitHostPort(site.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			t.Fatal(err)
		}

		primary := dnstest.New(t)
		var ps []*perspectiveProc
		args := []string{"--dns-resolver", primary.Addr(), "--caa-identity", caaIdentity, "--http-validation-port", portStr,
			"--allow-private-validation-targets",
			"--perspective-cert", files.ClientCert, "--perspective-key", files.ClientKey, "--perspective-ca", files.CA}
		for i := range n {
			p := startPerspective(t, fmt.Sprintf("e2e-%d", i+1), regions[i], files, port)
			ps = append(ps, p)
			args = append(args, "--perspective", p.url)
		}
		in.Serve(args...)
		r := in.Do("POST", "/api/v1/accounts", in.AdminToken, map[string]any{"name": "Acme Widgets", "organizations": []string{}})
		if r.Status != 201 {
			t.Fatalf("account: %d %s", r.Status, r.Raw)
		}
		acc, tok := r.Body["id"].(string), r.Body["token"].(string)
		base := "/api/v1/accounts/" + acc + "/domains"

		validate := func(name string, dissenting int) Response {
			t.Helper()
			s := in.Do("POST", base, tok, map[string]any{"domain": name, "method": "dns-change"})
			if s.Status != 201 {
				t.Fatalf("start %s: %d %s", name, s.Status, s.Raw)
			}
			rec, val := s.Body["recordName"].(string), s.Body["value"].(string)
			primary.AddTXT(rec, val)
			for i, p := range ps {
				if i < dissenting {
					p.dns.AddTXT(rec, "another-value-seen-from-a-hijacked-path")
				} else {
					p.dns.AddTXT(rec, val)
				}
			}
			v := in.Do("POST", base+"/"+s.Body["id"].(string)+"/validate", tok, nil)
			if v.Status != 200 || v.Body["method"] != "dns-change" || v.Body["queriedName"] != rec {
				t.Fatalf("validate %s: %d %s", name, v.Status, v.Raw)
			}
			v.Body["id"] = s.Body["id"]
			return v
		}
		quorum := func(v Response) (string, []any) {
			c, _ := v.Body["corroboration"].(map[string]any)
			q, _ := c["quorum"].(string)
			pv, _ := c["perspectives"].([]any)
			return q, pv
		}

		held := validate("held.acme-widgets.com", 1)
		q, pv := quorum(held)
		if held.Body["status"] != "valid" || q != fmt.Sprintf("%d/%d corroborated, quorum met", n-1, n) || len(pv) != n {
			t.Fatalf("one dissenting perspective of %d: %s", n, held.Raw)
		}
		t.Logf("one dissenting of %d: %s: %s", n, held.Body["status"], q)
		failed := validate("failed.acme-widgets.com", 2)
		q, _ = quorum(failed)
		t.Logf("two dissenting of %d: %s: %s", n, failed.Body["status"], q)
		if failed.Body["status"] != "invalid" || !strings.HasPrefix(q, fmt.Sprintf("%d/%d corroborated, quorum not met", n-2, n)) {
			t.Fatalf("two dissenting perspectives of %d: %s", n, failed.Raw)
		}

		// The stored evidence names each perspective and its answer.
		g := in.Do("GET", base+"/"+held.Body["id"].(string), tok, nil)
		atts, _ := g.Body["attempts"].([]any)
		if g.Status != 200 || len(atts) != 1 {
			t.Fatalf("evidence: %d %s", g.Status, g.Raw)
		}
		out := atts[0].(map[string]any)["evidence"].(map[string]any)["corroboration"].(map[string]any)
		results := out["results"].([]any)
		ids := map[string]bool{}
		for _, x := range results {
			m := x.(map[string]any)
			ids[m["perspective"].(string)] = true
			ans, _ := m["answer"].(map[string]any)
			if ans == nil || ans["dcv"] == nil {
				t.Fatalf("perspective answer missing: %v", m)
			}
		}
		if len(ids) != n || !ids["e2e-1"] || out["quorum"].(map[string]any)["met"] != true {
			t.Fatalf("stored corroboration: %v", out)
		}

		// website-change on loopback, corroborated by every perspective.
		primary.AddA("web.acme-widgets.com", "127.0.0.1")
		for _, p := range ps {
			p.dns.AddA("web.acme-widgets.com", "127.0.0.1")
		}
		s := in.Do("POST", base, tok, map[string]any{"domain": "web.acme-widgets.com", "method": "website-change"})
		u, err := url.Parse(fmt.Sprint(s.Body["url"]))
		if s.Status != 201 || err != nil || u.Port() != portStr {
			t.Fatalf("start website-change: %d %s", s.Status, s.Raw)
		}
		sitePages.set(u.Path, s.Body["value"].(string))
		v := in.Do("POST", base+"/"+s.Body["id"].(string)+"/validate", tok, nil)
		if q, _ := quorum(v); v.Status != 200 || v.Body["status"] != "valid" || q != fmt.Sprintf("%d/%d corroborated, quorum met", n, n) {
			t.Fatalf("website-change: %d %s", v.Status, v.Raw)
		}

		// Staff find the validations by method version.
		aud := in.User("audrey", "auditor")
		res := in.Do("GET", "/api/v1/domain-validations?method=dns-change&version=1", aud, nil)
		if vals, _ := res.Body["validations"].([]any); res.Status != 200 || len(vals) != 1 {
			t.Fatalf("query: %d %s", res.Status, res.Raw)
		}
		if out, _, code := in.CLI("audit", "verify"); code != 0 {
			t.Fatalf("audit verify: %d %s", code, out)
		}
	})
}

// pages is what the subscriber's loopback web server serves.
type pages struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *pages) set(path, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[path] = body
}

func (p *pages) get(path string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[path]
}

var sitePages = &pages{}

// `vetca perspective serve` without its required flags is a usage error
// (exit 2) naming the flag. The former opt-in
// --refuse-non-public-addresses is still accepted, as a deprecated no-op.
func TestPerspectiveServeUsage(t *testing.T) {
	cmd := exec.Command(vetcaBin, "perspective", "serve", "--id", "x", "--region", "ARIN", "--refuse-non-public-addresses")
	var errb strings.Builder
	cmd.Stderr = &errb
	cmd.Stdout = io.Discard
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(errb.String(), "--cert") || !strings.Contains(errb.String(), "deprecated") {
		t.Fatalf("exit %v: %s", err, errb.String())
	}
	help, err := exec.Command(vetcaBin, "perspective", "serve", "--help").Output()
	if err != nil || !strings.Contains(string(help), "--allow-private-validation-targets") || strings.Contains(string(help), "--refuse-non-public-addresses") {
		t.Fatalf("perspective serve --help: %v\n%s", err, help)
	}
}

// The egress policy of the real binary: `vetca serve` refuses website-change
// validation of a name pointing at loopback, answering 200
// {"status":"invalid"} with a reason naming the address, and the website
// receives nothing. Restarted with VETCA_ALLOW_PRIVATE_VALIDATION_TARGETS
// (the --allow-private-validation-targets flag through the environment),
// or with --dev, it validates, and says at start-up that the policy is off.
func TestWebsiteChangeEgressE2E(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			var mu sync.Mutex
			requests := 0
			site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				fmt.Fprint(w, sitePages.get(r.URL.Path))
			}))
			t.Cleanup(site.Close)
			count := func() int { mu.Lock(); defer mu.Unlock(); return requests }
			_, portStr, err := net.SplitHostPort(site.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			dns := dnstest.New(t)
			dns.AddA("intranet.acme-widgets.com", "127.0.0.1")
			args := []string{"--dns-resolver", dns.Addr(), "--caa-identity", caaIdentity, "--http-validation-port", portStr}

			in.Serve(args...)
			if strings.Contains(in.Logs(), "allow-private-validation-targets") {
				t.Fatalf("the policy is off by default:\n%s", in.Logs())
			}
			r := in.Do("POST", "/api/v1/accounts", in.AdminToken, map[string]any{"name": "Acme Widgets", "organizations": []string{}})
			if r.Status != 201 {
				t.Fatalf("account: %d %s", r.Status, r.Raw)
			}
			acc, tok := r.Body["id"].(string), r.Body["token"].(string)
			base := "/api/v1/accounts/" + acc + "/domains"
			s := in.Do("POST", base, tok, map[string]any{"domain": "intranet.acme-widgets.com", "method": "website-change"})
			u, err := url.Parse(fmt.Sprint(s.Body["url"]))
			if s.Status != 201 || err != nil {
				t.Fatalf("start: %d %s", s.Status, s.Raw)
			}
			sitePages.set(u.Path, s.Body["value"].(string))
			validate := base + "/" + s.Body["id"].(string) + "/validate"

			v := in.Do("POST", validate, tok, nil)
			want := "refused to connect to 127.0.0.1: loopback address is not a public validation target; --allow-private-validation-targets allows it"
			if reason, _ := v.Body["reason"].(string); v.Status != 200 || v.Body["status"] != "invalid" || !strings.Contains(reason, want) {
				t.Fatalf("validate without the flag: %d %s", v.Status, v.Raw)
			}
			if n := count(); n != 0 {
				t.Fatalf("the loopback website received %d requests", n)
			}

			in.Stop()
			in.Env = append(in.Env, "VETCA_ALLOW_PRIVATE_VALIDATION_TARGETS=true")
			in.Serve(args...)
			if !strings.Contains(in.Logs(), "allow-private-validation-targets") {
				t.Errorf("no start-up warning:\n%s", in.Logs())
			}
			v = in.Do("POST", validate, tok, nil)
			if v.Status != 200 || v.Body["status"] != "valid" || count() != 1 {
				t.Fatalf("validate with the flag: %d %s (%d requests)", v.Status, v.Raw, count())
			}

			// --dev sets it too.
			in.Stop()
			in.Env = in.Env[:len(in.Env)-1]
			in.Serve(append(args, "--dev")...)
			if !strings.Contains(in.Logs(), "allow-private-validation-targets") {
				t.Errorf("no start-up warning with --dev:\n%s", in.Logs())
			}
			v = in.Do("POST", validate, tok, nil)
			if v.Status != 200 || v.Body["status"] != "valid" || count() != 2 {
				t.Fatalf("validate with --dev: %d %s (%d requests)", v.Status, v.Raw, count())
			}
		})
	}
}
