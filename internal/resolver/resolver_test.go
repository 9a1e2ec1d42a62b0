package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/testctx"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// newResolver asks s, which answers every query that is not dropped: the
// timeout only bounds a broken run, so a busy machine cannot make it pass.
func newResolver(t *testing.T, s *dnstest.Server, retries int) (*Resolver, *clock.Fake) {
	t.Helper()
	return newResolverTimeout(t, s, retries, 10*time.Second)
}

// newResolverTimeout is newResolver with a given timeout, for queries the
// server drops (nothing has to beat that timeout).
func newResolverTimeout(t *testing.T, s *dnstest.Server, retries int, timeout time.Duration) (*Resolver, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	r, err := New(Config{Server: s.Addr(), Timeout: timeout, Retries: retries, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func TestLookupTXTOverUDPWithEvidence(t *testing.T) {
	s := dnstest.New(t)
	s.AddTXT("_vetca-challenge.example.com", "abc", "def")
	s.SetAuthenticatedData(true)
	r, _ := newResolver(t, s, 0)
	txts, ev, err := r.LookupTXT(context.Background(), "_vetca-challenge.Example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if len(txts) != 1 || txts[0].Value() != "abcdef" || len(txts[0].Strings) != 2 {
		t.Fatalf("txts = %+v", txts)
	}
	if len(ev) != 1 {
		t.Fatalf("evidence = %+v", ev)
	}
	e := ev[0]
	if e.Resolver != s.Addr() || e.Transport != UDP || e.Rcode != "NOERROR" || !e.AD ||
		e.Name != "_vetca-challenge.example.com" || e.Type != "TXT" || !e.Time.Equal(t0) ||
		len(e.Answers) != 1 || !strings.Contains(e.Answers[0], `"abc" "def"`) {
		t.Fatalf("evidence = %+v", e)
	}
	qs := s.Queries()
	if len(qs) != 1 || !qs[0].EDNS || !qs[0].DO || qs[0].Transport != dnstest.UDP {
		t.Fatalf("queries = %+v; want one UDP query with EDNS0 DO (RFC 3225)", qs)
	}
}

// RFC 7766 §5: a truncated UDP answer is retried over TCP.
func TestTruncatedRetriesOverTCP(t *testing.T) {
	s := dnstest.New(t)
	s.AddCAA("example.com", 0, "issue", "ca.example")
	s.SetTruncate(true)
	r, _ := newResolver(t, s, 0)
	caas, ev, err := r.LookupCAA(context.Background(), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(caas) != 1 || caas[0].Tag != "issue" || caas[0].Value != "ca.example" {
		t.Fatalf("caas = %+v", caas)
	}
	if ev[0].Transport != TCP || !ev[0].Truncated || ev[0].Attempts != 2 {
		t.Fatalf("evidence = %+v", ev[0])
	}
	qs := s.Queries()
	if len(qs) != 2 || qs[0].Transport != dnstest.UDP || qs[1].Transport != dnstest.TCP {
		t.Fatalf("queries = %+v", qs)
	}
}

func TestErrorsSayWhatFailed(t *testing.T) {
	s := dnstest.New(t)
	s.SetRcode("servfail.example.com", dns.RcodeServerFailure)
	s.SetRcode("refused.example.com", dns.RcodeRefused)
	s.SetRcode("formerr.example.com", dns.RcodeFormatError)
	s.SetDrop("timeout.example.com", true)
	r, _ := newResolver(t, s, 1)
	// Only the dropped name waits for the timeout, so it may be short.
	rDrop, _ := newResolverTimeout(t, s, 1, 300*time.Millisecond)
	tests := []struct {
		name string
		want error
		text string
	}{
		// RFC 8659 §3-4 / RFC 4035 §5.5: a bogus answer arrives as SERVFAIL.
		{"servfail.example.com", ErrServFail, "SERVFAIL"},
		{"refused.example.com", ErrRefused, "REFUSED"},
		{"formerr.example.com", ErrRcode, "FORMERR"},
		{"timeout.example.com", ErrTimeout, "timeout"},
	}
	for _, tc := range tests {
		lr := r
		if tc.want == ErrTimeout {
			lr = rDrop
		}
		recs, ev, err := lr.LookupCAA(context.Background(), tc.name)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v; want %v", tc.name, err, tc.want)
			continue
		}
		var le *LookupError
		if !errors.As(err, &le) || le.Name != tc.name || le.Type != "CAA" {
			t.Errorf("%s: not a LookupError naming the query: %#v", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: message %q should say %q", tc.name, err, tc.text)
		}
		if recs != nil || len(ev) != 1 || ev[0].Error == "" {
			t.Errorf("%s: records %v, evidence %+v", tc.name, recs, ev)
		}
	}
	// Retries: one original attempt plus one retry for the dropped name.
	if n := queriesSeen(s, "timeout.example.com", 2); n != 2 {
		t.Errorf("timeout.example.com queried %d times; want 2 (1 retry)", n)
	}
	if n := len(s.QueriesFor("servfail.example.com")); n != 1 {
		t.Errorf("SERVFAIL should not be retried, queried %d times", n)
	}
}

// queriesSeen returns how many queries for name s has logged, once it has
// logged at least want (or after a generous wait): a query the resolver
// sent before returning may still be on its way to a busy server.
func queriesSeen(s *dnstest.Server, name string, want int) int {
	deadline := time.Now().Add(30 * time.Second)
	for len(s.QueriesFor(name)) < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return len(s.QueriesFor(name))
}

// RFC 2308: NXDOMAIN and NODATA are empty answers, not failures.
func TestNXDOMAINAndNODATAAreEmpty(t *testing.T) {
	s := dnstest.New(t)
	s.AddA("host.example.com", "192.0.2.7")
	r, _ := newResolver(t, s, 0)
	for name, rcode := range map[string]string{"missing.example.com": "NXDOMAIN", "host.example.com": "NOERROR"} {
		recs, ev, err := r.LookupTXT(context.Background(), name)
		if err != nil || len(recs) != 0 || ev[0].Rcode != rcode {
			t.Errorf("%s: recs %v ev %+v err %v; want empty %s", name, recs, ev, err, rcode)
		}
	}
}

func TestFollowsCNAMEChain(t *testing.T) {
	for _, chase := range []bool{true, false} {
		t.Run(fmt.Sprintf("server-chases=%v", chase), func(t *testing.T) {
			s := dnstest.New(t)
			s.SetChaseCNAME(chase)
			s.AddCNAME("www.example.com", "a.example.net")
			s.AddCNAME("a.example.net", "b.example.org")
			s.AddTXT("b.example.org", "target")
			r, _ := newResolver(t, s, 0)
			txts, ev, err := r.LookupTXT(context.Background(), "www.example.com")
			if err != nil || len(txts) != 1 || txts[0].Value() != "target" {
				t.Fatalf("txts %v err %v", txts, err)
			}
			wantQueries := 1
			if !chase {
				wantQueries = 3 // the resolver had to ask for each target
			}
			if len(ev) != wantQueries {
				t.Fatalf("%d queries; want %d: %+v", len(ev), wantQueries, ev)
			}
			if ev[len(ev)-1].Name != map[bool]string{true: "www.example.com", false: "b.example.org"}[chase] {
				t.Fatalf("last queried name %q", ev[len(ev)-1].Name)
			}
		})
	}
}

func TestCNAMELimits(t *testing.T) {
	s := dnstest.New(t)
	s.SetChaseCNAME(false)
	// A chain of MaxCNAMEHops+1 CNAMEs.
	for i := 0; i <= MaxCNAMEHops; i++ {
		s.AddCNAME(fmt.Sprintf("c%d.example.com", i), fmt.Sprintf("c%d.example.com", i+1))
	}
	s.AddTXT(fmt.Sprintf("c%d.example.com", MaxCNAMEHops+1), "end")
	s.AddCNAME("loop1.example.com", "loop2.example.com")
	s.AddCNAME("loop2.example.com", "loop1.example.com")
	r, _ := newResolver(t, s, 0)
	if _, _, err := r.LookupTXT(context.Background(), "c0.example.com"); !errors.Is(err, ErrCNAME) {
		t.Errorf("chain of %d: err = %v; want ErrCNAME", MaxCNAMEHops+1, err)
	}
	if txts, _, err := r.LookupTXT(context.Background(), "c1.example.com"); err != nil || len(txts) != 1 {
		t.Errorf("chain of %d: %v %v; want success", MaxCNAMEHops, txts, err)
	}
	if _, _, err := r.LookupTXT(context.Background(), "loop1.example.com"); !errors.Is(err, ErrCNAME) {
		t.Errorf("loop: err = %v; want ErrCNAME", err)
	}
}

func TestLookupIPAndNoCache(t *testing.T) {
	s := dnstest.New(t)
	s.AddA("web.example.com", "127.0.0.1")
	s.AddAAAA("web.example.com", "::1")
	r, clk := newResolver(t, s, 0)
	ips, ev, err := r.LookupIP(context.Background(), "web.example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	if len(ips) != 2 || ips[0] != want[0] || ips[1] != want[1] || len(ev) != 2 {
		t.Fatalf("ips %v ev %d", ips, len(ev))
	}
	// No cache: a changed zone is seen on the very next lookup.
	s.RemoveName("web.example.com")
	s.AddA("web.example.com", "127.0.0.2")
	clk.Advance(time.Second)
	ips, ev, err = r.LookupIP(context.Background(), "web.example.com")
	if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("after change: %v %v", ips, err)
	}
	if !ev[0].Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("evidence time %v not from the injected clock", ev[0].Time)
	}
	if n := len(s.QueriesFor("web.example.com")); n != 4 {
		t.Fatalf("%d queries; want 4 (nothing cached)", n)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{}, {Server: "no-port"}, {Server: "127.0.0.1:53", Retries: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestContextCancelStops(t *testing.T) {
	s := dnstest.New(t)
	s.SetDrop("slow.example.com", true)
	r, err := New(Config{Server: s.Addr(), Timeout: 5 * time.Second, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	// The context's deadline passes once the first query has reached the
	// server (testctx), well before the resolver's own 5 s timeout.
	ctx, expire := testctx.Expiring(context.Background())
	defer expire()
	arrived := testctx.Until(func() bool { return len(s.QueriesFor("slow.example.com")) > 0 }, 30*time.Second, expire)
	_, _, err = r.LookupTXT(ctx, "slow.example.com")
	if !<-arrived {
		t.Fatal("the query never reached the server")
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v; want ErrTimeout", err)
	}
	if n := queriesSeen(s, "slow.example.com", 1); n != 1 {
		t.Fatalf("%d queries after the context ended; want 1", n)
	}
}

// A cancelled context (not only a deadline) ends an exchange in flight:
// perspectives rely on this when the primary gives up on them.
func TestCancelEndsExchange(t *testing.T) {
	s := dnstest.New(t)
	s.SetDrop("slow.example.com", true)
	r, err := New(Config{Server: s.Addr(), Timeout: 30 * time.Second, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the query is at the server, so the exchange is in flight.
	go func() {
		queriesSeen(s, "slow.example.com", 1)
		cancel()
	}()
	_, ev, err := r.LookupTXT(ctx, "slow.example.com")
	if !errors.Is(err, context.Canceled) || len(ev) != 1 || ev[0].Attempts != 1 {
		t.Fatalf("err = %v, evidence %+v; want context.Canceled after one attempt", err, ev)
	}
}
