package caa

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/resolver"
)

const us = "vetca.example"

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

type rec struct {
	name  string
	flag  uint8
	tag   string
	value string
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		section  string // RFC 8659 section the case checks
		records  []rec
		cnames   map[string]string
		servfail []string
		domain   string
		permit   bool
		wantErr  bool
		relevant string // where the relevant RRset was found
		reason   string // substring of the reason
		queried  []string
	}{
		{
			name: "no records anywhere", section: "§3 (empty relevant RRset: no restriction)",
			domain: "www.example.com", permit: true, relevant: "",
			reason:  "no CAA records at www.example.com or any parent up to com",
			queried: []string{"www.example.com", "example.com", "com"},
		},
		{
			name: "iodef only", section: "§4.4, §4.2 (no issue property: no restriction)",
			records: []rec{{"example.com", 0, "iodef", "mailto:security@example.com"}},
			domain:  "example.com", permit: true, relevant: "example.com", reason: "no issue property",
		},
		{
			name: "issue for vetca", section: "§4.2",
			records: []rec{{"example.com", 0, "issue", us}},
			domain:  "example.com", permit: true, relevant: "example.com", reason: `permits "vetca.example"`,
		},
		{
			name: "issuer domain name compared case-insensitively", section: "§4.2",
			records: []rec{{"example.com", 0, "issue", "VetCA.Example"}},
			domain:  "example.com", permit: true,
		},
		{
			name: "empty issue value", section: "§4.2 (\";\" authorizes no CA)",
			records: []rec{{"example.com", 0, "issue", ";"}},
			domain:  "example.com", permit: false, relevant: "example.com", reason: "empty issuer",
		},
		{
			name: "another CA only", section: "§4.2",
			records: []rec{{"example.com", 0, "issue", "other-ca.example"}},
			domain:  "www.example.com", permit: false, relevant: "example.com",
			reason: `CAA issue at example.com permits only "other-ca.example"`,
		},
		{
			name: "another CA and vetca", section: "§4.2 (any matching issue property authorizes)",
			records: []rec{{"example.com", 0, "issue", "other-ca.example"}, {"example.com", 0, "issue", us}},
			domain:  "example.com", permit: true,
		},
		{
			name: "issuewild for a wildcard name", section: "§4.3 (issuewild governs wildcards)",
			records: []rec{{"example.com", 0, "issue", "other-ca.example"}, {"example.com", 0, "issuewild", us}},
			domain:  "*.example.com", permit: true, reason: "CAA issuewild at example.com permits",
		},
		{
			name: "issuewild forbids a wildcard although issue permits", section: "§4.3",
			records: []rec{{"example.com", 0, "issue", us}, {"example.com", 0, "issuewild", ";"}},
			domain:  "*.example.com", permit: false, reason: "issuewild",
		},
		{
			name: "issuewild ignored for a non-wildcard name", section: "§4.3 (issuewild MUST be ignored)",
			records: []rec{{"example.com", 0, "issuewild", "other-ca.example"}},
			domain:  "www.example.com", permit: true, reason: "no issue property",
		},
		{
			name: "issuewild ignored, issue governs non-wildcard", section: "§4.3",
			records: []rec{{"example.com", 0, "issuewild", us}, {"example.com", 0, "issue", "other-ca.example"}},
			domain:  "example.com", permit: false,
		},
		{
			name: "wildcard without issuewild uses issue", section: "§4.3",
			records: []rec{{"example.com", 0, "issue", "other-ca.example"}},
			domain:  "*.example.com", permit: false, reason: "CAA issue at example.com permits only",
		},
		{
			name: "critical unknown tag", section: "§4.1 (critical flag on an unknown tag forbids)",
			records: []rec{{"example.com", 128, "tbs", "unknown"}, {"example.com", 0, "issue", us}},
			domain:  "example.com", permit: false, reason: `critical property "tbs"`,
		},
		{
			name: "critical unknown tag with other flag bits set", section: "§4.1 (bit 0 is the critical flag)",
			records: []rec{{"example.com", 129, "future", "x"}, {"example.com", 0, "issue", us}},
			domain:  "example.com", permit: false,
		},
		{
			name: "non-critical unknown tag", section: "§4.1 (unknown non-critical tags are ignored)",
			records: []rec{{"example.com", 0, "tbs", "unknown"}, {"example.com", 0, "issue", us}},
			domain:  "example.com", permit: true,
		},
		{
			name: "non-critical unknown tag alone", section: "§4.1, §4.2 (no issue property)",
			records: []rec{{"example.com", 0, "tbs", "unknown"}},
			domain:  "example.com", permit: true,
		},
		{
			name: "critical iodef is known", section: "§4.1, §4.4 (critical flag only matters for unknown tags)",
			records: []rec{{"example.com", 128, "iodef", "mailto:a@example.com"}, {"example.com", 0, "issue", us}},
			domain:  "example.com", permit: true,
		},
		{
			name: "upper-case tags", section: "§4.1 (tags match case-insensitively)",
			records: []rec{{"example.com", 0, "ISSUE", "other-ca.example"}},
			domain:  "example.com", permit: false,
		},
		{
			name: "mixed-case issuewild tag", section: "§4.1, §4.3",
			records: []rec{{"example.com", 0, "IssueWild", us}, {"example.com", 0, "issue", ";"}},
			domain:  "*.example.com", permit: true,
		},
		{
			name: "issuer with parameters", section: "§4.2 (parameters after \";\")",
			records: []rec{{"example.com", 0, "issue", "vetca.example; account=230123; policy=ev"}},
			domain:  "example.com", permit: true,
		},
		{
			name: "other issuer with parameters", section: "§4.2",
			records: []rec{{"example.com", 0, "issue", "other-ca.example; account=1"}},
			domain:  "example.com", permit: false,
		},
		{
			name: "malformed issue value", section: "§4.2 (a value that does not parse authorizes no CA)",
			records: []rec{{"example.com", 0, "issue", "vetca.example; account"}},
			domain:  "example.com", permit: false, reason: "malformed",
		},
		{
			name: "issuer name is not a prefix match", section: "§4.2 (whole issuer-domain-name compared)",
			records: []rec{{"example.com", 0, "issue", "vetca.example.evil"}},
			domain:  "example.com", permit: false,
		},
		{
			name: "tree climbing to the closest RRset", section: "§3",
			records: []rec{{"example.com", 0, "issue", "other-ca.example"}, {"b.example.com", 0, "issue", us}},
			domain:  "a.b.example.com", permit: true, relevant: "b.example.com",
			queried: []string{"a.b.example.com", "b.example.com"},
		},
		{
			name: "tree climbing stops at the first non-empty RRset", section: "§3",
			records: []rec{{"example.com", 0, "issue", us}, {"b.example.com", 0, "issue", "other-ca.example"}},
			domain:  "a.b.example.com", permit: false, relevant: "b.example.com",
		},
		{
			name: "climbing reaches the TLD", section: "§3 (climb up to the TLD, not the root)",
			records: []rec{{"com", 0, "issue", "other-ca.example"}},
			domain:  "www.example.com", permit: false, relevant: "com",
			queried: []string{"www.example.com", "example.com", "com"},
		},
		{
			name: "CNAME target's RRset is used", section: "§3 (CAA(X) follows CNAME)",
			records: []rec{{"cdn.provider.net", 0, "issue", "other-ca.example"}, {"example.com", 0, "issue", us}},
			cnames:  map[string]string{"www.example.com": "cdn.provider.net"},
			domain:  "www.example.com", permit: false, relevant: "www.example.com",
		},
		{
			name: "climbing through a CNAME goes to the alias's parent, not the target's", section: "§3",
			records: []rec{{"provider.net", 0, "issue", "other-ca.example"}, {"example.com", 0, "issue", us}},
			cnames:  map[string]string{"www.example.com": "cdn.provider.net"},
			domain:  "www.example.com", permit: true, relevant: "example.com",
			// cdn.provider.net is asked because the answer for www held
			// only the CNAME; provider.net is never asked.
			queried: []string{"www.example.com", "cdn.provider.net", "example.com"},
		},
		{
			name: "SERVFAIL is an error and forbids", section: "§3-4 (lookup failure is not permission); BR §3.2.2.8",
			records:  []rec{{"example.com", 0, "issue", us}},
			servfail: []string{"www.example.com"},
			domain:   "www.example.com", permit: false, wantErr: true, relevant: "www.example.com", reason: "failed",
		},
		{
			name: "SERVFAIL at a parent during the climb", section: "§3",
			servfail: []string{"example.com"},
			domain:   "www.example.com", permit: false, wantErr: true,
		},
		{
			// Every name of the climb is queried at once; a failure above the
			// relevant RRset must not change the decision, and the evidence
			// keeps only what the decision read.
			name: "SERVFAIL above the relevant RRset is not read", section: "§3 (the climb stops at the closest non-empty RRset)",
			records:  []rec{{"example.com", 0, "issue", us}},
			servfail: []string{"com"},
			domain:   "www.example.com", permit: true, relevant: "example.com",
			queried: []string{"www.example.com", "example.com"},
		},
		{
			name: "SERVFAIL at a CNAME target", section: "§3",
			records:  []rec{{"example.com", 0, "issue", us}},
			cnames:   map[string]string{"www.example.com": "cdn.provider.net"},
			servfail: []string{"cdn.provider.net"},
			domain:   "www.example.com", permit: false, wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.New(t)
			for _, r := range tc.records {
				s.AddCAA(r.name, r.flag, r.tag, r.value)
			}
			for from, to := range tc.cnames {
				s.AddCNAME(from, to)
			}
			for _, n := range tc.servfail {
				s.SetRcode(n, dns.RcodeServerFailure)
			}
			c := newChecker(t, s)
			res, err := c.Check(context.Background(), tc.domain)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v; wantErr %v [%s]", err, tc.wantErr, tc.section)
			}
			if res.Permitted != tc.permit {
				t.Fatalf("Permitted = %v; want %v [RFC 8659 %s]; reason %q", res.Permitted, tc.permit, tc.section, res.Reason)
			}
			if tc.relevant != "" && res.RelevantName != tc.relevant {
				t.Errorf("RelevantName = %q; want %q", res.RelevantName, tc.relevant)
			}
			if tc.reason != "" && !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("Reason %q does not contain %q", res.Reason, tc.reason)
			}
			if tc.queried != nil {
				var got []string
				for _, q := range res.Queries {
					got = append(got, q.Name)
				}
				if strings.Join(got, ",") != strings.Join(tc.queried, ",") {
					t.Errorf("queried %v; want %v", got, tc.queried)
				}
			}
			if len(res.Queries) == 0 {
				t.Error("no query evidence")
			}
			for _, q := range res.Queries {
				if q.Resolver != s.Addr() || q.Type != "CAA" || !q.Time.Equal(t0) {
					t.Errorf("evidence %+v", q)
				}
			}
		})
	}
}

