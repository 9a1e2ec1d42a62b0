package profile_test

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/profile/profiletest"
)

// A fixed issuance date, after the BR §6.3.2 200-day step (2026-03-15).
var issuedAt = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// vetted is an OV subject as a verified organization version would give it
// (no commonName: BR §7.1.2.7.4 NOT RECOMMENDED).
var vetted = profile.Subject{
	CountryName:         "MM",
	StateOrProvinceName: "Yangon",
	LocalityName:        "Yangon",
	PostalCode:          "11181",
	StreetAddress:       "1 Strand Road",
	OrganizationName:    "Example Trading Co., Ltd.",
}

const cpsOID = "1.3.6.1.4.1.99999.1.1"

func leafParams(t *testing.T, pub crypto.PublicKey) profile.Params {
	return profile.Params{
		Subject:              vetted,
		DNSNames:             []string{"www.example.com", "example.com", "*.shop.example.com"},
		PublicKey:            pub,
		Serial:               profiletest.Serial(t),
		NotBefore:            issuedAt,
		NotAfter:             profiletest.NotAfter(t, issuedAt, 199),
		CRLDistributionPoint: profiletest.IntermediateCRLURL,
		CAIssuersURL:         profiletest.IntermediateCertURL,
		CPSPolicyOID:         cpsOID,
	}
}

func newLinter(t testing.TB, opts ...lint.Option) *lint.Linter {
	t.Helper()
	l, err := lint.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// countingSigner counts how often the real key is asked to sign.
type countingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (c *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, d, o)
}

func TestIssueECDSAChain(t *testing.T) {
	root, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	leafKey := profiletest.ECDSAKey(t, elliptic.P256())
	l := newLinter(t)
	p := leafParams(t, leafKey.Public())
	p.OCSPServer = "http://ocsp.vetca-test.com"

	prep, err := profile.Prepare(p, issuing.Cert, l, vetted, vetted)
	if err != nil {
		t.Fatal(err)
	}
	der, err := prep.Sign(issuing.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	// docs/design.md §6: the signed TBS is byte for byte the linted one.
	if !bytes.Equal(c.RawTBSCertificate, prep.TBS()) {
		t.Fatal("signed TBSCertificate differs from the linted one")
	}
	if h := prep.TBSHash(); h != sha256.Sum256(c.RawTBSCertificate) {
		t.Fatal("TBSHash is not the SHA-256 of the signed TBSCertificate")
	}
	lc, err := x509.ParseCertificate(prep.LintCertificate())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(lc.Signature, c.Signature) || lc.CheckSignatureFrom(issuing.Cert) == nil {
		t.Fatal("the linting certificate verifies under the real issuer")
	}
	if err := c.CheckSignatureFrom(issuing.Cert); err != nil {
		t.Fatalf("real certificate does not verify: %v", err)
	}

	checkLeaf(t, c, p, issuing.Cert, x509.KeyUsageDigitalSignature)
	if len(c.OCSPServer) != 1 || c.OCSPServer[0] != p.OCSPServer {
		t.Errorf("OCSP = %v", c.OCSPServer)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm %v, want ECDSA-SHA256 for a P-256 issuer (BR §7.1.3.2.2)", c.SignatureAlgorithm)
	}
	checkZlintClean(t, l, der)
	opensslVerify(t, root.Cert, issuing.Cert, c)
}

func TestIssueRSAChain(t *testing.T) {
	nb := issuedAt.AddDate(0, -1, 0)
	root := profiletest.NewRoot(t, profiletest.RSAKey(t, 3072), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test Root RSA",
	}, nb)
	issuing := profiletest.NewIntermediate(t, root, profiletest.RSAKey(t, 2048), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test OV Issuing CA R1",
	}, nb)
	leafKey := profiletest.RSAKey(t, 2048)
	l := newLinter(t)
	p := leafParams(t, leafKey.Public())
	prep, err := profile.Prepare(p, issuing.Cert, l, vetted)
	if err != nil {
		t.Fatal(err)
	}
	der, err := prep.Sign(issuing.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.RawTBSCertificate, prep.TBS()) {
		t.Fatal("signed TBSCertificate differs from the linted one")
	}
	// BR §7.1.2.7.11: RSA subscriber keys get keyEncipherment as well.
	checkLeaf(t, c, p, issuing.Cert, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment)
	if c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature algorithm %v", c.SignatureAlgorithm)
	}
	checkZlintClean(t, l, der)
	checkZlintClean(t, l, root.Cert.Raw)
	checkZlintClean(t, l, issuing.Cert.Raw)
	opensslVerify(t, root.Cert, issuing.Cert, c)
}

