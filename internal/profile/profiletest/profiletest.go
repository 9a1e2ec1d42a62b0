// Package profiletest builds throwaway CA hierarchies for tests with the
// real CA profiles of internal/profile: a root and an issuing CA, signed
// with real keys and real crypto/x509.
package profiletest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"github.com/vetca/vetca/internal/br"
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/profile"
)

// CA is a CA certificate and its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// PEM returns the certificate in PEM form.
func (c *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// Base URLs that test certificates point at. They use a public suffix so
// that zlint's internal-name lints stay quiet; nothing fetches them.
const (
	RootCertURL         = "http://pki.vetca-test.com/root.crt"
	RootCRLURL          = "http://pki.vetca-test.com/root.crl"
	IntermediateCertURL = "http://pki.vetca-test.com/issuing.crt"
	IntermediateCRLURL  = "http://pki.vetca-test.com/crl/issuing-0.crl"
)

// Serial returns a random positive 128-bit serial with its top bit set, so
// it always has 128 bits.
func Serial(t testing.TB) *big.Int {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] |= 0x80
	return new(big.Int).SetBytes(b)
}

// ECDSAKey generates an ECDSA key on curve c.
func ECDSAKey(t testing.TB, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSAKey generates an RSA key of the given size.
func RSAKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewRoot makes a self-signed root CA with RootCATemplate, valid for 20
// years from notBefore.
func NewRoot(t testing.TB, key crypto.Signer, subject profile.Subject, notBefore time.Time) *CA {
	t.Helper()
	tmpl, err := profile.RootCATemplate(profile.CAParams{
		Subject:   subject,
		PublicKey: key.Public(),
		Serial:    Serial(t),
		NotBefore: notBefore,
		NotAfter:  notBefore.AddDate(20, 0, 0),
	})
	if err != nil {
		t.Fatalf("root template: %v", err)
	}
	return sign(t, tmpl, tmpl, key, key)
}

// NewIntermediate makes an issuing CA under parent with
// IntermediateCATemplate, valid for 5 years from notBefore.
func NewIntermediate(t testing.TB, parent *CA, key crypto.Signer, subject profile.Subject, notBefore time.Time) *CA {
	t.Helper()
	tmpl, err := profile.IntermediateCATemplate(profile.CAParams{
		Subject:              subject,
		PublicKey:            key.Public(),
		Serial:               Serial(t),
		NotBefore:            notBefore,
		NotAfter:             notBefore.AddDate(5, 0, 0),
		CRLDistributionPoint: RootCRLURL,
		CAIssuersURL:         RootCertURL,
	}, parent.Cert)
	if err != nil {
		t.Fatalf("intermediate template: %v", err)
	}
	return sign(t, tmpl, parent.Cert, key, parent.Key)
}

// NewChain makes a P-384 root and a P-256 issuing CA under it, both valid
// from notBefore.
func NewChain(t testing.TB, notBefore time.Time) (root, issuing *CA) {
	t.Helper()
	root = NewRoot(t, ECDSAKey(t, elliptic.P384()), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test Root R1",
	}, notBefore)
	issuing = NewIntermediate(t, root, ECDSAKey(t, elliptic.P256()), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test OV Issuing CA E1",
	}, notBefore)
	return root, issuing
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *CA {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("signing CA certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: c, Key: key}
}

// NotAfter is br.NotAfter for tests: the notAfter of a days-long validity
// period starting at nb (BR §6.3.2, inclusive).
func NotAfter(t testing.TB, nb time.Time, days int) time.Time {
	t.Helper()
	na, err := br.NotAfter(nb, nb, days)
	if err != nil {
		t.Fatal(err)
	}
	return na
}
