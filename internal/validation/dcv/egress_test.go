package dcv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/egress"
)

// countingSite is a website on one loopback address that counts the TCP
// connections it accepts and the requests it answers.
type countingSite struct {
	srv             *httptest.Server
	port            int
	conns, requests atomic.Int32
}

// startCountingSite serves body on addr (a loopback IP, any port), over TLS
// when tlsOn. It returns nil when addr cannot be listened on (no IPv6, or
// no 127.0.0.2 outside Linux).
func startCountingSite(t *testing.T, addr string, tlsOn bool, body func(r *http.Request) (int, string)) *countingSite {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return nil
	}
	s := &countingSite{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		code, b := body(r)
		if code >= 300 && code < 400 {
			http.Redirect(w, r, b, code)
			return
		}
		w.WriteHeader(code)
		fmt.Fprint(w, b)
	}))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tlsOn {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	s.port, _ = strconv.Atoi(p)
	return s
}

// A name resolving to a loopback address is refused by default: the
// evidence names the address and the website receives nothing, not even a
// connection. With AllowPrivateValidationTargets the same check is valid.
func TestWebsiteChangeRefusesNonPublicTargets(t *testing.T) {
	value := mustValue(t)
	for _, addr := range []string{"127.0.0.1", "127.1.2.3", "::1"} {
		t.Run(addr, func(t *testing.T) {
			site := startCountingSite(t, addr, false, func(*http.Request) (int, string) { return 200, value })
			port := 0
			if site != nil {
				port = site.port
			} else {
				// Nothing can listen there on this machine; the refusal is
				// still tested, on a port nothing listens on.
				port = 9
			}
			dns := dnstest.New(t)
			if strings.Contains(addr, ":") {
				dns.AddAAAA("site.example.com", addr)
			} else {
				dns.AddA("site.example.com", addr)
			}
			check := func(allow bool) Evidence {
				t.Helper()
				c, err := NewHTTPChecker(HTTPConfig{Resolver: newResolver(t, dns), Clock: clock.NewFake(t0), Port: port,
					Timeout: 2 * time.Second, AllowPrivateValidationTargets: allow})
				if err != nil {
					t.Fatal(err)
				}
				ev, err := c.Check(context.Background(), "site.example.com", file, value)
				if err != nil {
					t.Fatal(err)
				}
				return ev
			}

			ev := check(false)
			t.Logf("reason: %s", ev.Reason)
			want := "refused to connect to " + addr + ": loopback address is not a public validation target; --allow-private-validation-targets allows it"
			if ev.Valid || ev.Status != StatusInvalid || !strings.Contains(ev.Reason, want) {
				t.Fatalf("reason %q (valid %v); want it to contain %q", ev.Reason, ev.Valid, want)
			}
			if len(ev.HTTP) != 1 || ev.HTTP[0].RemoteAddr != "" || ev.HTTP[0].Status != 0 || !strings.Contains(ev.HTTP[0].Error, addr) {
				t.Errorf("hops %+v", ev.HTTP)
			}
			if len(ev.Answer) != 0 {
				t.Errorf("answer %q kept from a refused target", ev.Answer)
			}
			if site == nil {
				t.Skipf("cannot listen on %s here: the allowed check is not tested", addr)
			}
			if n, r := site.conns.Load(), site.requests.Load(); n != 0 || r != 0 {
				t.Fatalf("the refused target received %d connections and %d requests", n, r)
			}

			ev = check(true)
			if !ev.Valid || len(ev.HTTP) != 1 || ev.HTTP[0].RemoteAddr != net.JoinHostPort(addr, strconv.Itoa(port)) {
				t.Fatalf("with private targets allowed: %+v", ev)
			}
			if r := site.requests.Load(); r != 1 {
				t.Errorf("the allowed check made %d requests", r)
			}
		})
	}
}

