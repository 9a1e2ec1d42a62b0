// Package dnsname decides whether a string may be used as a domain name in a
// publicly-trusted TLS certificate, and returns it in the one canonical form
// that the rest of vetca stores, compares and queries: lower-case A-labels,
// no trailing dot.
//
// The rules, each enforced by Normalize and each refused with an
// *apperr.Error naming the JSON field "domain":
//
//   - IP addresses (IPv4, IPv6, bracketed IPv6) are not domain names; vetca
//     does not validate IP addresses (BR §3.2.2.5 is not implemented).
//   - Internal names are refused (BR §7.1.4.2 / §1.6.1 "Internal Name"): a
//     name whose top-level label is not in the ICANN section of the Public
//     Suffix List, which includes every single-label name.
//   - Reserved and special-use names are refused with a reason that cites
//     where they are reserved: .test, .example, .invalid and .localhost
//     (RFC 2606, RFC 6761), .local (RFC 6762), .onion (RFC 7686; vetca does
//     not issue for Onion Domain Names), .alt (RFC 9476), .home.arpa
//     (RFC 8375) and .arpa generally (RFC 3172, infrastructure only),
//     .internal (ICANN Board resolution 2024.07.29.06 reserving it for
//     private use), and the private-use names in common use (.lan, .corp,
//     .home, .intranet, .private, .localdomain; see also ICANN's name
//     collision decisions for .corp, .home and .mail).
//   - A name that is itself a public suffix (ICANN section only, as BR
//     §3.2.2.6 recommends) is refused; so is a wildcard whose base is a
//     public suffix ("*.co.uk").
//   - Wildcards are refused unless the caller allows them, and then only as
//     a single leading "*." label.
//   - Every label must be LDH (letters, digits, hyphen; no leading or
//     trailing hyphen; RFC 1034 §3.5, RFC 5890 §2.3.1), 1 to 63 octets; the
//     name is at most 253 octets without the trailing dot (RFC 1035 §2.3.4).
//     Underscores are refused (BR §7.1.4.2.1 after ballot SC-064).
//   - A label with "--" in its third and fourth positions (a Reserved LDH
//     Label, RFC 5890 §2.3.1) must begin "xn--": a dNSName may hold only
//     P-Labels and Non-Reserved LDH Labels (BR §7.1.4.2.1).
//   - A label beginning "xn--" must be a valid A-label under IDNA2008
//     (RFC 5890-5893) with the strict registration profile, and must
//     round-trip unchanged (A-label -> U-label -> A-label).
//   - Non-ASCII input (a U-label) is refused with a message asking for the
//     A-label, so that what the customer typed is exactly what is validated
//     and issued.
//   - One trailing dot is accepted and removed; upper case is lowered.
package dnsname

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/weppos/publicsuffix-go/publicsuffix"
	"golang.org/x/net/idna"

	"github.com/vetca/vetca/internal/apperr"
)

// Field is the JSON field name every error from this package names.
const Field = "domain"

// Error codes returned in apperr.Error.Code. They are stable: callers and
// API clients may match on them.
const (
	CodeInvalid    = apperr.CodeInvalidDomain   // empty, bad characters, bad LDH label, bad A-label
	CodeIPAddress  = apperr.CodeIPAddress       // an IPv4 or IPv6 address
	CodeInternal   = apperr.CodeInternalName    // not under an ICANN public suffix
	CodeReserved   = apperr.CodeReservedName    // special-use or private-use name
	CodePublicSufx = apperr.CodePublicSuffix    // the name (or a wildcard base) is a public suffix
	CodeWildcard   = apperr.CodeWildcardRefused // wildcard not allowed here, or malformed wildcard
	CodeULabel     = apperr.CodeULabel          // non-ASCII input: give the A-label
	CodeTooLong    = apperr.CodeNameTooLong     // over 253 octets or a label over 63
)