func newChecker(t *testing.T, s *dnstest.Server) *Checker {
	t.Helper()
	clk := clock.NewFake(t0)
	// The server answers every query: the limit only bounds a broken run.
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: 10 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChecker(r, []string{"VETCA.example", "second-id.example"}, clk)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSecondIdentityAndTimeout(t *testing.T) {
	s := dnstest.New(t)
	s.AddCAA("example.org", 0, "issue", "second-id.example")
	s.SetDrop("slow.example.org", true)
	clk := clock.NewFake(t0)
	checker := func(timeout time.Duration) *Checker {
		t.Helper()
		r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: timeout, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewChecker(r, []string{us, "second-id.example"}, clk)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A generous limit where the server answers; a short one only for the
	// name it drops, where nothing has to beat it.
	res, err := checker(10*time.Second).Check(context.Background(), "example.org")
	if err != nil || !res.Permitted {
		t.Fatalf("second identity not honoured: %+v %v", res, err)
	}
	res, err = checker(100*time.Millisecond).Check(context.Background(), "slow.example.org")
	if !errors.Is(err, resolver.ErrTimeout) || res.Permitted {
		t.Fatalf("timeout: permitted %v err %v; want denied with ErrTimeout", res.Permitted, err)
	}
}

func TestCheckRefusesBadDomain(t *testing.T) {
	s := dnstest.New(t)
	c := newChecker(t, s)
	for _, d := range []string{"192.0.2.1", "*.com", "host.local", ""} {
		res, err := c.Check(context.Background(), d)
		if err == nil {
			t.Errorf("%q accepted", d)
		}
		if res.Permitted {
			t.Errorf("%q permitted", d)
		}
		if ae, ok := apperr.As(err); !ok || ae.Field != "domain" {
			t.Errorf("%q: err %v not naming domain", d, err)
		}
	}
	if len(s.Queries()) != 0 {
		t.Error("invalid domains must not be queried")
	}
}

func TestNewCheckerValidates(t *testing.T) {
	s := dnstest.New(t)
	r, _ := resolver.New(resolver.Config{Server: s.Addr()})
	clk := clock.NewFake(t0)
	for _, ids := range [][]string{{""}, {"bad name"}, {"-x.example"}} {
		if _, err := NewChecker(r, ids, clk); err == nil {
			t.Errorf("identities %q accepted", ids)
		}
	}
	if _, err := NewChecker(r, []string{us}, nil); err == nil {
		t.Error("nil clock accepted")
	}
}

func TestParseIssueValue(t *testing.T) {
	tests := []struct {
		in     string
		domain string
		params int
		ok     bool
	}{
		{"ca.example", "ca.example", 0, true},
		{"  CA.Example  ", "ca.example", 0, true},
		{";", "", 0, true},
		{"", "", 0, true},
		{" ; ", "", 0, true},
		{"ca.example;", "ca.example", 0, true},
		{"ca.example; a=b", "ca.example", 1, true},
		{"ca.example;a=b;c-d = e:f/g", "ca.example", 2, true},
		{"ca.example; a=", "ca.example", 1, true},
		{"; a=b", "", 1, true},
		{"ca.example; a", "", 0, false},
		{"ca.example; a=b;", "", 0, false},
		{"ca.example; a=b c", "", 0, false},
		{"ca..example", "", 0, false},
		{"-ca.example", "", 0, false},
		{"ca_x.example", "", 0, false},
		{"ca.example; -a=b", "", 0, false},
	}
	for _, tc := range tests {
		v, err := ParseIssueValue(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseIssueValue(%q) err = %v; want ok=%v (RFC 8659 §4.2 grammar)", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (v.IssuerDomainName != tc.domain || len(v.Parameters) != tc.params) {
			t.Errorf("ParseIssueValue(%q) = %+v", tc.in, v)
		}
	}
}

// RFC 8659 §4.1: tags compare case-insensitively in ASCII only. "İssue"
// (U+0130, which strings.ToLower turns into "i") is an unknown tag, so
// with the critical flag it forbids issuance; "ISSUE" is issue.
func TestEvaluateTagsCompareInASCII(t *testing.T) {
	c := &Checker{identities: []string{us}}
	for _, tc := range []struct {
		tag    string
		flag   uint8
		permit bool
	}{
		{"ISSUE", 0, true},
		{"İssue", FlagCritical, false},
		{"İssue", 0, true}, // unknown, not critical, no issue property: no restriction
		{"ıssue", FlagCritical, false},
		{"iſſue", FlagCritical, false},
	} {
		recs := []resolver.CAA{{Flag: tc.flag, Tag: tc.tag, Value: us}, {Tag: "iodef", Value: "mailto:x@example.com"}}
		if p, _, reason := c.evaluate("example.com", recs, false); p != tc.permit {
			t.Errorf("%d %s %q: permitted %v (%s), want %v", tc.flag, tc.tag, us, p, reason, tc.permit)
		}
	}
}

// FuzzParseIssueValue: CAA values come from the outside world. Whatever
// parses must satisfy the RFC 8659 §4.2 grammar's invariants and
// round-trip: its canonical form parses to the same value.
func FuzzParseIssueValue(f *testing.F) {
	for _, s := range []string{"ca.example", ";", "ca.example; a=b; c=d", " x ; y = z ", "ca..x", "a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := ParseIssueValue(in)
		if err != nil {
			return
		}
		if v.IssuerDomainName != "" && (!isIssuerDomainName(v.IssuerDomainName) || v.IssuerDomainName != strings.ToLower(v.IssuerDomainName)) {
			t.Fatalf("%q: bad issuer %q", in, v.IssuerDomainName)
		}
		for _, p := range v.Parameters {
			if !isLabel(p.Tag) || strings.ContainsAny(p.Value, "; \t") {
				t.Fatalf("%q: bad parameter %+v", in, p)
			}
		}
		canon := v.IssuerDomainName
		for _, p := range v.Parameters {
			canon += "; " + p.Tag + "=" + p.Value
		}
		back, err := ParseIssueValue(canon)
		if err != nil || back.IssuerDomainName != v.IssuerDomainName || !slices.Equal(back.Parameters, v.Parameters) {
			t.Fatalf("%q parsed to %+v, whose canonical form %q parses to %+v, %v", in, v, canon, back, err)
		}
	})
}

// FuzzEvaluate: the relevant RRset is outside input. Whatever the records,
// RFC 8659 §4 holds: an unknown critical property forbids issuance; a
// permission is granted only by a governing property whose value parses
// and names vetca; tags compare case-insensitively; issuewild never
// matters for a name that is not a wildcard.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint8(0), "issue", us, uint8(0), "iodef", "mailto:security@example.com", false)
	f.Add(uint8(0), "issue", "other.example", uint8(0), "issuewild", us, true)
	f.Add(uint8(128), "tbs", "unknown", uint8(0), "issue", us, false)
	f.Add(uint8(0), "ISSUE", "VetCA.Example; accounturi=https://x", uint8(0), "issue", ";", false)
	f.Add(uint8(0), "issue", "vetca.example;", uint8(0), "issuewild", "", true)
	f.Fuzz(func(t *testing.T, flag1 uint8, tag1, value1 string, flag2 uint8, tag2, value2 string, wildcard bool) {
		c := &Checker{identities: []string{us, "ca2.example"}}
		recs := []resolver.CAA{{Flag: flag1, Tag: tag1, Value: value1}, {Flag: flag2, Tag: tag2, Value: value2}}
		permitted, prop, reason := c.evaluate("example.com", recs, wildcard)
		if reason == "" {
			t.Fatalf("%+v: no reason", recs)
		}
		critical := false
		for _, r := range recs {
			if !asciiEqualFold(r.Tag, TagIssue) && !asciiEqualFold(r.Tag, TagIssueWild) && !asciiEqualFold(r.Tag, TagIodef) {
				critical = critical || r.Flag&FlagCritical != 0
			}
		}
		if critical && permitted {
			t.Fatalf("%+v: permitted despite an unknown critical property", recs)
		}
		if permitted && prop != "" {
			named := false
			for _, r := range recs {
				v, err := ParseIssueValue(r.Value)
				named = named || asciiEqualFold(r.Tag, prop) && err == nil && slices.Contains(c.identities, v.IssuerDomainName)
			}
			if !named {
				t.Fatalf("%+v: permitted by %s without a value naming vetca", recs, prop)
			}
		}
		if permitted && prop == "" {
			for _, r := range recs {
				if asciiEqualFold(r.Tag, TagIssue) && !(wildcard && hasTag(recs, TagIssueWild)) || asciiEqualFold(r.Tag, TagIssueWild) && wildcard {
					t.Fatalf("%+v: permitted without a governing property although %s is present", recs, r.Tag)
				}
			}
		}
		upper := []resolver.CAA{recs[0], recs[1]}
		for i := range upper {
			upper[i].Tag = strings.ToUpper(upper[i].Tag)
		}
		if p, _, _ := c.evaluate("example.com", upper, wildcard); p != permitted && isASCII(tag1+tag2) {
			t.Fatalf("%+v: tag case changed the decision", recs)
		}
		if !wildcard {
			var noWild []resolver.CAA
			for _, r := range recs {
				if !asciiEqualFold(r.Tag, TagIssueWild) {
					noWild = append(noWild, r)
				}
			}
			if p, _, _ := c.evaluate("example.com", noWild, false); p != permitted {
				t.Fatalf("%+v: issuewild changed the decision for a non-wildcard name", recs)
			}
		}
	})
}

