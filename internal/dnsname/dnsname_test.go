package dnsname

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

func TestNormalize(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	long64 := strings.Repeat("a", 64)
	// 4 labels of 63 + "com" = 4*64 + 3 = 259 > 253.
	tooLongName := strings.Join([]string{long63, long63, long63, long63, "com"}, ".")
	// 3*64 + 57 + 4 (".com") = 253 exactly.
	maxName := strings.Join([]string{long63, long63, long63, strings.Repeat("b", 57), "com"}, ".")

	tests := []struct {
		name     string
		in       string
		wildcard bool
		want     string // "" means an error is expected
		code     apperr.Code
		why      string // the rule, with its source
	}{
		// Accepted names.
		{"plain", "example.com", false, "example.com", "", "RFC 1034 §3.5 LDH"},
		{"upper case lowered", "WWW.Example.COM", false, "www.example.com", "", "DNS names compare case-insensitively (RFC 4343)"},
		{"one trailing dot stripped", "example.com.", false, "example.com", "", "absolute form accepted"},
		{"digits and hyphens", "a-1.b2-c.example.org", false, "a-1.b2-c.example.org", "", "RFC 1123 §2.1 allows leading digits"},
		{"R-LDH label that is not xn-- refused", "r1---sn-abc.example.com", false, "", CodeInvalid, "BR §7.1.4.2.1: only P-Labels and Non-Reserved LDH Labels (RFC 5890 §2.3.1)"},
		{"R-LDH label at the registrable level refused", "ab--cd.com", false, "", CodeInvalid, "BR §7.1.4.2.1: \"--\" in the third and fourth positions is reserved"},
		{"R-LDH label under a wildcard refused", "*.a.zz--top.com", true, "", CodeInvalid, "BR §7.1.4.2.1 applies to the FQDN portion of a wildcard"},
		{"hyphens elsewhere are LDH", "a--b.example.com", false, "a--b.example.com", "", "positions 2 and 3 are not reserved (RFC 5890 §2.3.1)"},
		{"valid A-label", "xn--bcher-kva.example", false, "", CodeReserved, ".example is reserved even with a valid A-label (RFC 6761 §6.5)"},
		{"valid A-label under com", "xn--bcher-kva.com", false, "xn--bcher-kva.com", "", "IDNA2008 A-label round-trips (RFC 5891)"},
		{"upper-case A-label lowered", "XN--BCHER-KVA.com", false, "xn--bcher-kva.com", "", "A-labels compare case-insensitively"},
		{"ccTLD second level", "shop.example.co.uk", false, "shop.example.co.uk", "", "registrable domain under co.uk"},
		{"wildcard allowed", "*.example.com", true, "*.example.com", "", "BR §1.6.1 Wildcard Domain Name"},
		{"wildcard under co.uk registrable", "*.example.co.uk", true, "*.example.co.uk", "", "BR §3.2.2.6"},
		{"max length 253", maxName, false, maxName, "", "RFC 1035 §2.3.4"},
		{"label of 63", long63 + ".com", false, long63 + ".com", "", "RFC 1035 §2.3.4"},
		{"private PSL section ignored", "myapp.github.io", false, "myapp.github.io", "", "BR §3.2.2.6: ICANN section only"},

		// IP addresses.
		{"ipv4", "192.0.2.1", false, "", CodeIPAddress, "BR §3.2.2.5 IP validation not built"},
		{"ipv4 trailing dot", "192.0.2.1.", false, "", CodeIPAddress, "still an IP"},
		{"ipv6", "2001:db8::1", false, "", CodeIPAddress, "IPv6 literal"},
		{"ipv6 bracketed", "[2001:db8::1]", false, "", CodeIPAddress, "bracketed IPv6 (RFC 3986 §3.2.2)"},
		{"ipv4-mapped ipv6", "::ffff:192.0.2.1", false, "", CodeIPAddress, "IPv6 literal"},

		// Internal and reserved names.
		{"single label", "intranet", false, "", CodeReserved, "private-use name"},
		{"single label unknown", "server1", false, "", CodeInternal, "BR §1.6.1 Internal Name"},
		{"unknown TLD", "host.notarealtld", false, "", CodeInternal, "BR §1.6.1 Internal Name: not an ICANN TLD"},
		{"local", "printer.local", false, "", CodeReserved, "RFC 6762"},
		{"localhost", "app.localhost", false, "", CodeReserved, "RFC 6761 §6.3"},
		{"test", "www.test", false, "", CodeReserved, "RFC 6761 §6.2"},
		{"example TLD", "foo.example", false, "", CodeReserved, "RFC 6761 §6.5"},
		{"invalid", "foo.invalid", false, "", CodeReserved, "RFC 6761 §6.4"},
		{"internal", "db.corp.internal", false, "", CodeReserved, "ICANN resolution 2024.07.29.06"},
		{"onion", "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", false, "", CodeReserved, "RFC 7686"},
		{"home.arpa", "router.home.arpa", false, "", CodeReserved, "RFC 8375"},
		{"arpa", "1.2.0.192.in-addr.arpa", false, "", CodeReserved, "RFC 3172"},
		{"alt", "name.alt", false, "", CodeReserved, "RFC 9476"},
		{"lan", "nas.lan", false, "", CodeReserved, "private-use"},
		{"corp", "mail.corp", false, "", CodeReserved, "ICANN name collision"},
		{"home", "tv.home", false, "", CodeReserved, "ICANN name collision"},

		// Public suffixes.
		{"TLD alone", "com", false, "", CodePublicSufx, "a TLD is a public suffix"},
		{"TLD with dot", "com.", false, "", CodePublicSufx, "a TLD is a public suffix"},
		{"multi-label public suffix", "co.uk", false, "", CodePublicSufx, "PSL ICANN section"},
		{"wildcard of TLD", "*.com", true, "", CodePublicSufx, "BR §3.2.2.6: *.com forbidden"},
		{"wildcard of co.uk", "*.co.uk", true, "", CodePublicSufx, "BR §3.2.2.6: *.co.uk forbidden"},
		{"PSL wildcard rule suffix", "anything.ck", false, "", CodePublicSufx, "PSL rule *.ck makes x.ck a suffix"},
		{"PSL exception rule", "www.ck", false, "www.ck", "", "PSL exception rule !www.ck"},

		// Wildcards.
		{"wildcard not allowed", "*.example.com", false, "", CodeWildcard, "method does not allow wildcards"},
		{"double wildcard", "*.*.example.com", true, "", CodeWildcard, "only one leading *."},
		{"inner wildcard", "www.*.example.com", true, "", CodeWildcard, "only the leftmost label"},
		{"partial wildcard", "f*.example.com", true, "", CodeWildcard, "the whole label must be *"},
		{"bare star", "*", true, "", CodeWildcard, "no base"},

		// Syntax.
		{"empty", "", false, "", CodeInvalid, "empty"},
		{"only dot", ".", false, "", CodeInvalid, "empty label"},
		{"two trailing dots", "example.com..", false, "", CodeInvalid, "empty label"},
		{"leading dot", ".example.com", false, "", CodeInvalid, "empty label"},
		{"double dot", "a..example.com", false, "", CodeInvalid, "empty label"},
		{"underscore", "_acme.example.com", false, "", CodeInvalid, "BR §7.1.4.2.1 no underscores"},
		{"space", "exa mple.com", false, "", CodeInvalid, "not LDH"},
		{"surrounding space", " example.com", false, "", CodeInvalid, "not LDH"},
		{"leading hyphen", "-a.example.com", false, "", CodeInvalid, "RFC 1034 §3.5"},
		{"trailing hyphen", "a-.example.com", false, "", CodeInvalid, "RFC 1034 §3.5"},
		{"slash", "example.com/path", false, "", CodeInvalid, "not LDH"},
		{"port", "example.com:443", false, "", CodeInvalid, "not LDH"},
		{"at sign", "user@example.com", false, "", CodeInvalid, "not LDH"},
		{"label of 64", long64 + ".com", false, "", CodeTooLong, "RFC 1035 §2.3.4"},
		{"name over 253", tooLongName, false, "", CodeTooLong, "RFC 1035 §2.3.4"},

		// Internationalized names.
		{"U-label", "bücher.com", false, "", CodeULabel, "RFC 5891: give the A-label"},
		{"U-label TLD", "example.рф", false, "", CodeULabel, "RFC 5891: give the A-label"},
		{"fullwidth dot", "example。com", false, "", CodeULabel, "non-ASCII"},
		{"bad punycode", "xn--zz.com", false, "", CodeInvalid, "RFC 3492 decoding fails"},
		{"xn-- empty payload", "xn--.com", false, "", CodeInvalid, "RFC 5891"},
		{"A-label of ASCII only", "xn--abc-.com", false, "", CodeInvalid, "decodes to ASCII: not an A-label"},
		{"A-label with disallowed code point", "xn--ls8h.com", false, "", CodeInvalid, "emoji is DISALLOWED in IDNA2008 (RFC 5892)"},
		{"A-label upper case in U-label", "xn--Bcher-kva.com", false, "xn--bcher-kva.com", "", "case folded before decoding"},
		{"A-label not NFC round trip", "xn--a-ecp.com", false, "", CodeInvalid, "combining mark at start (RFC 5891 §5.4)"},
		{"middle dot between l and l", "xn--ll-0ea.com", false, "xn--ll-0ea.com", "", "l·l: CONTEXTO rule met (RFC 5892 Appendix A.3)"},
		{"middle dot not between l and l", "xn--xy-0ea.com", false, "", CodeInvalid, "x·y: CONTEXTO rule not met (RFC 5892 Appendix A.3)"},
		{"katakana middle dot without kana or han", "xn--x-hju.com", false, "", CodeInvalid, "・x: CONTEXTO rule not met (RFC 5892 Appendix A.7)"},
		{"katakana middle dot with katakana", "xn--ccke4x.com", false, "xn--ccke4x.com", "", "ア・イ: CONTEXTO rule met (RFC 5892 Appendix A.7)"},
		{"keraia not before greek", "xn--a-jib.com", false, "", CodeInvalid, "͵a: CONTEXTO rule not met (RFC 5892 Appendix A.4)"},
		{"geresh not after hebrew", "xn--a-0jc.com", false, "", CodeInvalid, "a׳: CONTEXTO rule not met (RFC 5892 Appendix A.5)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.in, tc.wildcard)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("Normalize(%q) error %v; want %q (%s)", tc.in, err, tc.want, tc.why)
				}
				if got != tc.want {
					t.Fatalf("Normalize(%q) = %q; want %q", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Normalize(%q) = %q; want error %s (%s)", tc.in, got, tc.code, tc.why)
			}
			ae, ok := apperr.As(err)
			if !ok {
				t.Fatalf("error %v is not an *apperr.Error", err)
			}
			if ae.Field != Field || ae.Kind != apperr.KindInvalid {
				t.Errorf("error field/kind = %q/%v; want %q/invalid", ae.Field, ae.Kind, Field)
			}
			if tc.code != "" && ae.Code != tc.code {
				t.Errorf("Normalize(%q) code = %q (%s); want %q (%s)", tc.in, ae.Code, ae.Message, tc.code, tc.why)
			}
			if ae.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestULabelMessageAsksForALabel(t *testing.T) {
	_, err := Normalize("bücher.com", false)
	if err == nil || !strings.Contains(err.Error(), "A-label") {
		t.Fatalf("error %v should ask for the A-label", err)
	}
}

// FuzzNormalize checks the invariants of every accepted name: it is
// idempotent, lower-case ASCII LDH labels within the length limits (RFC
// 1035 §2.3.4), the input itself up to case and one trailing dot, a
// wildcard only where allowed and only as "*.", and never an IP. Every
// refusal is a 400 naming "domain" with one of the documented codes.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.co.uk", "xn--bcher-kva.com", "192.0.2.1", "a..b", "EXAMPLE.COM."} {
		f.Add(s, true)
	}
	codes := []apperr.Code{CodeInvalid, CodeIPAddress, CodeInternal, CodeReserved, CodePublicSufx, CodeWildcard, CodeULabel, CodeTooLong}
	f.Fuzz(func(t *testing.T, in string, wc bool) {
		got, err := Normalize(in, wc)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Field != Field || !slices.Contains(codes, e.Code) || e.Message == "" {
				t.Fatalf("Normalize(%q) refused with %#v; want a 400 naming %q with a documented code", in, err, Field)
			}
			return
		}
		if len(got) > MaxNameLength || got != strings.ToLower(got) || strings.HasSuffix(got, ".") {
			t.Fatalf("accepted %q as %q", in, got)
		}
		if got != strings.ToLower(strings.TrimSuffix(in, ".")) {
			t.Fatalf("accepted %q as %q: only case and one trailing dot may change", in, got)
		}
		if !wc && IsWildcard(got) {
			t.Fatalf("wildcard accepted when not allowed: %q", got)
		}
		base := Base(got)
		if strings.Contains(base, "*") {
			t.Fatalf("accepted %q with a wildcard that is not the whole leftmost label", got)
		}
		if _, err := netip.ParseAddr(base); err == nil {
			t.Fatalf("accepted the IP address %q", got)
		}
		labels := strings.Split(base, ".")
		if len(labels) < 2 {
			t.Fatalf("accepted the single label %q", got)
		}
		for _, l := range labels {
			if l == "" || len(l) > MaxLabelLength || l[0] == '-' || l[len(l)-1] == '-' {
				t.Fatalf("accepted %q with label %q", got, l)
			}
			for i := 0; i < len(l); i++ {
				if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
					t.Fatalf("accepted %q with %q in label %q", got, c, l)
				}
			}
		}
		again, err := Normalize(got, wc)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
		if up, err := Normalize(strings.ToUpper(got)+".", wc); err != nil || up != got {
			t.Fatalf("%q upper-cased with a trailing dot -> %q, %v", got, up, err)
		}
	})
}
