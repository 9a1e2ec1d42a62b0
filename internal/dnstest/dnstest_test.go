package dnstest

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, net, name string, qtype uint16, do bool) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if do {
		m.SetEdns0(1232, true)
	}
	r, _, err := c.Exchange(m, s.Addr())
	return r, err
}

func TestAnswersOverUDPAndTCP(t *testing.T) {
	s := New(t)
	s.AddTXT("_x.example.com", "hello", "world")
	for _, tr := range []string{"udp", "tcp"} {
		r, err := ask(t, s, tr, "_X.Example.com", dns.TypeTXT, true)
		if err != nil {
			t.Fatalf("%s: %v", tr, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: rcode %d answers %v", tr, r.Rcode, r.Answer)
		}
		if got := strings.Join(r.Answer[0].(*dns.TXT).Txt, ""); got != "helloworld" {
			t.Fatalf("%s: got %q", tr, got)
		}
		if r.IsEdns0() == nil || !r.IsEdns0().Do() {
			t.Fatalf("%s: EDNS0 DO not echoed", tr)
		}
	}
	qs := s.QueriesFor("_x.example.com.")
	if len(qs) != 2 || qs[0].Transport != UDP || qs[1].Transport != TCP || !qs[0].DO || qs[0].Type != "TXT" {
		t.Fatalf("query log = %+v", qs)
	}
}

// RFC 2308 §2.1 (NXDOMAIN) versus §2.2 (NODATA), including an empty
// non-terminal, which exists.
func TestNXDOMAINAndNODATA(t *testing.T) {
	s := New(t)
	s.AddA("a.b.example.com", "192.0.2.1")
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		n     int
	}{
		{"a.b.example.com", dns.TypeA, dns.RcodeSuccess, 1},
		{"a.b.example.com", dns.TypeTXT, dns.RcodeSuccess, 0}, // NODATA
		{"b.example.com", dns.TypeA, dns.RcodeSuccess, 0},     // empty non-terminal
		{"c.example.com", dns.TypeA, dns.RcodeNameError, 0},   // NXDOMAIN
	}
	for _, tc := range tests {
		r, err := ask(t, s, "udp", tc.name, tc.qtype, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != tc.rcode || len(r.Answer) != tc.n {
			t.Errorf("%s %s: rcode %s answers %d; want %s %d", tc.name, dns.TypeToString[tc.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tc.rcode], tc.n)
		}
	}
}

// RFC 1034 §4.3.2: the CNAME and then the target's records.
func TestCNAME(t *testing.T) {
	s := New(t)
	s.AddCNAME("www.example.com", "cdn.example.net")
	s.AddCNAME("cdn.example.net", "edge.example.org")
	s.AddCAA("edge.example.org", 0, "issue", "ca.example")
	r, err := ask(t, s, "udp", "www.example.com", dns.TypeCAA, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 3 || r.Answer[2].Header().Rrtype != dns.TypeCAA {
		t.Fatalf("answer = %v", r.Answer)
	}
	s.SetChaseCNAME(false)
	r, _ = ask(t, s, "udp", "www.example.com", dns.TypeCAA, false)
	if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Fatalf("without chasing, answer = %v", r.Answer)
	}
	// A CNAME to a name outside the zone: the CNAME alone.
	s.SetChaseCNAME(true)
	s.AddCNAME("out.example.com", "elsewhere.example.net")
	r, _ = ask(t, s, "udp", "out.example.com", dns.TypeTXT, false)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("out-of-zone CNAME: rcode %d answer %v", r.Rcode, r.Answer)
	}
}

func TestTruncationRcodeDropAndRemove(t *testing.T) {
	s := New(t)
	s.AddTXT("t.example.com", "v")
	s.SetTruncate(true)
	r, err := ask(t, s, "udp", "t.example.com", dns.TypeTXT, false)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("UDP answer not truncated: %v", r)
	}
	r, err = ask(t, s, "tcp", "t.example.com", dns.TypeTXT, false)
	if err != nil || r.Truncated || len(r.Answer) != 1 {
		t.Fatalf("TCP answer: %v %v", r, err)
	}
	s.SetTruncate(false)

	s.SetRcode("t.example.com", dns.RcodeServerFailure)
	r, _ = ask(t, s, "udp", "t.example.com", dns.TypeTXT, false)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %d", r.Rcode)
	}
	s.ClearRcode("t.example.com")

	s.SetDrop("t.example.com", true)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("t.example.com.", dns.TypeTXT)
	if _, _, err := c.Exchange(m, s.Addr()); err == nil {
		t.Fatal("dropped query was answered")
	}
	s.SetDrop("t.example.com", false)

	s.Remove("t.example.com", dns.TypeTXT)
	r, _ = ask(t, s, "udp", "t.example.com", dns.TypeTXT, false)
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("after Remove: rcode %d", r.Rcode)
	}
}

// An answer larger than the client's UDP size comes back truncated even
// without SetTruncate (RFC 1035 §4.2.1).
func TestLargeAnswerTruncatedOnUDP(t *testing.T) {
	s := New(t)
	for i := range 40 {
		s.AddTXT("big.example.com", strings.Repeat(string(rune('a'+i%26)), 100))
	}
	r, err := ask(t, s, "udp", "big.example.com", dns.TypeTXT, false)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated {
		t.Fatalf("4000-byte answer over 512-byte UDP not truncated (%d answers)", len(r.Answer))
	}
}
