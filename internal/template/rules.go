package template

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/dnsname"
)

// The key types a template may allow: the public keys vetca certifies
// (BR §6.1.5: RSA of at least 2048 bits whose size is a multiple of 8, and
// ECDSA on P-256 or P-384), in the sizes ACME clients generate.
const (
	KeyECDSAP256 = "ecdsa-p256"
	KeyECDSAP384 = "ecdsa-p384"
	KeyRSA2048   = "rsa-2048"
	KeyRSA3072   = "rsa-3072"
	KeyRSA4096   = "rsa-4096"
)

// KeyTypes lists every key type, in their canonical (sorted) order.
func KeyTypes() []string {
	return []string{KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA3072, KeyRSA4096}
}

// MaxDNSNames bounds the names of one template, as of one certificate.
const MaxDNSNames = 100

// HashVersion is the version of the template hash's canonical encoding.
const HashVersion = 1

// KeyTypeOf names the key type of a public key, for the ACME server to
// pass to Match; a key of no listed type is refused naming publicKey.
func KeyTypeOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyECDSAP256, nil
		case elliptic.P384():
			return KeyECDSAP384, nil
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return KeyRSA2048, nil
		case 3072:
			return KeyRSA3072, nil
		case 4096:
			return KeyRSA4096, nil
		}
	}
	return "", apperr.Invalid(apperr.CodeInvalidKeyType, "publicKey", "the public key (%T) is not one of %s", pub, strings.Join(KeyTypes(), ", "))
}

// canonical is what a template's hash covers: exactly what it allows, for
// whom, and the identity it was approved against.
type canonical struct {
	V               int      `json:"v"`
	AccountID       string   `json:"accountId"`
	Organization    canonOrg `json:"organization"`
	DNSNames        []string `json:"dnsNames"`
	KeyTypes        []string `json:"keyTypes"`
	MaxValidityDays int      `json:"maxValidityDays"`
}

// canonOrg pins the organization's verified version and its audited row
// hash: a new verified version, or that row changing, changes the hash.
type canonOrg struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	RowHash string `json:"rowHash"`
}

// Canonical returns the canonical encoding of what t allows: JSON with a
// fixed field order, sorted names and key types, no insignificant white
// space.
func (t Template) Canonical() []byte {
	c := canonical{
		V: HashVersion, AccountID: t.AccountID,
		Organization: canonOrg{ID: t.OrganizationID, Version: t.OrganizationVersion, RowHash: t.OrganizationRowHash},
		DNSNames:     sortedCopy(t.DNSNames), KeyTypes: sortedCopy(t.KeyTypes), MaxValidityDays: t.MaxValidityDays,
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic("template: canonical encoding: " + err.Error()) // strings and ints always encode
	}
	return b
}

// ComputeHash is the lower-case hex SHA-256 of Canonical.
func (t Template) ComputeHash() string {
	sum := sha256.Sum256(t.Canonical())
	return hex.EncodeToString(sum[:])
}

func sortedCopy(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

// Covers reports whether t's names cover the normalized name: a name
// equal to one of them, or below the base of one of its wildcards. A
// wildcard "*.example.com" covers a.example.com and b.c.example.com but
// not example.com itself; a requested wildcard is covered only by a
// wildcard at its level or above ("*.example.com" covers
// "*.a.example.com", never the reverse, and a plain name covers no
// wildcard).
func (t Template) Covers(name string) bool {
	for _, e := range t.DNSNames {
		if e == name {
			return true
		}
		if base, ok := strings.CutPrefix(e, "*."); ok && strings.HasSuffix(name, "."+base) {
			return true
		}
	}
	return false
}

// Allows reports whether t allows the key type.
func (t Template) Allows(keyType string) bool { return slices.Contains(t.KeyTypes, keyType) }

// normalizeName checks one name (valid DNS name, wildcard only as the
// leftmost label, not a public suffix, not internal or reserved) and
// returns its canonical form; a refusal names field.
func normalizeName(field, name string) (string, error) {
	norm, err := dnsname.Normalize(name, true)
	if err != nil {
		if e, ok := apperr.As(err); ok {
			return "", apperr.Invalid(e.Code, field, "%s", e.Message)
		}
		return "", err
	}
	return norm, nil
}

// normalizeNames checks and canonicalizes names, dropping repeats, in the
// order given; a refusal names field.
func normalizeNames(field string, in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingField, field, "%s needs at least one name", field)
	}
	if len(in) > MaxDNSNames {
		return nil, apperr.Invalid(apperr.CodeTooManyNames, field, "at most %d %s", MaxDNSNames, field)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, n := range in {
		norm, err := normalizeName(field, n)
		if err != nil {
			return nil, err
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	return out, nil
}

// checkKeyType refuses a key type that is not one of KeyTypes, naming field.
func checkKeyType(field, k string) error {
	if !slices.Contains(KeyTypes(), k) {
		return apperr.Invalid(apperr.CodeInvalidKeyType, field, "key type %q is not one of %s", k, strings.Join(KeyTypes(), ", "))
	}
	return nil
}

// normalizeKeyTypes checks the key types and returns them sorted, without repeats.
func normalizeKeyTypes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingField, "keyTypes", "keyTypes needs at least one of %s", strings.Join(KeyTypes(), ", "))
	}
	for _, k := range in {
		if err := checkKeyType("keyTypes", k); err != nil {
			return nil, err
		}
	}
	out := sortedCopy(in)
	return slices.Compact(out), nil
}

// checkValidity refuses a validity (maxValidityDays of a template, or
// validityDays asked of Match) below one day or above the BR §6.3.2
// maximum for a certificate issued at now.
func checkValidity(field string, days int, now time.Time) error {
	if days < 1 {
		return apperr.Invalid(apperr.CodeInvalidValidity, field, "%s must be at least 1", field)
	}
	if max := br.MaxValidity(now); days > max {
		return apperr.Invalid(apperr.CodeValidityTooLong, field, "%s %d exceeds %d: certificates issued now MUST NOT exceed %d days (BR §6.3.2)", field, days, max, max)
	}
	return nil
}

// describeHashChange says what moved between a template's approved and
// current organization binding.
func describeHashChange(old, cur Template) string {
	if old.OrganizationVersion != cur.OrganizationVersion {
		return fmt.Sprintf("organization %s: verified version %d -> %d", cur.OrganizationID, old.OrganizationVersion, cur.OrganizationVersion)
	}
	if old.OrganizationRowHash != cur.OrganizationRowHash {
		return fmt.Sprintf("organization %s: the row of verified version %d changed", cur.OrganizationID, cur.OrganizationVersion)
	}
	return "content"
}