// P-384 issuer: BR §7.1.3.2.2 pairs P-384 with ecdsa-with-SHA384, and the
// throwaway issuer must produce the same algorithm identifier in the TBS.
func TestIssueUnderP384Issuer(t *testing.T) {
	nb := issuedAt.AddDate(0, -1, 0)
	root := profiletest.NewRoot(t, profiletest.ECDSAKey(t, elliptic.P384()), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test Root E2",
	}, nb)
	issuing := profiletest.NewIntermediate(t, root, profiletest.ECDSAKey(t, elliptic.P384()), profile.Subject{
		CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca Test OV Issuing CA E2",
	}, nb)
	l := newLinter(t)
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P384()).Public())
	prep, err := profile.Prepare(p, issuing.Cert, l, vetted)
	if err != nil {
		t.Fatal(err)
	}
	der, err := prep.Sign(issuing.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	if c.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("signature algorithm %v, want ECDSA-SHA384", c.SignatureAlgorithm)
	}
	opensslVerify(t, root.Cert, issuing.Cert, c)
}

func checkLeaf(t *testing.T, c *x509.Certificate, p profile.Params, issuer *x509.Certificate, ku x509.KeyUsage) {
	t.Helper()
	wantSubject, err := profile.EncodeSubject(p.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.RawSubject, wantSubject) {
		t.Error("RawSubject is not the §7.1.4.2 encoding of the vetted subject")
	}
	if !bytes.Equal(c.RawIssuer, issuer.RawSubject) {
		t.Error("issuer name differs from the issuer's subject")
	}
	if c.SerialNumber.Cmp(p.Serial) != 0 {
		t.Error("serial differs")
	}
	if !c.NotBefore.Equal(p.NotBefore) || !c.NotAfter.Equal(p.NotAfter) {
		t.Errorf("validity %s..%s", c.NotBefore, c.NotAfter)
	}
	if c.KeyUsage != ku {
		t.Errorf("key usage %b, want %b", c.KeyUsage, ku)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU %v %v, want serverAuth only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if len(c.SubjectKeyId) != 0 {
		t.Error("leaf has a subjectKeyIdentifier (BR §7.1.2.7.6: NOT RECOMMENDED)")
	}
	if !bytes.Equal(c.AuthorityKeyId, issuer.SubjectKeyId) {
		t.Error("authorityKeyIdentifier is not the issuer's subjectKeyIdentifier")
	}
	var pol []string
	for _, o := range c.Policies {
		pol = append(pol, o.String())
	}
	if strings.Join(pol, ",") != profile.OIDOrganizationValidated+","+cpsOID {
		t.Errorf("policies %v, want OV first then the CPS OID", pol)
	}
	if strings.Join(c.DNSNames, ",") != strings.Join(p.DNSNames, ",") || len(c.IPAddresses)+len(c.EmailAddresses)+len(c.URIs) != 0 {
		t.Errorf("SAN %v", c.DNSNames)
	}
	if len(c.CRLDistributionPoints) != 1 || c.CRLDistributionPoints[0] != p.CRLDistributionPoint {
		t.Errorf("CRLDP %v", c.CRLDistributionPoints)
	}
	if len(c.IssuingCertificateURL) != 1 || c.IssuingCertificateURL[0] != p.CAIssuersURL {
		t.Errorf("caIssuers %v", c.IssuingCertificateURL)
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) {
			t.Error("basicConstraints present in a subscriber certificate")
		}
	}
	if c.IsCA {
		t.Error("leaf is a CA")
	}
}

// Every issued certificate passes zlint with nothing above notice except
// the documented unavoidable warning.
func checkZlintClean(t *testing.T, l *lint.Linter, der []byte) {
	t.Helper()
	r, err := l.LintCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, f := range r.Findings {
		if f.Status == zlint.Warn && f.Tolerated == "" || f.Status > zlint.Warn {
			t.Errorf("finding %+v", f)
		}
	}
}