func hasTag(recs []resolver.CAA, tag string) bool {
	return slices.ContainsFunc(recs, func(r resolver.CAA) bool { return asciiEqualFold(r.Tag, tag) })
}

// asciiEqualFold compares tags as RFC 8659 §4.1 does: case-insensitively in
// ASCII only.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// BR §3.2.2.8: issue within the CAA TTL or 8 hours, whichever is greater.
func TestIssueBefore(t *testing.T) {
	s := dnstest.New(t)
	s.AddCAA("short.example.com", 0, "issue", us) // TTL 300 s
	s.SetTTL(86400)
	s.AddCAA("long.example.com", 0, "issue", us)
	s.AddCAA("long.example.com", 0, "iodef", "mailto:x@example.com")
	s.AddCAA("denied.example.com", 0, "issue", ";")
	c := newChecker(t, s)
	for name, want := range map[string]time.Time{
		"short.example.com":  t0.Add(8 * time.Hour),
		"long.example.com":   t0.Add(24 * time.Hour),
		"none.example.org":   t0.Add(8 * time.Hour),
		"denied.example.com": {},
	} {
		res, err := c.Check(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if !res.IssueBefore.Equal(want) {
			t.Errorf("%s: IssueBefore %v; want %v", name, res.IssueBefore, want)
		}
	}
}

// With no configured identity vetca is named by no issue property (RFC 8659
// §4.2): it may issue only where CAA sets no restriction.
func TestNoIdentity(t *testing.T) {
	s := dnstest.New(t)
	r, _ := resolver.New(resolver.Config{Server: s.Addr()})
	c, err := NewChecker(r, nil, clock.NewFake(t0))
	if err != nil {
		t.Fatal(err)
	}
	s.AddCAA("restricted.example.com", 0, "issue", "other-ca.example")
	s.AddCAA("iodef.example.com", 0, "iodef", "mailto:sec@example.com")
	for name, want := range map[string]bool{"open.example.com": true, "iodef.example.com": true, "restricted.example.com": false} {
		res, err := c.Check(context.Background(), name)
		if err != nil || res.Permitted != want {
			t.Errorf("%s: permitted %v (%v), want %v", name, res.Permitted, err, want)
		}
	}
}
