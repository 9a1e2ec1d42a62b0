package br_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/br"
)

// lintStatus runs the named zlint lints on der and returns each one's status.
func lintStatus(t *testing.T, der []byte, names ...string) map[string]lint.LintStatus {
	t.Helper()
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeNames: names})
	if err != nil {
		t.Fatal(err)
	}
	rs := zlint.LintCertificateEx(c, reg)
	out := map[string]lint.LintStatus{}
	for _, n := range names {
		r, ok := rs.Results[n]
		if !ok {
			t.Fatalf("lint %s did not run", n)
		}
		out[n] = r.Status
	}
	return out
}

// TestValidityAgreesWithZlint builds real certificates whose validity comes
// from br.NotAfter and checks that zlint's BR §6.3.2 lints agree on both
// sides of every boundary: MaxValidity passes the error lint and one second
// more fails it; RecommendedMaxValidity passes the warning lint and one
// second more warns.
func TestValidityAgreesWithZlint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(nb, na time.Time) []byte {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "www.example.com"},
			DNSNames:     []string{"www.example.com"},
			NotBefore:    nb,
			NotAfter:     na,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rows := []struct {
		nb         string
		must, warn string
	}{
		{"2025-06-01T00:00:00Z", "e_tls_server_cert_valid_time_longer_than_398_days", "w_tls_server_cert_valid_time_longer_than_397_days"},
		{"2026-03-15T00:00:00Z", "e_server_cert_valid_time_longer_than_200_days", "w_server_cert_valid_time_longer_than_199_days"},
		{"2027-03-15T00:00:00Z", "e_server_cert_valid_time_longer_than_100_days", "w_server_cert_valid_time_longer_than_99_days"},
		{"2029-03-15T00:00:00Z", "e_server_cert_valid_time_longer_than_47_days", "w_server_cert_valid_time_longer_than_46_days"},
	}
	for _, r := range rows {
		nb, _ := time.Parse(time.RFC3339, r.nb)
		for _, c := range []struct {
			days      int
			rule      string
			okLint    string
			overLint  string
			overState lint.LintStatus
		}{
			{br.MaxValidity(nb), "MUST", r.must, r.must, lint.Error},
			{br.RecommendedMaxValidity(nb), "SHOULD", r.warn, r.warn, lint.Warn},
		} {
			na, err := br.NotAfter(nb, nb, c.days)
			if err != nil {
				t.Fatal(err)
			}
			if st := lintStatus(t, cert(nb, na), c.okLint)[c.okLint]; st != lint.Pass {
				t.Errorf("BR §6.3.2 %s %d days from %s: %s = %s, want pass", c.rule, c.days, r.nb, c.okLint, st)
			}
			if st := lintStatus(t, cert(nb, na.Add(time.Second)), c.overLint)[c.overLint]; st != c.overState {
				t.Errorf("BR §6.3.2 %s %d days + 1 s from %s: %s = %s, want %s", c.rule, c.days, r.nb, c.overLint, st, c.overState)
			}
			if err := br.CheckValidity(nb, nb, na.Add(time.Second)); c.rule == "MUST" && err == nil {
				t.Errorf("br.CheckValidity accepts what zlint rejects (%s)", r.nb)
			}
		}
	}
}

// TestCRLNextUpdateAgreesWithZlint checks br.CRLMaxValidity against zlint's
// e_crl_next_update_invalid (BR §7.2) on real CRLs.
func TestCRLNextUpdateAgreesWithZlint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign,
		SubjectKeyId: []byte{1, 2, 3, 4},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	const name = "e_crl_next_update_invalid"
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeNames: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	tu := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		nu   time.Time
		want lint.LintStatus
	}{
		{tu.Add(br.CRLMaxValidity), lint.Pass},
		{tu.Add(br.CRLMaxValidity + time.Second), lint.Error},
	} {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: tu, NextUpdate: c.nu,
		}, caCert, key)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := zx509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		st := zlint.LintRevocationListEx(crl, reg).Results[name].Status
		if st != c.want {
			t.Errorf("BR §7.2 nextUpdate %s after thisUpdate: zlint %s, want %s", c.nu.Sub(tu), st, c.want)
		}
		if (br.CheckCRLValidity(tu, c.nu) == nil) != (c.want == lint.Pass) {
			t.Errorf("br.CheckCRLValidity disagrees with zlint at %s", c.nu.Sub(tu))
		}
	}
}
