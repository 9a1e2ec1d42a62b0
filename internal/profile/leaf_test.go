package profile_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/profile/profiletest"
)

func TestTemplateRefuses(t *testing.T) {
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	rootNoSKI := *issuing.Cert
	rootNoSKI.SubjectKeyId = nil
	notCA := *issuing.Cert
	notCA.IsCA = false
	p256 := profiletest.ECDSAKey(t, elliptic.P256()).Public()
	tests := []struct {
		name  string
		f     func(*profile.Params)
		field string
	}{
		{"§7.1.2.7.4 countryName required", func(p *profile.Params) { p.Subject.CountryName = "" }, "countryName"},
		{"§7.1.2.7.4 organizationName required", func(p *profile.Params) { p.Subject.OrganizationName = "" }, "organizationName"},
		{"§7.1.2.7.4 ST or L required", func(p *profile.Params) { p.Subject.StateOrProvinceName, p.Subject.LocalityName = "", "" }, "localityName"},
		{"§7.1.4.3 CN must be a SAN", func(p *profile.Params) { p.Subject.CommonName = "other.example.com" }, "commonName"},
		{"§7.1.2.7.12 SAN required", func(p *profile.Params) { p.DNSNames = nil }, "dnsNames"},
		{"upper-case DNS name", func(p *profile.Params) { p.DNSNames = []string{"WWW.example.com"} }, "dnsNames"},
		{"U-label DNS name", func(p *profile.Params) { p.DNSNames = []string{"bücher.example"} }, "dnsNames"},
		{"single-label DNS name", func(p *profile.Params) { p.DNSNames = []string{"localhost"} }, "dnsNames"},
		{"wildcard not leftmost", func(p *profile.Params) { p.DNSNames = []string{"www.*.example.com"} }, "dnsNames"},
		{"duplicate DNS name", func(p *profile.Params) { p.DNSNames = []string{"a.example.com", "a.example.com"} }, "dnsNames"},
		{"§7.1 serial zero", func(p *profile.Params) { p.Serial = big.NewInt(0) }, "serial"},
		{"§7.1 serial negative", func(p *profile.Params) { p.Serial = big.NewInt(-5) }, "serial"},
		{"§7.1 serial with 63 bits", func(p *profile.Params) { p.Serial = new(big.Int).Lsh(big.NewInt(1), 62) }, "serial"},
		{"§7.1 serial over 20 octets", func(p *profile.Params) { p.Serial = new(big.Int).Lsh(big.NewInt(1), 159) }, "serial"},
		{"§6.1.5 RSA 1024", func(p *profile.Params) { p.PublicKey = profiletest.RSAKey(t, 1024).Public() }, "publicKey"},
		{"§6.1.5 P-521", func(p *profile.Params) { p.PublicKey = profiletest.ECDSAKey(t, elliptic.P521()).Public() }, "publicKey"},
		{"no key", func(p *profile.Params) { p.PublicKey = nil }, "publicKey"},
		{"notAfter before notBefore", func(p *profile.Params) { p.NotAfter = p.NotBefore.Add(-time.Second) }, "validity"},
		{"§7.1.2.11.2 CRL DP https", func(p *profile.Params) { p.CRLDistributionPoint = "https://pki.vetca-test.com/x.crl" }, "crlDistributionPoint"},
		{"§7.1.2.11.2 CRL DP required", func(p *profile.Params) { p.CRLDistributionPoint = "" }, "crlDistributionPoint"},
		{"§7.1.2.7.7 caIssuers required", func(p *profile.Params) { p.CAIssuersURL = "" }, "caIssuersURL"},
		{"OCSP not http", func(p *profile.Params) { p.OCSPServer = "ldap://ocsp" }, "ocspServer"},
		{"§7.1.2.7.9 CPS OID may not be a reserved one", func(p *profile.Params) { p.CPSPolicyOID = "2.23.140.1.2.1" }, "cpsPolicyOID"},
		{"§7.1.2.7.9 CPS OID may not be anyPolicy", func(p *profile.Params) { p.CPSPolicyOID = "2.5.29.32.0" }, "cpsPolicyOID"},
		{"CPS OID malformed", func(p *profile.Params) { p.CPSPolicyOID = "1.3.x" }, "cpsPolicyOID"},
		{"§7.1.2.11.1 issuer without SKI", func(p *profile.Params) { p.Issuer = &rootNoSKI }, "issuer"},
		{"issuer not a CA", func(p *profile.Params) { p.Issuer = &notCA }, "issuer"},
		{"no issuer", func(p *profile.Params) { p.Issuer = nil }, "issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := leafParams(t, p256)
			p.Issuer = issuing.Cert
			tc.f(&p)
			_, err := profile.Template(p)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Field != tc.field {
				t.Fatalf("err = %v, want 400 naming %s", err, tc.field)
			}
		})
	}
}

func TestTemplateDoesNotAliasParams(t *testing.T) {
	_, issuing := profiletest.NewChain(t, issuedAt)
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P256()).Public())
	p.Issuer = issuing.Cert
	tmpl, err := profile.Template(p)
	if err != nil {
		t.Fatal(err)
	}
	p.DNSNames[0] = "changed.example.com"
	p.Serial.SetInt64(7)
	if tmpl.DNSNames[0] == "changed.example.com" || tmpl.SerialNumber.Int64() == 7 {
		t.Fatal("the template shares memory with the params")
	}
	if tmpl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm %v", tmpl.SignatureAlgorithm)
	}
}
