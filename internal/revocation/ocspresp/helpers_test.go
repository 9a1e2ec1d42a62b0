package ocspresp_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// t0 is the fixed "now" of these tests; nothing reads the wall clock.
var t0 = time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)

type testCA struct {
	name string
	cert *x509.Certificate
	key  crypto.Signer
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newCA(name string, key crypto.Signer, ku x509.KeyUsage) *testCA {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x4242424242),
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"vetca test"}, CommonName: "vetca test CA " + name},
		NotBefore:             t0.AddDate(-1, 0, 0),
		NotAfter:              t0.AddDate(5, 0, 0),
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert := must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key))))
	return &testCA{name: name, cert: cert, key: key}
}

const caKU = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature

var (
	ecdsaCA = sync.OnceValue(func() *testCA {
		return newCA("ECDSA P-256", must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), caKU)
	})
	rsaCA = sync.OnceValue(func() *testCA {
		return newCA("RSA 2048", must(rsa.GenerateKey(rand.Reader, 2048)), caKU)
	})
)

// leaf issues a minimal end-entity certificate with the given serial.
func leaf(ca *testCA, serial *big.Int) *x509.Certificate {
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "leaf.vetca.test"},
		DNSNames:     []string{"leaf.vetca.test"},
		NotBefore:    t0.AddDate(0, -1, 0),
		NotAfter:     t0.AddDate(0, 2, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key))))
}

// delegated issues a delegated responder certificate from ResponderTemplate.
func delegated(ca *testCA, notAfter time.Time) (*x509.Certificate, crypto.Signer) {
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := must(ocspresp.ResponderTemplate(ca.cert, key.Public(), new(big.Int).Lsh(big.NewInt(0x7a), 64), t0.Add(-24*time.Hour), notAfter))
	cert := must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key))))
	return cert, key
}

// signerSetup is one way of signing: by the issuer or by a delegated
// responder.
type signerSetup struct {
	name string
	ca   *testCA
	cfg  ocspresp.SignerConfig
}

var setups = sync.OnceValue(func() []signerSetup {
	var out []signerSetup
	for _, ca := range []*testCA{ecdsaCA(), rsaCA()} {
		out = append(out, signerSetup{ca.name + "/issuer", ca, ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key}})
		rc, rk := delegated(ca, t0.AddDate(0, 1, 0))
		out = append(out, signerSetup{ca.name + "/delegated", ca, ocspresp.SignerConfig{Issuer: ca.cert, Key: rk, Responder: rc}})
	}
	return out
})

func goodResponse(serial *big.Int) ocspresp.Response {
	return ocspresp.Response{
		Serial:     serial,
		Status:     ocspresp.Good,
		ThisUpdate: t0,
		NextUpdate: t0.Add(4 * 24 * time.Hour),
		ProducedAt: t0,
	}
}