// Limits from RFC 1035 §2.3.4 (presentation form without the trailing dot).
const (
	MaxNameLength  = 253
	MaxLabelLength = 63
)

// icannOnly finds rules in the ICANN section of the PSL only, and uses no
// default rule: an unknown TLD yields no rule at all.
var icannOnly = &publicsuffix.FindOptions{IgnorePrivate: true, DefaultRule: nil}

// reserved maps reserved or special-use suffixes to the reason given to the
// user. The longest matching suffix wins.
var reserved = map[string]string{
	"test":        "the .test TLD is reserved for testing (RFC 2606, RFC 6761 §6.2)",
	"example":     "the .example TLD is reserved for documentation (RFC 2606, RFC 6761 §6.5)",
	"invalid":     "the .invalid TLD is reserved and never resolves (RFC 2606, RFC 6761 §6.4)",
	"localhost":   "the .localhost TLD is reserved for loopback (RFC 2606, RFC 6761 §6.3)",
	"local":       "the .local TLD is reserved for Multicast DNS (RFC 6762 §3)",
	"onion":       "the .onion TLD is reserved for Tor onion services (RFC 7686); vetca does not issue for Onion Domain Names",
	"alt":         "the .alt TLD is reserved for non-DNS namespaces (RFC 9476)",
	"home.arpa":   "home.arpa is reserved for residential home networks (RFC 8375)",
	"arpa":        "the .arpa TLD is for Internet infrastructure only (RFC 3172)",
	"internal":    "the .internal TLD is reserved for private use (ICANN Board resolution 2024.07.29.06)",
	"lan":         "the .lan TLD is a private-use name, not delegated in the public DNS",
	"corp":        "the .corp TLD is a private-use name that ICANN will not delegate (name collision decision, 2018)",
	"home":        "the .home TLD is a private-use name that ICANN will not delegate (name collision decision, 2018)",
	"mail":        "the .mail TLD is a private-use name that ICANN will not delegate (name collision decision, 2018)",
	"intranet":    "the .intranet TLD is a private-use name, not delegated in the public DNS",
	"private":     "the .private TLD is a private-use name, not delegated in the public DNS",
	"localdomain": "the .localdomain TLD is a private-use name, not delegated in the public DNS",
}

