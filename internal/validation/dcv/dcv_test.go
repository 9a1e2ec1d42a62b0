package dcv

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/resolver"
	"github.com/vetca/vetca/internal/testctx"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func mustValue(t *testing.T) string {
	t.Helper()
	v, err := NewRandomValue()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newResolver(t *testing.T, s *dnstest.Server) *resolver.Resolver {
	t.Helper()
	// The loopback DNS server answers every query these tests make: the
	// limit only bounds a broken run.
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: 10 * time.Second, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRandomValue(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v := mustValue(t)
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) != RandomValueBytes || len(b)*8 < 128 {
			t.Fatalf("value %q: %d bytes, %v", v, len(b), err)
		}
		if seen[v] {
			t.Fatal("repeated random value")
		}
		seen[v] = true
		if err := checkValue(v); err != nil {
			t.Fatalf("own value refused: %v", err)
		}
	}
	// BR §3.2.2.4.7: 30 days.
	if MaxRandomValueAge != 30*24*time.Hour {
		t.Fatal("MaxRandomValueAge must be 30 days")
	}
}

func TestMethods(t *testing.T) {
	m, err := MethodByName("dns-change")
	if err != nil || m.Section != "3.2.2.4.7" || m.Version == "" || !m.AllowsWildcard {
		t.Fatalf("%+v %v", m, err)
	}
	m, err = MethodByName("website-change")
	if err != nil || m.Section != "3.2.2.4.18" || m.AllowsWildcard {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := MethodByName("email"); !apperr.HasCode(err, "unknown_method") {
		t.Fatalf("unknown method: %v", err)
	}
}

// BR §3.2.2.4.7: the value must be at the underscore-prefixed name, and
// nowhere else counts.
func TestDNSChange(t *testing.T) {
	value := mustValue(t)
	tests := []struct {
		name   string
		setup  func(s *dnstest.Server)
		domain string
		valid  bool
		reason string
	}{
		{"value at the record name", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value)
		}, "example.com", true, "holds the random value"},
		{"value at the domain itself does not count", func(s *dnstest.Server) {
			s.AddTXT("example.com", value)
		}, "example.com", false, "no TXT record at _vetca-challenge.example.com"},
		{"value at another name does not count", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.other.com", value)
			s.AddTXT("_acme-challenge.example.com", value)
			s.AddTXT("vetca-challenge.example.com", value)
		}, "example.com", false, "no TXT record"},
		{"value at a subdomain's record name does not validate the parent", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.www.example.com", value)
		}, "example.com", false, ""},
		{"wrong value", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", mustValue(t))
		}, "example.com", false, "none equal"},
		{"value with extra characters", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value+"x")
			s.AddTXT("_vetca-challenge.example.com", " "+value)
		}, "example.com", false, "none equal"},
		{"one of several TXT records", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", "v=spf1 -all")
			s.AddTXT("_vetca-challenge.example.com", value)
		}, "example.com", true, ""},
		{"value split across character-strings (RFC 7208 §3.3)", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value[:10], value[10:])
		}, "example.com", true, ""},
		{"wildcard validates the base domain", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value)
		}, "*.example.com", true, ""},
		{"record name delegated by CNAME", func(s *dnstest.Server) {
			s.AddCNAME("_vetca-challenge.example.com", "example-com.validation.example.net")
			s.AddTXT("example-com.validation.example.net", value)
		}, "example.com", true, ""},
		{"SERVFAIL is invalid and says so", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value)
			s.SetRcode("_vetca-challenge.example.com", dns.RcodeServerFailure)
		}, "example.com", false, "SERVFAIL"},
		{"upper-case domain input", func(s *dnstest.Server) {
			s.AddTXT("_vetca-challenge.example.com", value)
		}, "Example.COM", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.New(t)
			tc.setup(s)
			clk := clock.NewFake(t0)
			c, err := NewDNSChecker(newResolver(t, s), clk)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := c.Check(context.Background(), tc.domain, value)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Valid != tc.valid || (ev.Status == StatusValid) != tc.valid {
				t.Fatalf("valid = %v (%s); want %v [BR §3.2.2.4.7]", ev.Valid, ev.Reason, tc.valid)
			}
			if tc.reason != "" && !strings.Contains(ev.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", ev.Reason, tc.reason)
			}
			if ev.Method != "dns-change" || ev.Section != "3.2.2.4.7" || ev.Version != DNSChange.Version ||
				ev.Query != "_vetca-challenge.example.com" || ev.Resolver != s.Addr() || !ev.Time.Equal(t0) || len(ev.DNS) == 0 {
				t.Errorf("evidence = %+v", ev)
			}
			// Only the record name is ever asked (plus CNAME targets).
			for _, q := range s.Queries() {
				if q.Name == "example.com." {
					t.Errorf("queried the bare domain: %+v", q)
				}
			}
		})
	}
}

