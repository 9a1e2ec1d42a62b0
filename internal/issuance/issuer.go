// Package issuance turns approved orders into certificates under the
// lint-then-record-then-sign discipline (docs/design.md §6), and keeps the
// CA hierarchy: issuers, their certificates and where their keys live.
package issuance

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

// Issuer kinds.
const (
	KindRoot         = "root"
	KindIntermediate = "intermediate"
)

// Issuer is a CA certificate vetca holds the key of.
type Issuer struct {
	ID         string    `db:"id" json:"id"`
	Name       string    `db:"name" json:"name"`
	Kind       string    `db:"kind" json:"kind"`
	ParentID   string    `db:"parent_id" json:"parentId,omitempty"`
	Subject    string    `db:"subject" json:"subject"`
	CertPEM    string    `db:"cert_pem" json:"certificate"`
	KeyURI     string    `db:"key_uri" json:"keyUri"`
	SPKISHA256 string    `db:"spki_sha256" json:"spkiSha256"`
	NotAfter   time.Time `db:"not_after" json:"notAfter"`
	CreatedAt  time.Time `db:"created_at" json:"createdAt"`
}

// Certificate parses the issuer's certificate.
func (i Issuer) Certificate() (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(i.CertPEM))
	if b == nil {
		return nil, fmt.Errorf("issuer %s: certificate is not PEM", i.ID)
	}
	return x509.ParseCertificate(b.Bytes)
}

// HierarchyOptions says how `vetca init` builds the CA hierarchy.
type HierarchyOptions struct {
	KeyDir       string // where file keys go (created 0700)
	PublicURL    string // base of CRL and caIssuers URLs
	Organization string // O of the CA subjects
	Country      string // C of the CA subjects
	RootAlg      signer.Algorithm
	IssuingAlg   signer.Algorithm
	// IssuerKeyURI, when set, is a pkcs11: URI for the issuing CA's key; the
	// key is created on the token when it does not exist yet.
	IssuerKeyURI string
	// CommonName of the issuing CA (default "<Organization> OV TLS Issuing CA 1").
	IssuingName string
	Signer      signer.Config
	Now         time.Time
}

// CACertURL is where an issuer's certificate is published (caIssuers).
func CACertURL(base, issuerID string) string {
	return trimSlash(base) + "/ca/" + issuerID + ".crt"
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// CreateHierarchy creates a root CA and an issuing CA, writes their keys
// (or uses the HSM for the issuing key) and records both issuers in one
// transaction. The issuing key is opened (or created) and made to sign
// first, so a wrong PIN, token or key URI fails before anything else is
// made; on any failure the key files it wrote are removed and nothing is
// recorded, so running it again starts over rather than finding a root
// without an issuing CA.
func CreateHierarchy(ctx context.Context, db *store.DB, rec *audit.Recorder, by actor.Actor, o HierarchyOptions) (_ []Issuer, err error) {
	keyDir, err := keyDirectory(o.KeyDir)
	if err != nil {
		return nil, err
	}
	io := IntermediateOptions{
		KeyDir: keyDir, PublicURL: o.PublicURL, Organization: o.Organization, Country: o.Country,
		CommonName: o.IssuingName, Alg: o.IssuingAlg, KeyURI: o.IssuerKeyURI, Signer: o.Signer, Now: o.Now,
	}
	issID := ids.New("iss")
	key, err := newIssuingKey(keyDir, issID, io)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	var made []string // key files to remove if the hierarchy is not recorded
	defer func() {
		if err != nil {
			for _, f := range made {
				_ = os.Remove(f)
			}
		}
	}()
	if io.KeyURI == "" {
		made = append(made, filepath.Join(keyDir, issID+".key.pem"))
	}
	if err := separateFromAuditKey(rec, key.Public()); err != nil {
		return nil, err
	}
	rootID := ids.New("iss")
	rootPath := filepath.Join(keyDir, rootID+".key.pem")
	rootKey, err := signer.GenerateFile(rootPath, o.RootAlg)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	made = append(made, rootPath)
	defer rootKey.Close()
	now := o.Now.UTC().Truncate(time.Second)
	rootSerial, err := serial.New(rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl, err := profile.RootCATemplate(profile.CAParams{
		Subject:   profile.Subject{CountryName: o.Country, OrganizationName: o.Organization, CommonName: o.Organization + " Root CA R1"},
		PublicKey: rootKey.Public(), Serial: rootSerial, NotBefore: now, NotAfter: now.AddDate(20, 0, 0),
	})
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("sign root certificate: %w", err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	root, err := newIssuer(rootID, KindRoot, "", rootCert, rootKey, now)
	if err != nil {
		return nil, err
	}
	iss, err := intermediate(root, rootCert, rootKey, key, issID, 1, io)
	if err != nil {
		return nil, err
	}
	t := newTables(rec)
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := t.issuers.Insert(ctx, tx, by, actIssuerCreated, root); err != nil {
			return err
		}
		return t.issuers.Insert(ctx, tx, by, actIssuerCreated, iss)
	}); err != nil {
		return nil, err
	}
	return []Issuer{root, iss}, nil
}

func keyDirectory(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("key directory %s: %w", dir, err)
	}
	return filepath.Abs(dir)
}

