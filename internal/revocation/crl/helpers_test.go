package crl_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// testCA is a throwaway issuing CA.
type testCA struct {
	name string
	cert *x509.Certificate
	key  crypto.Signer
}

// t0 is the fixed "now" of these tests; nothing reads the wall clock.
var t0 = time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)

func newCA(name string, key crypto.Signer) *testCA {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x1234567890),
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"vetca test"}, CommonName: "vetca test CA " + name},
		NotBefore:             t0.AddDate(-1, 0, 0),
		NotAfter:              t0.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	if len(cert.SubjectKeyId) == 0 {
		panic("test CA has no SKI")
	}
	return &testCA{name: name, cert: cert, key: key}
}

var (
	ecdsaCA = sync.OnceValue(func() *testCA {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return newCA("ECDSA P-256", k)
	})
	rsaCA = sync.OnceValue(func() *testCA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return newCA("RSA 2048", k)
	})
)

// corpusCA is a CA whose key is fixed, so that CRLs in the fuzz corpus
// verify under it in every run.
var corpusCA = sync.OnceValue(func() *testCA {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		panic(err)
	}
	return newCA("corpus ECDSA P-256", k)
})

// cas returns both throwaway CAs.
func cas() []*testCA { return []*testCA{ecdsaCA(), rsaCA()} }

const testURL = "http://crl.vetca.test/crl/7f3a9c/3.crl"

// randomSerial returns a positive serial of 64 to 159 bits, like the ones
// vetca issues (package serial).
func randomSerial(r *mrand.Rand) *big.Int {
	bitsLen := 64 + r.IntN(96)
	b := make([]byte, (bitsLen+7)/8)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	s := new(big.Int).SetBytes(b)
	s.SetBit(s, bitsLen-1, 1)
	for s.BitLen() > 159 {
		s.Rsh(s, 1)
	}
	return s
}

var reasonCycle = []int{0, 1, 3, 4, 5, 9}

// makeEntries returns n entries with random serials, cycling through every
// allowed reason, revoked at or before t0.
func makeEntries(n int, seed uint64) []crl.Entry {
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]crl.Entry, n)
	for i := range out {
		out[i] = crl.Entry{
			Serial:    randomSerial(r),
			RevokedAt: t0.Add(-time.Duration(r.IntN(90*24*3600)) * time.Second),
			Reason:    reasonCycle[i%len(reasonCycle)],
		}
	}
	return out
}

func params(ca *testCA, entries []crl.Entry) crl.Params {
	return crl.Params{
		Issuer:     ca.cert,
		Signer:     ca.key,
		URL:        testURL,
		Number:     big.NewInt(42),
		ThisUpdate: t0,
		NextUpdate: t0.Add(7 * 24 * time.Hour),
		Entries:    entries,
	}
}

// stdlibTemplate is the same CRL expressed for x509.CreateRevocationList,
// with the IDP supplied as an extra extension.
func stdlibTemplate(p crl.Params) *x509.RevocationList {
	rl := &x509.RevocationList{
		Number:     p.Number,
		ThisUpdate: p.ThisUpdate,
		NextUpdate: p.NextUpdate,
		ExtraExtensions: []pkix.Extension{{
			Id: []int{2, 5, 29, 28}, Critical: true, Value: crl.IssuingDistributionPoint(p.URL),
		}},
		RevokedCertificateEntries: make([]x509.RevocationListEntry, len(p.Entries)),
	}
	for i, e := range p.Entries {
		rl.RevokedCertificateEntries[i] = x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason}
	}
	return rl
}