func TestDNSChangeRefusesBadInput(t *testing.T) {
	s := dnstest.New(t)
	c, _ := NewDNSChecker(newResolver(t, s), clock.NewFake(t0))
	for _, tc := range []struct{ domain, value, field string }{
		{"192.0.2.1", mustValue(t), "domain"},
		{"host.internal", mustValue(t), "domain"},
		{"example.com", "short", "value"},
		{"example.com", strings.Repeat("a", 30) + "=", "value"},
	} {
		_, err := c.Check(context.Background(), tc.domain, tc.value)
		if ae, ok := apperr.As(err); !ok || ae.Field != tc.field {
			t.Errorf("Check(%q, %q) = %v; want an error naming %q", tc.domain, tc.value, err, tc.field)
		}
	}
	if n := len(s.Queries()); n != 0 {
		t.Errorf("bad input caused %d queries", n)
	}
	if rn, _ := RecordName("*.Example.com."); rn != "_vetca-challenge.example.com" {
		t.Errorf("RecordName = %q", rn)
	}
}

// webFixture is a real HTTP server on loopback and a DNS server that maps
// the test domains to 127.0.0.1. Its checkers allow private validation
// targets, since the server is on loopback; egress_test.go tests the
// default, which refuses them.
type webFixture struct {
	dns   *dnstest.Server
	srv   *httptest.Server
	port  int
	mu    sync.Mutex
	hosts []string
	mux   *http.ServeMux
}

func newWebFixture(t *testing.T) *webFixture {
	t.Helper()
	f := &webFixture{dns: dnstest.New(t), mux: http.NewServeMux()}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hosts = append(f.hosts, r.Host)
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	_, p, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	f.port, _ = strconv.Atoi(p)
	for _, n := range []string{"shop.example.com", "other.example.net"} {
		f.dns.AddA(n, "127.0.0.1")
	}
	return f
}

