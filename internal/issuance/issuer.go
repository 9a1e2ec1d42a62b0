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
// (or uses the HSM for the issuing key) and records both issuers.
func CreateHierarchy(ctx context.Context, db *store.DB, rec *audit.Recorder, by actor.Actor, o HierarchyOptions) ([]Issuer, error) {
	keyDir, err := keyDirectory(o.KeyDir)
	if err != nil {
		return nil, err
	}
	rootID := ids.New("iss")
	rootKey, err := signer.GenerateFile(filepath.Join(keyDir, rootID+".key.pem"), o.RootAlg)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
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
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return newTables(rec).issuers.Insert(ctx, tx, by, actIssuerCreated, root)
	}); err != nil {
		return nil, err
	}
	iss, err := CreateIntermediate(ctx, db, rec, by, root, IntermediateOptions{
		KeyDir: keyDir, PublicURL: o.PublicURL, Organization: o.Organization, Country: o.Country,
		CommonName: o.IssuingName, Alg: o.IssuingAlg, KeyURI: o.IssuerKeyURI, Signer: o.Signer, Now: now,
	})
	if err != nil {
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
func CreateIntermediate(ctx context.Context, db *store.DB, rec *audit.Recorder, by actor.Actor, root Issuer, o IntermediateOptions) (Issuer, error) {
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
	var key signer.Signer
	if o.KeyURI != "" {
		key, err = signer.OpenPKCS11(o.KeyURI, o.Signer)
		if err != nil {
			key, err = signer.GeneratePKCS11(o.KeyURI, o.Signer, o.Alg)
		}
		if err != nil {
			return Issuer{}, fmt.Errorf("--issuer-key %s: %w", o.KeyURI, err)
		}
	} else if key, err = signer.GenerateFile(filepath.Join(keyDir, id+".key.pem"), o.Alg); err != nil {
		return Issuer{}, fmt.Errorf("issuing key: %w", err)
	}
	defer key.Close()
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
		existing, err := ListIssuers(ctx, rec, db)
		if err != nil {
			return Issuer{}, err
		}
		n := 1
		for _, e := range existing {
			if e.Kind == KindIntermediate {
				n++
			}
		}
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
	iss, err := newIssuer(id, KindIntermediate, root.ID, cert, key, now)
	if err != nil {
		return Issuer{}, err
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		return newTables(rec).issuers.Insert(ctx, tx, by, actIssuerCreated, iss)
	})
	return iss, err
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
