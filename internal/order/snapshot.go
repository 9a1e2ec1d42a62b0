package order

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/vetca/vetca/internal/profile"
)

// SnapshotVersion is the version of the snapshot encoding.
const SnapshotVersion = 1

// Snapshot is the canonical content of everything that reaches the
// certificate (docs/design.md §4). Approvals bind to its SHA-256; the
// issuer recomputes it right before signing and refuses on any difference.
// Only the serial, the exact notBefore and the CRL shard are chosen at
// signing time; the serial and shard are random and the validity period is
// pinned here in days.
type Snapshot struct {
	Version      int             `json:"v"`
	Profile      SnapshotProfile `json:"profile"`
	Issuer       SnapshotIssuer  `json:"issuer"`
	Organization SnapshotOrg     `json:"organization"`
	Subject      SnapshotSubject `json:"subject"`
	DNSNames     []string        `json:"dnsNames"`
	PublicKey    SnapshotKey     `json:"publicKey"`
	ValidityDays int             `json:"validityDays"`
	Policies     []string        `json:"policies"`
	URLs         SnapshotURLs    `json:"urls"`
	AccountID    string          `json:"accountId"`
}

// SnapshotProfile names the certificate profile and its version.
type SnapshotProfile struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// SnapshotIssuer pins the issuing CA.
type SnapshotIssuer struct {
	ID         string `json:"id"`
	Subject    string `json:"subject"`
	SPKISHA256 string `json:"spkiSha256"`
}

// SnapshotOrg pins the verified organization version and its audited row hash.
type SnapshotOrg struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	RowHash string `json:"rowHash"`
}

// SnapshotSubject is the certificate subject, attribute by attribute, in
// BR §7.1.4.2 order (empty attributes are absent from the certificate).
type SnapshotSubject struct {
	CountryName         string `json:"countryName"`
	StateOrProvinceName string `json:"stateOrProvinceName"`
	LocalityName        string `json:"localityName"`
	PostalCode          string `json:"postalCode"`
	StreetAddress       string `json:"streetAddress"`
	OrganizationName    string `json:"organizationName"`
}

// SnapshotKey pins the subscriber public key.
type SnapshotKey struct {
	SPKISHA256 string `json:"spkiSha256"`
	SPKI       string `json:"spki"` // base64 DER SubjectPublicKeyInfo
}

// SnapshotURLs are the URLs the certificate will carry (the CRL shard
// number is appended at signing time).
type SnapshotURLs struct {
	CAIssuers string `json:"caIssuers"`
	CRLBase   string `json:"crlBase"`
	OCSP      string `json:"ocsp,omitempty"`
}

// ProfileSubject converts the snapshot subject for the profile.
func (s SnapshotSubject) ProfileSubject() profile.Subject {
	return profile.Subject{
		CountryName: s.CountryName, StateOrProvinceName: s.StateOrProvinceName, LocalityName: s.LocalityName,
		PostalCode: s.PostalCode, StreetAddress: s.StreetAddress, OrganizationName: s.OrganizationName,
	}
}

// Canonical returns the canonical encoding: JSON with a fixed field order,
// sorted DNS names, no insignificant white space.
func (s Snapshot) Canonical() ([]byte, error) {
	s.DNSNames = append([]string(nil), s.DNSNames...)
	sort.Strings(s.DNSNames)
	if s.Policies == nil {
		s.Policies = []string{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return b, nil
}

// Hash is the lower-case hex SHA-256 of the canonical encoding.
func (s Snapshot) Hash() (string, []byte, error) {
	b, err := s.Canonical()
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}