func opensslVerify(t *testing.T, root, issuing, leaf *x509.Certificate) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	write := func(name string, c *x509.Certificate) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := strconv.FormatInt(leaf.NotBefore.Add(time.Hour).Unix(), 10)
	out, err := exec.Command("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-attime", at,
		"-CAfile", write("root.pem", root), "-untrusted", write("issuing.pem", issuing),
		write("leaf.pem", leaf)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

// The root and issuing CA profiles pass zlint's CA lints with no finding
// above notice.
func TestCATemplatesPassZlint(t *testing.T) {
	root, issuing := profiletest.NewChain(t, issuedAt)
	l := newLinter(t)
	for _, c := range []*x509.Certificate{root.Cert, issuing.Cert} {
		r, err := l.LintCertificate(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); err != nil {
			t.Errorf("%s: %v", c.Subject, err)
		}
		for _, f := range r.Findings {
			if f.Status >= zlint.Warn {
				t.Errorf("%s: %+v", c.Subject, f)
			}
		}
	}
	// BR §7.1.2.1 / §7.1.2.6 shapes, checked directly.
	if !root.Cert.IsCA || root.Cert.MaxPathLen != -1 || len(root.Cert.ExtKeyUsage) != 0 || len(root.Cert.Policies) != 0 ||
		len(root.Cert.SubjectKeyId) != 20 || len(root.Cert.CRLDistributionPoints) != 0 {
		t.Error("root shape is wrong")
	}
	if !issuing.Cert.IsCA || issuing.Cert.MaxPathLen != 0 || !issuing.Cert.MaxPathLenZero ||
		len(issuing.Cert.ExtKeyUsage) != 1 || issuing.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth ||
		!bytes.Equal(issuing.Cert.AuthorityKeyId, root.Cert.SubjectKeyId) || len(issuing.Cert.CRLDistributionPoints) != 1 ||
		len(issuing.Cert.Policies) != 1 || issuing.Cert.Policies[0].String() != profile.OIDOrganizationValidated {
		t.Error("issuing CA shape is wrong")
	}
	if issuing.Cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature {
		t.Errorf("issuing CA key usage %b", issuing.Cert.KeyUsage)
	}
}

func TestCATemplatesRefuse(t *testing.T) {
	key := profiletest.ECDSAKey(t, elliptic.P256())
	base := profile.CAParams{
		Subject:   profile.Subject{CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "Root"},
		PublicKey: key.Public(), Serial: profiletest.Serial(t),
		NotBefore: issuedAt, NotAfter: issuedAt.AddDate(20, 0, 0),
	}
	cases := []struct {
		name string
		f    func(*profile.CAParams)
	}{
		{"§7.1.2.10.2 no commonName", func(p *profile.CAParams) { p.Subject.CommonName = "" }},
		{"§7.1.2.10.2 no organizationName", func(p *profile.CAParams) { p.Subject.OrganizationName = "" }},
		{"§7.1.2.1 root with a CRL DP", func(p *profile.CAParams) { p.CRLDistributionPoint = profiletest.RootCRLURL }},
		{"§7.1.2.1.1 root over 9132 days", func(p *profile.CAParams) { p.NotAfter = issuedAt.AddDate(26, 0, 0) }},
		{"§6.1.5 RSA 1024", func(p *profile.CAParams) { p.PublicKey = profiletest.RSAKey(t, 1024).Public() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.f(&p)
			if _, err := profile.RootCATemplate(p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	root := profiletest.NewRoot(t, key, base.Subject, issuedAt)
	p := base
	p.PublicKey = profiletest.ECDSAKey(t, elliptic.P256()).Public()
	if _, err := profile.IntermediateCATemplate(p, root.Cert); err == nil {
		t.Error("§7.1.2.6 issuing CA without CRL DP accepted")
	}
}

// docs/design.md §6: a TBS that fails any lint is
// never signed by the real key, and the failure names the lint.
func TestPrepareRefusesWhenALintFails(t *testing.T) {
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	forced := &zlint.CertificateLint{
		LintMetadata: zlint.LintMetadata{Name: "e_test_forced_failure", Source: lint.Source, Citation: "test hook"},
		Lint:         func() zlint.CertificateLintInterface { return alwaysFail{} },
	}
	l := newLinter(t, lint.WithExtraLints(forced))
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P256()).Public())
	prep, err := profile.Prepare(p, issuing.Cert, l, vetted)
	if err == nil || prep != nil {
		t.Fatal("prepared despite a failing lint")
	}
	var le *lint.Error
	if !errors.As(err, &le) || strings.Join(le.Lints(), ",") != "e_test_forced_failure" {
		t.Fatalf("err = %v, want a lint error naming e_test_forced_failure only", err)
	}
	if !strings.Contains(err.Error(), "e_test_forced_failure") {
		t.Errorf("message does not name the lint: %v", err)
	}
}

type alwaysFail struct{}

func (alwaysFail) CheckApplies(*zx509.Certificate) bool { return true }
func (alwaysFail) Execute(*zx509.Certificate) *zlint.LintResult {
	return &zlint.LintResult{Status: zlint.Error, Details: "forced by the test"}
}

// Seed 2 (Bugzilla 1559376): the certificate says C=GH while the vetted
// record says C=LR. The country is valid, so only the comparison with the
// vetted subjects catches it.
func TestPrepareRefusesSubjectThatIsNotVetted(t *testing.T) {
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	l := newLinter(t)
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P256()).Public())
	p.Subject = profile.Subject{CountryName: "GH", LocalityName: "Monrovia", OrganizationName: "Example Liberia Inc."}
	snapshot := p.Subject
	verified := profile.Subject{CountryName: "LR", LocalityName: "Monrovia", OrganizationName: "Example Liberia Inc."}

	_, err := profile.Prepare(p, issuing.Cert, l, snapshot, verified)
	var le *lint.Error
	if !errors.As(err, &le) || strings.Join(le.Lints(), ",") != lint.LintSubjectNotVetted {
		t.Fatalf("err = %v, want %s", err, lint.LintSubjectNotVetted)
	}
	if !strings.Contains(err.Error(), `expected subject #2: countryName is "GH", vetted "LR"`) {
		t.Errorf("message does not name the attribute: %v", err)
	}
	// The same certificate prepared against matching subjects passes.
	verified.CountryName = "GH"
	if _, err := profile.Prepare(p, issuing.Cert, l, snapshot, verified); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareRequiresExpectedSubjectAndMatchingIssuer(t *testing.T) {
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	_, other := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	l := newLinter(t)
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P256()).Public())
	if _, err := profile.Prepare(p, issuing.Cert, l); err == nil {
		t.Error("prepared without an expected subject")
	}
	p.Issuer = other.Cert
	if _, err := profile.Prepare(p, issuing.Cert, l, vetted); err == nil {
		t.Error("prepared with params naming another issuer")
	}
	p.Issuer = nil
	if _, err := profile.Prepare(p, issuing.Cert, nil, vetted); err == nil {
		t.Error("prepared without a linter")
	}
}