// A name with several addresses, all non-public, is refused with every one
// of them named under one hint. (Loopback addresses only, in several
// forms: were the policy broken, the dial would still stay on this host.)
func TestWebsiteChangeRefusalNamesEveryAddress(t *testing.T) {
	value := mustValue(t)
	dns := dnstest.New(t)
	dns.AddA("site.example.com", "127.0.0.1")
	dns.AddA("site.example.com", "127.0.0.53")
	dns.AddAAAA("site.example.com", "::1")
	dns.AddAAAA("site.example.com", "::ffff:127.0.0.2")
	c, err := NewHTTPChecker(HTTPConfig{Resolver: newResolver(t, dns), Clock: clock.NewFake(t0), Port: 9, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.Check(context.Background(), "site.example.com", file, value)
	if err != nil || ev.Valid {
		t.Fatalf("%+v %v", ev, err)
	}
	t.Logf("reason: %s", ev.Reason)
	for _, s := range []string{
		"refused to connect to 127.0.0.1: loopback address",
		"refused to connect to 127.0.0.53: loopback address",
		"refused to connect to ::1: loopback address",
		"127.0.0.2: loopback address",
	} {
		if !strings.Contains(ev.Reason, s) {
			t.Errorf("reason %q lacks %q", ev.Reason, s)
		}
	}
	if strings.Count(ev.Reason, egress.Hint) != 1 {
		t.Errorf("reason %q: want the hint once", ev.Reason)
	}
}

// A redirect from an allowed target to a refused one is refused, on the
// connection the redirect makes. The test's policy treats 127.0.0.1 as
// public and everything else as egress.Public does, so every packet stays
// on loopback: the name resolves to 127.0.0.1 and 127.0.0.2; the page on
// 127.0.0.1 redirects to https on the same name, which nothing serves on
// 127.0.0.1, so the connection falls to 127.0.0.2, where an HTTPS server
// would give the value. The policy refuses it and that server receives
// nothing. With both allowed, the same check reaches it and is valid.
func TestWebsiteChangeRedirectToRefusedTarget(t *testing.T) {
	value := mustValue(t)
	target := startCountingSite(t, "127.0.0.2", true, func(*http.Request) (int, string) { return 200, value })
	if target == nil {
		t.Skip("cannot listen on 127.0.0.2 here")
	}
	// Nothing may listen on 127.0.0.1 at the HTTPS port, so that the
	// connection falls through to 127.0.0.2.
	if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(target.port))); err != nil {
		t.Skipf("port %d is taken on 127.0.0.1: %v", target.port, err)
	} else {
		ln.Close()
	}
	first := startCountingSite(t, "127.0.0.1", false, func(r *http.Request) (int, string) {
		return http.StatusFound, "https://site.example.com" + r.URL.Path
	})
	dns := dnstest.New(t)
	dns.AddA("site.example.com", "127.0.0.1")
	dns.AddA("site.example.com", "127.0.0.2")
	checker := func(policy egress.Policy) *HTTPChecker {
		c, err := NewHTTPChecker(HTTPConfig{Resolver: newResolver(t, dns), Clock: clock.NewFake(t0),
			Port: first.port, HTTPSPort: target.port, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c.egress = policy
		return c
	}
	onlyFirst := func(a netip.Addr) (bool, string) {
		if a == netip.MustParseAddr("127.0.0.1") {
			return true, ""
		}
		return egress.Public(a)
	}

	ev, err := checker(onlyFirst).Check(context.Background(), "site.example.com", file, value)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reason: %s", ev.Reason)
	if ev.Valid || !strings.Contains(ev.Reason, "refused to connect to 127.0.0.2: loopback address is not a public validation target") {
		t.Fatalf("reason %q; hops %+v", ev.Reason, ev.HTTP)
	}
	if len(ev.HTTP) != 2 || ev.HTTP[0].Status != http.StatusFound || ev.HTTP[0].RemoteAddr != "127.0.0.1:"+strconv.Itoa(first.port) ||
		!strings.HasPrefix(ev.HTTP[1].URL, "https://") || ev.HTTP[1].RemoteAddr != "" {
		t.Fatalf("hops %+v", ev.HTTP)
	}
	if n, r := target.conns.Load(), target.requests.Load(); n != 0 || r != 0 {
		t.Fatalf("the refused redirect target received %d connections and %d requests", n, r)
	}

	// Control: allowed, the redirect reaches 127.0.0.2 and the check is
	// valid, so the refusal above was the policy's.
	ev, err = checker(nil).Check(context.Background(), "site.example.com", file, value)
	if err != nil || !ev.Valid || len(ev.HTTP) != 2 || ev.HTTP[1].RemoteAddr != "127.0.0.2:"+strconv.Itoa(target.port) {
		t.Fatalf("allowed: %+v %v", ev, err)
	}
	if r := target.requests.Load(); r != 1 {
		t.Errorf("the allowed redirect made %d requests", r)
	}
}

// NewHTTPChecker installs egress.Public unless private targets are
// allowed.
func TestHTTPCheckerEgressDefault(t *testing.T) {
	s := dnstest.New(t)
	for _, allow := range []bool{false, true} {
		c, err := NewHTTPChecker(HTTPConfig{Resolver: newResolver(t, s), Clock: clock.NewFake(t0), AllowPrivateValidationTargets: allow})
		if err != nil {
			t.Fatal(err)
		}
		if (c.egress == nil) != allow {
			t.Errorf("allow=%v: policy installed = %v", allow, c.egress != nil)
		}
		if c.egress != nil {
			if ok, _ := c.egress(netip.MustParseAddr("127.0.0.1")); ok {
				t.Error("the default policy allows loopback")
			}
		}
	}
}