// Normalize checks name and returns it as lower-case A-labels without a
// trailing dot. A leading "*." is accepted only when allowWildcard is true;
// the returned name keeps it. Every refusal is an *apperr.Error of kind
// Invalid with Field "domain" and a message that says exactly what is wrong.
func Normalize(name string, allowWildcard bool) (string, error) {
	orig := name
	if strings.TrimSpace(name) != name {
		return "", invalid(CodeInvalid, "domain %q has leading or trailing white space", orig)
	}
	if name == "" {
		return "", invalid(CodeInvalid, "domain is empty")
	}
	if ip, ok := parseIP(name); ok {
		return "", invalid(CodeIPAddress, "%q is an IP address (%s), not a domain name; vetca validates domain names only", orig, ip)
	}
	for _, r := range name {
		if r > 0x7f {
			return "", invalid(CodeULabel, "domain %q contains non-ASCII characters; use the A-label (xn--) form of internationalized names", orig)
		}
	}
	name = strings.ToLower(name)
	if strings.HasSuffix(name, ".") {
		name = name[:len(name)-1]
		if name == "" || strings.HasSuffix(name, ".") {
			return "", invalid(CodeInvalid, "domain %q has an empty label", orig)
		}
	}
	if len(name) > MaxNameLength {
		return "", invalid(CodeTooLong, "domain %q is %d octets long; the limit is %d (RFC 1035 §2.3.4)", orig, len(name), MaxNameLength)
	}

	wildcard := false
	base := name
	if strings.HasPrefix(name, "*.") {
		wildcard = true
		base = name[2:]
	}
	if strings.Contains(base, "*") {
		if allowWildcard {
			return "", invalid(CodeWildcard, "domain %q: a wildcard is allowed only as the whole leftmost label (\"*.\")", orig)
		}
		return "", invalid(CodeWildcard, "domain %q: wildcards are not allowed here", orig)
	}
	if wildcard && !allowWildcard {
		return "", invalid(CodeWildcard, "domain %q: wildcards are not allowed for this request", orig)
	}

	labels := strings.Split(base, ".")
	for _, l := range labels {
		if err := checkLabel(orig, l); err != nil {
			return "", err
		}
	}
	if _, ok := parseIP(base); ok {
		return "", invalid(CodeIPAddress, "%q is an IP address, not a domain name", orig)
	}

	if reason, ok := reservedReason(base); ok {
		return "", invalid(CodeReserved, "domain %q is not a public domain name: %s", orig, reason)
	}
	rule := publicsuffix.DefaultList.Find(base, icannOnly)
	if rule == nil {
		if len(labels) == 1 {
			return "", invalid(CodeInternal, "domain %q is a single label (an Internal Name); a publicly-trusted certificate needs a registered domain under a public suffix", orig)
		}
		return "", invalid(CodeInternal, "domain %q is an Internal Name: %q is not a top-level domain in the ICANN section of the Public Suffix List", orig, labels[len(labels)-1])
	}
	parts := rule.Decompose(base)
	if parts[1] == "" || parts[0] == "" {
		if wildcard {
			return "", invalid(CodePublicSufx, "wildcard %q covers the public suffix %q; a wildcard's base must be a registrable domain or below it (BR §3.2.2.6)", orig, base)
		}
		return "", invalid(CodePublicSufx, "domain %q is a public suffix (ICANN section of the Public Suffix List), not a registrable domain", orig)
	}
	return name, nil
}

// Base returns name without a leading "*." label. It does not validate.
func Base(name string) string { return strings.TrimPrefix(name, "*.") }

// IsWildcard reports whether name begins with the "*." label.
func IsWildcard(name string) bool { return strings.HasPrefix(name, "*.") }

func invalid(code apperr.Code, format string, args ...any) error {
	return apperr.Invalid(code, Field, format, args...)
}

func parseIP(s string) (netip.Addr, bool) {
	t := strings.TrimSuffix(s, ".")
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		t = t[1 : len(t)-1]
	}
	if i := strings.IndexByte(t, '%'); i >= 0 { // zone, e.g. fe80::1%eth0
		t = t[:i]
	}
	ip, err := netip.ParseAddr(t)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

func checkLabel(orig, l string) error {
	if l == "" {
		return invalid(CodeInvalid, "domain %q has an empty label", orig)
	}
	if len(l) > MaxLabelLength {
		return invalid(CodeTooLong, "domain %q: label %q is %d octets long; the limit is %d (RFC 1035 §2.3.4)", orig, l, len(l), MaxLabelLength)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '_':
			return invalid(CodeInvalid, "domain %q: label %q contains an underscore, which a certificate's dNSName may not hold (BR §7.1.4.2.1)", orig, l)
		case c == '*':
			return invalid(CodeWildcard, "domain %q: a wildcard is allowed only as the whole leftmost label", orig)
		default:
			return invalid(CodeInvalid, "domain %q: label %q contains %q; only letters, digits and hyphens are allowed (RFC 1034 §3.5)", orig, l, string(rune(c)))
		}
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return invalid(CodeInvalid, "domain %q: label %q may not begin or end with a hyphen (RFC 1034 §3.5)", orig, l)
	}
	if len(l) >= 4 && l[2:4] == "--" && !strings.HasPrefix(l, "xn--") {
		return invalid(CodeInvalid, "domain %q: label %q has \"--\" in the third and fourth positions (a Reserved LDH Label) and is not an A-label; a dNSName may hold only P-Labels and Non-Reserved LDH Labels (RFC 5890 §2.3.1; BR §7.1.4.2.1)", orig, l)
	}
	if strings.HasPrefix(l, "xn--") {
		u, err := idna.Registration.ToUnicode(l)
		if err != nil {
			return invalid(CodeInvalid, "domain %q: label %q is not a valid A-label (IDNA2008, RFC 5891): %v", orig, l, err)
		}
		if u == l {
			return invalid(CodeInvalid, "domain %q: label %q is not a valid A-label: it does not decode to Unicode", orig, l)
		}
		for _, r := range u {
			if !idna2008Allowed(r) {
				return invalid(CodeInvalid, "domain %q: label %q decodes to %q, whose code point %U is not permitted in IDNA2008 labels (RFC 5892 §2.1)", orig, l, u, r)
			}
		}
		if err := contextO(u); err != nil {
			return invalid(CodeInvalid, "domain %q: label %q decodes to %q, %v (RFC 5892 Appendix A)", orig, l, u, err)
		}
		back, err := idna.Registration.ToASCII(u)
		if err != nil || back != l {
			return invalid(CodeInvalid, "domain %q: label %q is not a valid A-label: it does not round-trip (decodes to %q, which encodes to %q)", orig, l, u, back)
		}
	}
	return nil
}

