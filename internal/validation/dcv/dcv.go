// Package dcv implements the two domain control validation methods vetca
// offers (BR §3.2.2.4): DNS Change (§3.2.2.4.7) and Agreed-Upon Change to
// Website v2 (§3.2.2.4.18).
//
// Each method is identified by a stable Method value (name, BR section and
// vetca's own method version). Every check returns Evidence carrying that
// identity, the exact name or URL queried, the answer seen, the resolver
// used, the time from the injected clock and the result, so that a later
// query can find every validation that relied on a given method version
// (BR §3.2.2.4 requires recording the method and BR version used).
//
// A check returns an error only for bad input (an *apperr.Error naming the
// field); a domain that does not validate, for whatever reason (wrong value,
// DNS failure, HTTP timeout), is an Evidence with Valid false and a Reason,
// so that every attempt can be stored.
//
// Random values: NewRandomValue returns 256 bits from crypto/rand, encoded
// base64url without padding (43 characters), more than the 112 bits BR
// §1.6.1 ("Random Value") requires. A random value must be unique to the
// certificate request and may be used for at most 30 days from its creation
// (BR §3.2.2.4.7 (i), §3.2.2.4.18); the caller stores its creation time and
// refuses it after MaxRandomValueAge (or a shorter CPS period).
package dcv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/resolver"
)

// Method identifies a validation method and vetca's version of it. Change
// Version whenever the behaviour of a method's implementation changes in a
// way that could change a result; evidence records all three fields.
type Method struct {
	Name           string `json:"name"`
	Section        string `json:"section"` // BR section
	Version        string `json:"version"` // vetca method version
	AllowsWildcard bool   `json:"allowsWildcard"`
	// CoversSubdomains: once a domain is validated, names ending with all
	// its labels may be issued too (the "Note" of each BR method).
	CoversSubdomains bool `json:"coversSubdomains"`
}

// The methods vetca implements.
var (
	// DNSChange is BR §3.2.2.4.7: a Random Value in a TXT record at the
	// Authorization Domain Name prefixed with the label "_vetca-challenge".
	// Suitable for wildcards: the base domain is validated.
	DNSChange = Method{Name: "dns-change", Section: "3.2.2.4.7", Version: "1", AllowsWildcard: true, CoversSubdomains: true}
	// WebsiteChange is BR §3.2.2.4.18: a Random Value as the content of a
	// file under /.well-known/pki-validation/ fetched over HTTP. Not
	// suitable for wildcards (BR §3.2.2.4.18 note). Version 2 connects only
	// to public addresses (internal/egress); version 1 connected wherever
	// the domain's DNS pointed, so its validations are the ones to review
	// should a non-public target ever have been accepted. Version 3 refuses
	// a redirect whose path leaves the directory through a ".." segment
	// that version 2 let through (percent-encoded, or behind a backslash):
	// version 2's validations that followed a redirect are the ones to
	// review for that.
	WebsiteChange = Method{Name: "website-change", Section: "3.2.2.4.18", Version: "3"}
	// ACMEHTTP01 is BR §3.2.2.4.19, Agreed-Upon Change to Website - ACME:
	// the ACME http-01 challenge (RFC 8555 §8.3), the key authorization at
	// /.well-known/acme-challenge/<token>. Only the exact name, never a
	// wildcard (BR §3.2.2.4.19 note). Started only by the ACME server.
	ACMEHTTP01 = Method{Name: "acme-http-01", Section: "3.2.2.4.19", Version: "1"}
	// ACMEDNS01 is BR §3.2.2.4.7 through the ACME dns-01 challenge (RFC
	// 8555 §8.4): the key authorization's digest in a TXT record at
	// "_acme-challenge.<domain>". Like DNSChange, suitable for wildcards
	// and covering subdomains. Started only by the ACME server.
	ACMEDNS01 = Method{Name: "acme-dns-01", Section: "3.2.2.4.7", Version: "1", AllowsWildcard: true, CoversSubdomains: true}
)

// Methods returns every implemented method.
func Methods() []Method { return []Method{DNSChange, WebsiteChange, ACMEHTTP01, ACMEDNS01} }

// PortalMethods returns the methods a validation may be started with
// through the domains API; the ACME methods start with an ACME challenge.
func PortalMethods() []Method { return []Method{DNSChange, WebsiteChange} }

// MethodByName returns the method with the given name; an unknown name is
// an *apperr.Error naming the field "method".
func MethodByName(name string) (Method, error) {
	for _, m := range Methods() {
		if m.Name == name {
			return m, nil
		}
	}
	return Method{}, apperr.Invalid(apperr.CodeUnknownMethod, "method", "method %q is not supported; use one of %q, %q, %q, %q",
		name, DNSChange.Name, WebsiteChange.Name, ACMEHTTP01.Name, ACMEDNS01.Name)
}

// IsACME reports whether m is one of the ACME challenge methods.
func (m Method) IsACME() bool { return m.Name == ACMEHTTP01.Name || m.Name == ACMEDNS01.Name }