func (f *webFixture) checker(t *testing.T, mod func(*HTTPConfig)) *HTTPChecker {
	t.Helper()
	cfg := HTTPConfig{Resolver: newResolver(t, f.dns), Clock: clock.NewFake(t0), Port: f.port, Timeout: 10 * time.Second,
		AllowPrivateValidationTargets: true}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewHTTPChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const file = "0123456789abcdef0123456789abcdef.txt"

func TestWebsiteChange(t *testing.T) {
	value := mustValue(t)
	path := WellKnownDir + file
	// The "timeout" case's server holds the request; the check's deadline
	// passes once the request has arrived (testctx), so the evidence of
	// the hop is there however slow the machine.
	arrived := make(chan struct{}, 1)
	tests := []struct {
		name    string
		handler func(port int) http.HandlerFunc
		valid   bool
		reason  string
	}{
		{"exact body", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, value) }
		}, true, "returned the random value"},
		{"body with trailing newline is trimmed", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "  "+value+"\r\n") }
		}, true, ""},
		{"wrong body", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "not the value") }
		}, false, "does not equal"},
		{"value embedded in a larger body", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>"+value+"</html>") }
		}, false, "does not equal"},
		{"404 with the value", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404); fmt.Fprint(w, value) }
		}, false, "HTTP status 404"},
		{"302 on the same host under the directory", func(port int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Redirect(w, r, WellKnownDir+"moved.txt", http.StatusFound)
					return
				}
				fmt.Fprint(w, value)
			}
		}, true, ""},
		{"308 to an absolute URL on the same host and port", func(port int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Redirect(w, r, fmt.Sprintf("http://SHOP.example.com:%d%smoved.txt", port, WellKnownDir), http.StatusPermanentRedirect)
					return
				}
				fmt.Fprint(w, value)
			}
		}, true, ""},
		{"redirect to another host", func(port int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.Host == "shop.example.com:"+strconv.Itoa(port) {
					http.Redirect(w, r, fmt.Sprintf("http://other.example.net:%d%s", port, path), http.StatusFound)
					return
				}
				fmt.Fprint(w, value)
			}
		}, false, `host "other.example.net" is not "shop.example.com"`},
		{"redirect to the IP address", func(port int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.Host, "shop.") {
					http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), http.StatusFound)
					return
				}
				fmt.Fprint(w, value)
			}
		}, false, "is not"},
		{"303 redirect is not allowed", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Redirect(w, r, WellKnownDir+"moved.txt", http.StatusSeeOther)
					return
				}
				fmt.Fprint(w, value)
			}
		}, false, "redirect status 303"},
		{"redirect out of the directory", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Redirect(w, r, "/value.txt", http.StatusFound)
					return
				}
				fmt.Fprint(w, value)
			}
		}, false, "not under /.well-known/pki-validation/"},
		{"redirect to an unauthorized port", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://shop.example.com:8444"+WellKnownDir+"x.txt", http.StatusFound)
			}
		}, false, "not an Authorized Port"},
		{"redirect to ftp", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "ftp://shop.example.com"+WellKnownDir+"x.txt", http.StatusFound)
			}
		}, false, "scheme"},
		{"redirect putting the value in the request", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, WellKnownDir+value, http.StatusFound)
			}
		}, false, "must not appear in the request"},
		{"redirect loop", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
			}
		}, false, "more than 5 redirects"},
		{"oversize body", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, value+strings.Repeat(" ", DefaultMaxBodyBytes))
			}
		}, false, "body larger than"},
		{"timeout", func(int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case arrived <- struct{}{}:
				default:
				}
				select {
				case <-r.Context().Done():
				case <-time.After(60 * time.Second):
				}
			}
		}, false, "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWebFixture(t)
			f.mux.Handle("/", tc.handler(f.port))
			c := f.checker(t, nil)
			ctx := context.Background()
			if tc.name == "timeout" {
				var expire func()
				ctx, expire = testctx.Expiring(ctx)
				go func() {
					select {
					case <-arrived:
					case <-time.After(60 * time.Second):
					}
					expire()
				}()
			}
			ev, err := c.Check(ctx, "shop.example.com", file, value)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Valid != tc.valid {
				t.Fatalf("valid = %v (%s); want %v [BR §3.2.2.4.18]; hops %+v", ev.Valid, ev.Reason, tc.valid, ev.HTTP)
			}
			if tc.reason != "" && !strings.Contains(ev.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", ev.Reason, tc.reason)
			}
			wantURL := fmt.Sprintf("http://shop.example.com:%d%s", f.port, path)
			if ev.Method != "website-change" || ev.Section != "3.2.2.4.18" || ev.Query != wantURL ||
				ev.Resolver != f.dns.Addr() || !ev.Time.Equal(t0) || len(ev.HTTP) == 0 || ev.HTTP[0].URL != wantURL {
				t.Errorf("evidence = %+v", ev)
			}
			if ev.HTTP[0].RemoteAddr != fmt.Sprintf("127.0.0.1:%d", f.port) {
				t.Errorf("remote addr %q", ev.HTTP[0].RemoteAddr)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.hosts) == 0 || f.hosts[0] != "shop.example.com:"+strconv.Itoa(f.port) {
				t.Errorf("Host headers %v", f.hosts)
			}
			for _, h := range f.hosts {
				if !strings.HasPrefix(strings.ToLower(h), "shop.example.com") {
					t.Errorf("request reached host %q", h)
				}
			}
		})
	}
}