// idna2008Allowed approximates the RFC 5892 derived property: a code point
// may appear in a U-label if it is in LetterDigits (§2.1: Ll, Lu, Lo, Nd,
// Lm, Mn, Mc), is the hyphen, or is one of the exceptions of §2.6 that are
// PVALID or CONTEXTO. x/net/idna implements UTS #46, which admits symbols
// such as emoji that IDNA2008 disallows; this closes that gap.
func idna2008Allowed(r rune) bool {
	switch {
	case r == '-':
		return true
	case unicode.In(r, unicode.Ll, unicode.Lu, unicode.Lo, unicode.Nd, unicode.Lm, unicode.Mn, unicode.Mc):
		return true
	}
	switch r {
	case 0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007, // PVALID exceptions
		0x00B7, 0x0375, 0x05F3, 0x05F4, 0x30FB, // CONTEXTO exceptions, see contextO
		0x200C, 0x200D: // CONTEXTJ, checked by the idna profile
		return true
	}
	return false
}

// contextO applies the CONTEXTO rules of RFC 5892 Appendix A.3-A.7 to a
// U-label: idna2008Allowed admits those code points, and x/net/idna (UTS
// #46) does not check their context. The digit rules (A.8, A.9) are the
// profile's.
func contextO(u string) error {
	rs := []rune(u)
	for i, r := range rs {
		var prev, next rune
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case r == 0x00B7 && (prev != 'l' || next != 'l'):
			return errors.New("whose MIDDLE DOT U+00B7 is not between two 'l'")
		case r == 0x0375 && !unicode.Is(unicode.Greek, next):
			return errors.New("whose GREEK LOWER NUMERAL SIGN U+0375 is not followed by a Greek letter")
		case (r == 0x05F3 || r == 0x05F4) && !unicode.Is(unicode.Hebrew, prev):
			return fmt.Errorf("whose HEBREW PUNCTUATION %U does not follow a Hebrew letter", r)
		case r == 0x30FB && !hasKanaOrHan(rs):
			return errors.New("whose KATAKANA MIDDLE DOT U+30FB is in a label without Hiragana, Katakana or Han")
		}
	}
	return nil
}

func hasKanaOrHan(rs []rune) bool {
	for _, r := range rs {
		if r != 0x30FB && unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return true
		}
	}
	return false
}

func reservedReason(base string) (string, bool) {
	labels := strings.Split(base, ".")
	// Longest suffix first, so home.arpa wins over arpa.
	for i := 0; i < len(labels); i++ {
		if r, ok := reserved[strings.Join(labels[i:], ".")]; ok {
			return r, true
		}
	}
	return "", false
}