// Covers reports whether a validation of validated (a normalized domain,
// possibly "*."-prefixed) by method m supports issuing for name (also
// normalized): the same name always; with CoversSubdomains, any name that
// ends with all of validated's labels, including a wildcard such as
// "*.example.com" for "example.com" (BR §3.2.2.4.7 note). Website change
// covers exactly the validated name and never a wildcard (BR §3.2.2.4.18
// note).
func (m Method) Covers(validated, name string) bool {
	base := strings.TrimPrefix(validated, "*.")
	if !m.CoversSubdomains {
		return !strings.HasPrefix(name, "*.") && !strings.HasPrefix(validated, "*.") && name == validated
	}
	if strings.HasPrefix(name, "*.") && !m.AllowsWildcard {
		return false
	}
	n := strings.TrimPrefix(name, "*.")
	return n == base || strings.HasSuffix(n, "."+base)
}

// String returns "name v<version> (BR §section)".
func (m Method) String() string { return m.Name + " v" + m.Version + " (BR §" + m.Section + ")" }

// MaxRandomValueAge is the longest a Random Value may be used after its
// creation (BR §3.2.2.4.7 (i) and §3.2.2.4.18: 30 days).
const MaxRandomValueAge = 30 * 24 * time.Hour

// RandomValueBytes is the entropy of a random value (256 bits).
const RandomValueBytes = 32

// minRandomValueLen is 22 base64url characters: 132 bits, above the 112 BR
// §1.6.1 requires and the 128 vetca promises.
const minRandomValueLen = 22

// NewRandomValue returns a fresh random value: RandomValueBytes from
// crypto/rand, base64url without padding.
func NewRandomValue() (string, error) {
	b := make([]byte, RandomValueBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewFileName returns a CA-chosen file name for website-change: 128 random
// bits in hex with ".txt". It is independent of the random value, which
// must not appear in the request (BR §3.2.2.4.18 (1)).
func NewFileName() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + ".txt", nil
}

// checkValue refuses values that could not have come from NewRandomValue
// (too short or not base64url), so a caller bug cannot weaken validation.
func checkValue(v string) error {
	if len(v) < minRandomValueLen {
		return apperr.Invalid(apperr.CodeWeakRandomValue, "value", "the random value must be at least %d base64url characters (BR §1.6.1: 112 bits of entropy)", minRandomValueLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return apperr.Invalid(apperr.CodeInvalidRandomValue, "value", "the random value must be base64url")
		}
	}
	return nil
}

// Evidence is the stored record of one validation attempt.
type Evidence struct {
	Method   string              `json:"method"`  // Method.Name
	Section  string              `json:"section"` // Method.Section (BR)
	Version  string              `json:"version"` // Method.Version (vetca)
	Domain   string              `json:"domain"`  // the requested domain, normalized ("*." kept)
	Query    string              `json:"query"`   // exact DNS name or first URL queried
	Answer   []string            `json:"answer"`  // TXT values seen, or the body (truncated)
	Resolver string              `json:"resolver"`
	DNS      []resolver.Evidence `json:"dns,omitempty"`  // every DNS query made
	HTTP     []HTTPHop           `json:"http,omitempty"` // every HTTP request made
	Time     time.Time           `json:"time"`
	Valid    bool                `json:"valid"`
	Status   string              `json:"status"` // "valid" or "invalid"
	Reason   string              `json:"reason"`
}

// Statuses of Evidence.Status, as the domains API reports them.
const (
	StatusValid   = "valid"
	StatusInvalid = "invalid"
)

func (e *Evidence) set(valid bool, reason string) {
	e.Valid = valid
	e.Reason = reason
	e.Status = StatusInvalid
	if valid {
		e.Status = StatusValid
	}
}

func newEvidence(m Method, domain, resolverAddr string, now time.Time) Evidence {
	return Evidence{Method: m.Name, Section: m.Section, Version: m.Version, Domain: domain,
		Resolver: resolverAddr, Time: now, Status: StatusInvalid, Answer: []string{}}
}

// truncate shortens s to at most n bytes for evidence, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…[truncated]"
}

// minTokenLen is 22 base64url characters: 132 bits, above the 128 RFC
// 8555 §8.1 asks of a token.
const minTokenLen = 22

// thumbprintLen is the length of a base64url SHA-256 JWK thumbprint.
const thumbprintLen = 43

func isBase64URL(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CheckKeyAuthorization refuses a token or key authorization that could
// not have come from the ACME server: a token of fewer than 22 base64url
// characters (RFC 8555 §8.1: 128 bits at least), or a key authorization
// that is not the token, a ".", and a SHA-256 JWK thumbprint (RFC 8555
// §8.1, RFC 7638). Errors name the field "token" or "keyAuthorization".
func CheckKeyAuthorization(token, keyAuthorization string) error {
	if len(token) < minTokenLen || len(token) > 128 || !isBase64URL(token) {
		return apperr.Invalid(apperr.CodeWeakRandomValue, "token", "an ACME token must be 22 to 128 base64url characters (RFC 8555 §8.1: at least 128 bits)")
	}
	thumb, ok := strings.CutPrefix(keyAuthorization, token+".")
	if !ok || len(thumb) != thumbprintLen || !isBase64URL(thumb) {
		return apperr.Invalid(apperr.CodeInvalidField, "keyAuthorization", "a key authorization is the token, \".\", and the account key's SHA-256 thumbprint (RFC 8555 §8.1)")
	}
	return nil
}

// ACMEDigest is the dns-01 TXT value of a key authorization: its SHA-256,
// base64url without padding (RFC 8555 §8.4).
func ACMEDigest(keyAuthorization string) string {
	s := sha256.Sum256([]byte(keyAuthorization))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