// A port-less https redirect goes to the configured HTTPS port, over TLS,
// with the domain as Host and SNI.
func TestWebsiteChangeHTTPSRedirect(t *testing.T) {
	value := mustValue(t)
	f := newWebFixture(t)
	var sni string
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni = r.TLS.ServerName
		if r.Host != "shop.example.com" {
			http.Error(w, "bad host "+r.Host, 400)
			return
		}
		fmt.Fprint(w, value)
	}))
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	_, p, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	httpsPort, _ := strconv.Atoi(p)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://shop.example.com"+r.URL.Path, http.StatusMovedPermanently)
	})
	c := f.checker(t, func(cfg *HTTPConfig) { cfg.HTTPSPort = httpsPort })
	ev, err := c.Check(context.Background(), "shop.example.com", file, value)
	if err != nil || !ev.Valid {
		t.Fatalf("%+v %v", ev, err)
	}
	if len(ev.HTTP) != 2 || ev.HTTP[1].RemoteAddr != "127.0.0.1:"+p || sni != "shop.example.com" {
		t.Fatalf("hops %+v sni %q", ev.HTTP, sni)
	}
}

func TestWebsiteChangeRefusals(t *testing.T) {
	value := mustValue(t)
	f := newWebFixture(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, value) })
	c := f.checker(t, nil)
	ctx := context.Background()

	// BR §3.2.2.4.18 note: not suitable for wildcards.
	if _, err := c.Check(ctx, "*.shop.example.com", file, value); !apperr.HasCode(err, "wildcard_refused") {
		t.Errorf("wildcard: %v", err)
	}
	// The file name may not contain the value, nor escape the directory.
	for _, fn := range []string{value + ".txt", "../x", "a/b", "", "."} {
		if _, err := c.Check(ctx, "shop.example.com", fn, value); err == nil {
			t.Errorf("file name %q accepted", fn)
		}
	}
	// A DNS failure is an invalid result that says so.
	f.dns.SetRcode("shop.example.com", dns.RcodeServerFailure)
	ev, err := c.Check(ctx, "shop.example.com", file, value)
	if err != nil || ev.Valid || !strings.Contains(ev.Reason, "SERVFAIL") {
		t.Errorf("SERVFAIL: %+v %v", ev, err)
	}
	f.dns.ClearRcode("shop.example.com")
	// No address at all.
	ev, _ = c.Check(ctx, "noaddr.example.com", file, value)
	if ev.Valid || !strings.Contains(ev.Reason, "no A or AAAA") {
		t.Errorf("no address: %+v", ev)
	}
	// The default egress policy refuses loopback.
	strict := f.checker(t, func(cfg *HTTPConfig) { cfg.AllowPrivateValidationTargets = false })
	ev, _ = strict.Check(ctx, "shop.example.com", file, value)
	if ev.Valid || !strings.Contains(ev.Reason, "refused to connect to 127.0.0.1") {
		t.Errorf("non-public: %+v", ev)
	}
	// Valid with private targets allowed (sanity check that the fixture works).
	ev, _ = c.Check(ctx, "shop.example.com", file, value)
	if !ev.Valid {
		t.Errorf("fixture: %+v", ev)
	}
	fn, err := NewFileName()
	if err != nil || checkFileName(fn) != nil || strings.Contains(fn, value) {
		t.Errorf("NewFileName = %q %v", fn, err)
	}
}

// BR §3.2.2.4.7 note (subdomains and wildcards covered) versus
// §3.2.2.4.18 note (only the validated FQDN, never a wildcard).
func TestCovers(t *testing.T) {
	tests := []struct {
		m               Method
		validated, name string
		want            bool
	}{
		{DNSChange, "example.com", "example.com", true},
		{DNSChange, "example.com", "www.example.com", true},
		{DNSChange, "example.com", "a.b.example.com", true},
		{DNSChange, "example.com", "*.example.com", true},
		{DNSChange, "*.example.com", "www.example.com", true},
		{DNSChange, "example.com", "badexample.com", false},
		{DNSChange, "www.example.com", "example.com", false},
		{DNSChange, "example.com", "example.com.evil.net", false},
		{WebsiteChange, "www.example.com", "www.example.com", true},
		{WebsiteChange, "example.com", "www.example.com", false},
		{WebsiteChange, "example.com", "*.example.com", false},
	}
	for _, tc := range tests {
		if got := tc.m.Covers(tc.validated, tc.name); got != tc.want {
			t.Errorf("%s.Covers(%q, %q) = %v; want %v", tc.m.Name, tc.validated, tc.name, got, tc.want)
		}
	}
}