// IntermediateOptions says how a key ceremony creates an issuing CA.
type IntermediateOptions struct {
	KeyDir       string
	PublicURL    string
	Organization string
	Country      string
	CommonName   string // default "<Organization> OV TLS Issuing CA N"
	Alg          signer.Algorithm
	KeyURI       string // pkcs11: URI; empty for a new file key in KeyDir
	Signer       signer.Config
	Now          time.Time
	ValidYears   int // default 8
}

// CreateIntermediate creates an issuing CA under root: a new key (file or
// HSM), a certificate signed by the root key, and an audited issuer row.
// The key must sign (it is tried first) and must be no other issuer's key
// and not the audit key: one key, one purpose.
func CreateIntermediate(ctx context.Context, db *store.DB, rec *audit.Recorder, by actor.Actor, root Issuer, o IntermediateOptions) (_ Issuer, err error) {
	if root.Kind != KindRoot {
		return Issuer{}, fmt.Errorf("issuer %s is not a root", root.ID)
	}
	rootCert, err := root.Certificate()
	if err != nil {
		return Issuer{}, err
	}
	rootKey, err := OpenKey(root, o.Signer)
	if err != nil {
		return Issuer{}, err
	}
	defer rootKey.Close()
	keyDir, err := keyDirectory(o.KeyDir)
	if err != nil {
		return Issuer{}, err
	}
	id := ids.New("iss")
	key, err := newIssuingKey(keyDir, id, o)
	if err != nil {
		return Issuer{}, err
	}
	defer key.Close()
	if o.KeyURI == "" {
		defer func() {
			if err != nil {
				_ = os.Remove(filepath.Join(keyDir, id+".key.pem"))
			}
		}()
	}
	existing, err := ListIssuers(ctx, rec, db)
	if err != nil {
		return Issuer{}, err
	}
	spki, err := keypolicy.SPKIHashHex(key.Public())
	if err != nil {
		return Issuer{}, err
	}
	n := 1
	for _, e := range existing {
		if e.SPKISHA256 == spki {
			return Issuer{}, fmt.Errorf("--issuer-key %s is already the key of issuer %s (%s); each CA needs a key of its own", signer.Redact(key.URI()), e.ID, e.Subject)
		}
		if e.Kind == KindIntermediate {
			n++
		}
	}
	if err := separateFromAuditKey(rec, key.Public()); err != nil {
		return Issuer{}, err
	}
	iss, err := intermediate(root, rootCert, rootKey, key, id, n, o)
	if err != nil {
		return Issuer{}, err
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		return newTables(rec).issuers.Insert(ctx, tx, by, actIssuerCreated, iss)
	})
	return iss, err
}

// newIssuingKey returns the key of a new issuing CA, tried with a test
// signature: a new file key in keyDir named after id, or the HSM key
// o.KeyURI names, created only when no key pair on the token matches it
// (any other failure, such as a wrong PIN or a key of a refused type, is
// reported as it is).
func newIssuingKey(keyDir, id string, o IntermediateOptions) (signer.Signer, error) {
	if o.KeyURI == "" {
		key, err := signer.GenerateFile(filepath.Join(keyDir, id+".key.pem"), o.Alg)
		if err != nil {
			return nil, fmt.Errorf("issuing key: %w", err)
		}
		return key, nil
	}
	key, err := signer.OpenPKCS11(o.KeyURI, o.Signer)
	if errors.Is(err, signer.ErrNoKey) {
		key, err = signer.GeneratePKCS11(o.KeyURI, o.Signer, o.Alg)
	}
	if err != nil {
		return nil, fmt.Errorf("--issuer-key %s: %w", signer.Redact(o.KeyURI), err)
	}
	if err := signer.SelfTest(key); err != nil {
		key.Close()
		return nil, fmt.Errorf("--issuer-key %s: %w", signer.Redact(o.KeyURI), err)
	}
	return key, nil
}

