package issuance

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vetca/vetca/internal/audit"
)

// CeremonyRecord is the signed record of a key ceremony that created a CA
// (BR §6.1.1.1 asks for a key-generation report; §5.4.1(1) for logging CA
// key generation). It is written next to the keys and kept by the
// witnesses; the audit trail holds the same facts.
type CeremonyRecord struct {
	Version   int              `json:"version"`
	Kind      string           `json:"kind"` // root-ca-created | intermediate-ca-created
	At        string           `json:"at"`
	Operator  string           `json:"operator"`
	Database  string           `json:"database"`
	Issuer    CeremonyIssuer   `json:"issuer"`
	Parent    *CeremonyIssuer  `json:"parent,omitempty"`
	AuditHead CeremonyAuditRef `json:"auditHead"`
	PublicKey string           `json:"publicKey"` // the audit public key (PEM), for reference
	KeyID     string           `json:"keyId"`
	Signature string           `json:"signature"`
}

// CeremonyIssuer describes a CA in a ceremony record.
type CeremonyIssuer struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	KeyURI      string `json:"keyUri"`
	SPKISHA256  string `json:"spkiSha256"`
	CertSHA256  string `json:"certSha256"`
	NotAfter    string `json:"notAfter"`
	Certificate string `json:"certificate"`
}

// CeremonyAuditRef pins the audit chain head after the ceremony.
type CeremonyAuditRef struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// DescribeIssuer fills a CeremonyIssuer.
func DescribeIssuer(i Issuer) (CeremonyIssuer, error) {
	c, err := i.Certificate()
	if err != nil {
		return CeremonyIssuer{}, err
	}
	sum := sha256.Sum256(c.Raw)
	return CeremonyIssuer{ID: i.ID, Subject: i.Subject, KeyURI: i.KeyURI, SPKISHA256: i.SPKISHA256,
		CertSHA256: hex.EncodeToString(sum[:]), NotAfter: c.NotAfter.UTC().Format(time.RFC3339), Certificate: i.CertPEM}, nil
}

func (r *CeremonyRecord) signed() ([]byte, error) {
	c := *r
	c.Signature = ""
	return json.Marshal(c)
}

// Sign signs the record with the audit key.
func (r *CeremonyRecord) Sign(key *audit.Key) error {
	r.PublicKey, r.KeyID = string(key.Public().PEM()), key.Public().ID()
	b, err := r.signed()
	if err != nil {
		return err
	}
	sig, err := key.Sign(b)
	if err != nil {
		return err
	}
	r.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Verify checks the record's signature under the installation's pinned
// audit public key; a record signed by any other key is refused.
func (r *CeremonyRecord) Verify(pub *audit.PublicKey) error {
	if r.KeyID != pub.ID() {
		return fmt.Errorf("ceremony record: signed by key %s, not the audit key %s", r.KeyID, pub.ID())
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil {
		return errors.New("ceremony record: malformed signature")
	}
	b, err := r.signed()
	if err != nil {
		return err
	}
	if !pub.Verify(b, sig) {
		return errors.New("ceremony record: signature does not verify; the record was altered")
	}
	return nil
}

// Write writes the record as indented JSON (mode 0644: it holds no secret)
// to a new file: it never replaces an existing one, such as an earlier
// ceremony's record or a key.
func (r *CeremonyRecord) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("ceremony record %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ceremony record %s: %w", path, err)
	}
	return nil
}

// ReadCeremonyRecord reads and verifies a record.
func ReadCeremonyRecord(path string, trusted *audit.PublicKey) (*CeremonyRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ceremony record: %w", err)
	}
	var r CeremonyRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("ceremony record %s: %w", path, err)
	}
	if err := r.Verify(trusted); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