func prepared(t *testing.T) (*profile.Prepared, *profiletest.CA) {
	t.Helper()
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	p := leafParams(t, profiletest.ECDSAKey(t, elliptic.P256()).Public())
	prep, err := profile.Prepare(p, issuing.Cert, newLinter(t), vetted)
	if err != nil {
		t.Fatal(err)
	}
	return prep, issuing
}

func TestSignOnlyOnce(t *testing.T) {
	prep, issuing := prepared(t)
	if _, err := prep.Sign(issuing.Key); err != nil {
		t.Fatal(err)
	}
	cs := &countingSigner{Signer: issuing.Key}
	if _, err := prep.Sign(cs); !errors.Is(err, profile.ErrAlreadySigned) {
		t.Fatalf("second Sign: %v, want ErrAlreadySigned", err)
	}
	if cs.n.Load() != 0 {
		t.Error("the key was used by a second Sign")
	}
}

// A Prepared changed between lint and sign is refused, and the real key is
// never asked to sign anything.
func TestSignRefusesTamperedPrepared(t *testing.T) {
	tamper := []struct {
		name string
		f    func(*profile.Prepared)
	}{
		{"notAfter extended", func(p *profile.Prepared) {
			profile.TamperTemplate(p, func(c *x509.Certificate) { c.NotAfter = c.NotAfter.Add(time.Hour) })
		}},
		{"SAN added", func(p *profile.Prepared) {
			profile.TamperTemplate(p, func(c *x509.Certificate) { c.DNSNames = append(c.DNSNames, "evil.example.net") })
		}},
		{"serial changed", func(p *profile.Prepared) {
			profile.TamperTemplate(p, func(c *x509.Certificate) { c.SerialNumber = new(big.Int).Add(c.SerialNumber, big.NewInt(1)) })
		}},
		{"subject changed", func(p *profile.Prepared) {
			profile.TamperTemplate(p, func(c *x509.Certificate) {
				c.RawSubject, _ = profile.EncodeSubject(profile.Subject{CountryName: "AD", LocalityName: "Yangon", OrganizationName: vetted.OrganizationName})
			})
		}},
		{"recorded TBS changed", func(p *profile.Prepared) {
			profile.TamperTBS(p, func(b []byte) []byte { b = append([]byte(nil), b...); b[len(b)-1] ^= 1; return b })
		}},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			prep, issuing := prepared(t)
			tc.f(prep)
			cs := &countingSigner{Signer: issuing.Key}
			der, err := prep.Sign(cs)
			if !errors.Is(err, profile.ErrTBSMismatch) || der != nil {
				t.Fatalf("Sign = %d bytes, %v; want ErrTBSMismatch", len(der), err)
			}
			if n := cs.n.Load(); n != 0 {
				t.Fatalf("the real key signed %d times", n)
			}
		})
	}
}

func TestSignRefusesAKeyThatIsNotTheIssuers(t *testing.T) {
	prep, _ := prepared(t)
	if _, err := prep.Sign(profiletest.ECDSAKey(t, elliptic.P256())); err == nil {
		t.Fatal("signed with a key that does not match the issuer certificate")
	}
}