// separateFromAuditKey refuses an issuing key that is the audit key: a
// key that signs the trail must not also sign certificates.
func separateFromAuditKey(rec *audit.Recorder, pub crypto.PublicKey) error {
	spki, err := keypolicy.SPKIHashHex(pub)
	if err != nil {
		return err
	}
	if ak := rec.PublicKey(); ak != nil && ak.ID() == spki {
		return errors.New("the issuing key is the audit key (--audit-key); a key that signs the audit trail must not also sign certificates")
	}
	return nil
}

// intermediate makes the n-th issuing CA's certificate for key, signed by
// root's key, and its issuer row (not yet recorded).
func intermediate(root Issuer, rootCert *x509.Certificate, rootKey, key signer.Signer, id string, n int, o IntermediateOptions) (Issuer, error) {
	now := o.Now.UTC().Truncate(time.Second)
	if o.ValidYears == 0 {
		o.ValidYears = 8
	}
	notAfter := now.AddDate(o.ValidYears, 0, 0)
	if notAfter.After(rootCert.NotAfter) {
		notAfter = rootCert.NotAfter
	}
	cn := o.CommonName
	if cn == "" {
		cn = fmt.Sprintf("%s OV TLS Issuing CA %d", o.Organization, n)
	}
	sn, err := serial.New(rand.Reader)
	if err != nil {
		return Issuer{}, err
	}
	tmpl, err := profile.IntermediateCATemplate(profile.CAParams{
		Subject:   profile.Subject{CountryName: o.Country, OrganizationName: o.Organization, CommonName: cn},
		PublicKey: key.Public(), Serial: sn, NotBefore: now, NotAfter: notAfter,
		CRLDistributionPoint: crl.ShardURL(o.PublicURL, root.ID, 0),
		CAIssuersURL:         CACertURL(o.PublicURL, root.ID),
	}, rootCert)
	if err != nil {
		return Issuer{}, fmt.Errorf("issuing CA certificate: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, rootCert, key.Public(), rootKey)
	if err != nil {
		return Issuer{}, fmt.Errorf("sign issuing CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Issuer{}, err
	}
	return newIssuer(id, KindIntermediate, root.ID, cert, key, now)
}

func newIssuer(id, kind, parent string, cert *x509.Certificate, key signer.Signer, now time.Time) (Issuer, error) {
	spki, err := keypolicy.SPKIHashHex(cert.PublicKey)
	if err != nil {
		return Issuer{}, err
	}
	return Issuer{
		ID: id, Name: cert.Subject.CommonName, Kind: kind, ParentID: parent, Subject: cert.Subject.String(),
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		KeyURI:  key.URI(), SPKISHA256: spki, NotAfter: cert.NotAfter, CreatedAt: now,
	}, nil
}

// ListIssuers returns every issuer, integrity-checked.
func ListIssuers(ctx context.Context, rec *audit.Recorder, q store.Querier) ([]Issuer, error) {
	return newTables(rec).issuers.Select(ctx, q, `ORDER BY created_at, kind DESC, id`)
}

// GetIssuer returns one issuer, integrity-checked.
func GetIssuer(ctx context.Context, rec *audit.Recorder, q store.Querier, id string) (Issuer, error) {
	var i Issuer
	if err := newTables(rec).issuers.Get(ctx, q, id, &i); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Issuer{}, apperr.NotFound(apperr.CodeNotFound, "issuer", "issuer %s not found", id)
		}
		return Issuer{}, err
	}
	return i, nil
}

// OpenKey opens an issuer's signing key and checks it matches the
// certificate, so a swapped key file is refused before it signs anything.
func OpenKey(i Issuer, cfg signer.Config) (signer.Signer, error) {
	s, err := signer.Open(i.KeyURI, cfg)
	if err != nil {
		return nil, fmt.Errorf("issuer %s key: %w", i.ID, err)
	}
	cert, err := i.Certificate()
	if err != nil {
		s.Close()
		return nil, err
	}
	if !publicKeysEqual(s.Public(), cert.PublicKey) {
		s.Close()
		return nil, fmt.Errorf("issuer %s: key %s does not match its certificate", i.ID, i.KeyURI)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
