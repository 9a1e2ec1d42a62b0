package lint_test

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlintv3 "github.com/zmap/zlint/v3"
	zlint "github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/profile/profiletest"
)

var issuedAt = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

var vetted = profile.Subject{
	CountryName:         "MM",
	StateOrProvinceName: "Yangon",
	LocalityName:        "Yangon",
	PostalCode:          "11181",
	StreetAddress:       "1 Strand Road",
	OrganizationName:    "Example Trading Co., Ltd.",
}

type fixture struct {
	l       *lint.Linter
	issuing *profiletest.CA
}

func newFixture(t testing.TB, opts ...lint.Option) *fixture {
	t.Helper()
	l, err := lint.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	_, issuing := profiletest.NewChain(t, issuedAt.AddDate(0, -1, 0))
	return &fixture{l: l, issuing: issuing}
}

// leaf builds a profile-conformant template, lets mutate change it (to
// produce certificates the profile would refuse), and signs it under the
// throwaway issuer.
func (f *fixture) leaf(t testing.TB, mutate func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl, err := profile.Template(profile.Params{
		Subject:              vetted,
		DNSNames:             []string{"www.example.com", "example.com"},
		PublicKey:            profiletest.ECDSAKey(t, elliptic.P256()).Public(),
		Serial:               profiletest.Serial(t),
		NotBefore:            issuedAt,
		NotAfter:             profiletest.NotAfter(t, issuedAt, 199),
		Issuer:               f.issuing.Cert,
		CRLDistributionPoint: profiletest.IntermediateCRLURL,
		CAIssuersURL:         profiletest.IntermediateCertURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := f.l.SignLintCertificate(tmpl, f.issuing.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type atv struct {
	oid   asn1.ObjectIdentifier
	tag   int
	value string
}

var (
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidL      = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidStreet = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
)

func C(v string) atv  { return atv{oidC, asn1.TagPrintableString, v} }
func ST(v string) atv { return atv{oidST, asn1.TagUTF8String, v} }
func L(v string) atv  { return atv{oidL, asn1.TagUTF8String, v} }
func O(v string) atv  { return atv{oidO, asn1.TagUTF8String, v} }

// name encodes RDNs by hand; each argument is one RDN.
func name(t testing.TB, rdns ...[]atv) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, rdn := range rdns {
		var set pkix.RelativeDistinguishedNameSET
		for _, a := range rdn {
			set = append(set, pkix.AttributeTypeAndValue{Type: a.oid,
				Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: []byte(a.value)}})
		}
		seq = append(seq, set)
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func one(a ...atv) [][]atv {
	out := make([][]atv, len(a))
	for i := range a {
		out[i] = []atv{a[i]}
	}
	return out
}

func withSubject(t testing.TB, rdns [][]atv) func(*x509.Certificate) {
	raw := name(t, rdns...)
	return func(c *x509.Certificate) { c.RawSubject = raw }
}

func status(t *testing.T, r *lint.Report, lintName string) zlint.LintStatus {
	t.Helper()
	s, ok := r.Status(lintName)
	if !ok {
		t.Fatalf("lint %s did not run", lintName)
	}
	return s
}

func TestFilteredRegistryDropsOnlyTheEMudhraLint(t *testing.T) {
	l, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	all := zlint.GlobalRegistry().Names()
	got := l.Registry().Names()
	if len(got) != len(all)-1 {
		t.Fatalf("filtered registry has %d lints, global %d; want exactly one fewer", len(got), len(all))
	}
	for _, n := range got {
		if n == "e_cert_issued_by_compromised_emudhra_ca" {
			t.Fatal("the eMudhra lint is still registered")
		}
	}
	if zlint.GlobalRegistry().ByName("e_cert_issued_by_compromised_emudhra_ca") == nil {
		t.Fatal("zlint no longer has the eMudhra lint; revisit the filter")
	}
}

func TestProfileLeafIsClean(t *testing.T) {
	f := newFixture(t)
	r, err := f.l.LintCertificate(f.leaf(t, nil), vetted, vetted)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{lint.LintSubjectRDNOrder, lint.LintSubjectAttributeEncoding, lint.LintSubjectAttributeAllowed,
		lint.LintSubjectPlaceholder, lint.LintSubjectCountry, lint.LintSubjectState, lint.LintValidityCap,
		lint.LintOVPolicy, lint.LintSubjectNotVetted} {
		if s := status(t, r, n); s != zlint.Pass {
			t.Errorf("%s = %s, want pass", n, s)
		}
	}
	// The one warning left is the documented one.
	var warned []string
	for _, fd := range r.Findings {
		if fd.Status == zlint.Warn {
			warned = append(warned, fd.Lint)
			if fd.Tolerated == "" {
				t.Errorf("untolerated warning %s", fd.Lint)
			}
		}
	}
	if strings.Join(warned, ",") != "w_ext_subject_key_identifier_missing_sub_cert" {
		t.Errorf("warnings %v", warned)
	}
	if r.Ran < 400 {
		t.Errorf("only %d lints ran", r.Ran)
	}
}

// Each case breaks one rule and expects the named vetca lint to return
// error; a few legitimate look-alikes must pass.
func TestVetcaLints(t *testing.T) {
	f := newFixture(t)
	dv, _ := x509.ParseOID("2.23.140.1.2.1")
	ov, _ := x509.ParseOID(profile.OIDOrganizationValidated)
	anyPol, _ := x509.ParseOID(profile.OIDAnyPolicy)
	cps, _ := x509.ParseOID("1.3.6.1.4.1.99999.1")
	validity := func(nb time.Time, d time.Duration) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = nb, nb.Add(d-time.Second) }
	}
	day := 24 * time.Hour
	tests := []struct {
		name   string
		mutate func(*x509.Certificate)
		lint   string
		want   zlint.LintStatus
	}{
		// BR §7.1.4.2 order and one attribute per RDN (§7.1.4.1).
		{"§7.1.4.2 O before L", withSubject(t, one(C("MM"), ST("Yangon"), O("Acme Widgets Ltd"), L("Yangon"))), lint.LintSubjectRDNOrder, zlint.Error},
		{"§7.1.4.2 ST before C", withSubject(t, one(ST("Yangon"), C("MM"), O("Acme Widgets Ltd"))), lint.LintSubjectRDNOrder, zlint.Error},
		{"§7.1.4.1 multi-valued RDN", withSubject(t, [][]atv{{C("MM")}, {L("Yangon"), O("Acme Widgets Ltd")}}), lint.LintSubjectRDNOrder, zlint.Error},
		{"§7.1.4.1 repeated O", withSubject(t, one(C("MM"), L("Yangon"), O("Acme Widgets Ltd"), O("Acme Widgets Ltd"))), lint.LintSubjectRDNOrder, zlint.Error},
		{"§7.1.4.2 correct order", withSubject(t, one(C("MM"), ST("Yangon"), L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectRDNOrder, zlint.Pass},
		// BR §7.1.4.2 string types and lengths.
		{"§7.1.4.2 C as UTF8String", withSubject(t, one(atv{oidC, asn1.TagUTF8String, "MM"}, L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectAttributeEncoding, zlint.Error},
		{"§7.1.4.2 O as BMPString", withSubject(t, one(C("MM"), L("Yangon"), atv{oidO, asn1.TagBMPString, "\x00E\x00x"})), lint.LintSubjectAttributeEncoding, zlint.Error},
		{"§7.1.4.2 O of 65 characters", withSubject(t, one(C("MM"), L("Yangon"), O(strings.Repeat("a", 65)))), lint.LintSubjectAttributeEncoding, zlint.Error},
		{"§7.1.4.2 O of 64 characters", withSubject(t, one(C("MM"), L("Yangon"), O(strings.Repeat("é", 64)))), lint.LintSubjectAttributeEncoding, zlint.Pass},
		{"§7.1.4.2 L as PrintableString", withSubject(t, one(C("MM"), atv{oidL, asn1.TagPrintableString, "Yangon"}, O("Acme Widgets Ltd"))), lint.LintSubjectAttributeEncoding, zlint.Pass},
		// BR §7.1.2.7.4: OU MUST NOT; other attributes not issued.
		{"§7.1.2.7.4 OU present", withSubject(t, one(C("MM"), L("Yangon"), O("Acme Widgets Ltd"), atv{oidOU, asn1.TagUTF8String, "IT"})), lint.LintSubjectAttributeAllowed, zlint.Error},
		// BR §7.1.2.7.4 metadata-only and placeholder values.
		{"§7.1.2.7.4 L is N/A", withSubject(t, one(C("MM"), L("N/A"), O("Acme Widgets Ltd"))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 L is a dot", withSubject(t, one(C("MM"), L("."), O("Acme Widgets Ltd"))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 O is a hyphen", withSubject(t, one(C("MM"), L("Yangon"), O("-"))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 O is spaces", withSubject(t, one(C("MM"), L("Yangon"), O("   "))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 street is 'unknown'", withSubject(t, one(C("MM"), L("Yangon"), atv{oidStreet, asn1.TagUTF8String, "Unknown"}, O("Acme Widgets Ltd"))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 OpenSSL default O", withSubject(t, one(C("AU"), ST("Queensland"), O("Internet Widgits Pty Ltd"))), lint.LintSubjectPlaceholder, zlint.Error},
		{"§7.1.2.7.4 Namibia is not a placeholder", withSubject(t, one(C("NA"), L("Windhoek"), O("Acme Widgets Ltd"))), lint.LintSubjectPlaceholder, zlint.Pass},
		{"§7.1.2.7.4 'N.A. Holdings' is a name", withSubject(t, one(C("MM"), L("Yangon"), O("N.A. Holdings"))), lint.LintSubjectPlaceholder, zlint.Pass},
		// BR §7.1.2.7.4 countryName; XX refused (docs/design.md §3).
		{"§7.1.2.7.4 C=XX", withSubject(t, one(C("XX"), L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectCountry, zlint.Error},
		{"§7.1.2.7.4 C=ZZ unassigned", withSubject(t, one(C("ZZ"), L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectCountry, zlint.Error},
		{"§7.1.2.7.4 C missing", withSubject(t, one(L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectCountry, zlint.Error},
		{"§7.1.2.7.4 C=AD is a real country", withSubject(t, one(C("AD"), L("Andorra la Vella"), O("Acme Widgets Ltd"))), lint.LintSubjectCountry, zlint.Pass},
		// stateOrProvinceName is an ISO 3166-2 subdivision name of C.
		{"ST of another country", withSubject(t, one(C("MM"), ST("California"), O("Acme Widgets Ltd"))), lint.LintSubjectState, zlint.Error},
		{"ST not canonical", withSubject(t, one(C("MM"), ST("yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectState, zlint.Error},
		{"ST as a code", withSubject(t, one(C("US"), ST("CA"), O("Acme Widgets Ltd"))), lint.LintSubjectState, zlint.Error},
		{"ST canonical", withSubject(t, one(C("US"), ST("California"), O("Acme Widgets Ltd"))), lint.LintSubjectState, zlint.Pass},
		{"ST absent", withSubject(t, one(C("MM"), L("Yangon"), O("Acme Widgets Ltd"))), lint.LintSubjectState, zlint.NA},
		// BR §6.3.2 caps by notBefore date, inclusive periods.
		{"§6.3.2 200 days from 2026-11-02", validity(issuedAt, 200*day), lint.LintValidityCap, zlint.Pass},
		{"§6.3.2 200 days + 1 s from 2026-11-02", validity(issuedAt, 200*day+time.Second), lint.LintValidityCap, zlint.Error},
		{"§6.3.2 398 days on 2026-03-14", validity(time.Date(2026, 3, 14, 23, 59, 59, 0, time.UTC), 398*day), lint.LintValidityCap, zlint.Pass},
		{"§6.3.2 201 days on 2026-03-15", validity(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 201*day), lint.LintValidityCap, zlint.Error},
		{"§6.3.2 100 days on 2027-03-15", validity(time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), 100*day), lint.LintValidityCap, zlint.Pass},
		{"§6.3.2 101 days on 2027-03-15", validity(time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), 101*day), lint.LintValidityCap, zlint.Error},
		{"§6.3.2 47 days on 2029-03-15", validity(time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC), 47*day), lint.LintValidityCap, zlint.Pass},
		{"§6.3.2 48 days on 2029-03-15", validity(time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC), 48*day), lint.LintValidityCap, zlint.Error},
		// BR §7.1.2.7.9 policies.
		{"§7.1.2.7.9 DV instead of OV", func(c *x509.Certificate) { c.Policies = []x509.OID{dv} }, lint.LintOVPolicy, zlint.Error},
		{"§7.1.2.7.9 OV and DV", func(c *x509.Certificate) { c.Policies = []x509.OID{ov, dv} }, lint.LintOVPolicy, zlint.Error},
		{"§7.1.2.7.9 CPS OID first", func(c *x509.Certificate) { c.Policies = []x509.OID{cps, ov} }, lint.LintOVPolicy, zlint.Error},
		{"§7.1.2.7.9 anyPolicy", func(c *x509.Certificate) { c.Policies = []x509.OID{ov, anyPol} }, lint.LintOVPolicy, zlint.Error},
		{"§7.1.2.7.9 no policies", func(c *x509.Certificate) { c.Policies = nil }, lint.LintOVPolicy, zlint.Error},
		{"§7.1.2.7.9 OV then CPS", func(c *x509.Certificate) { c.Policies = []x509.OID{ov, cps} }, lint.LintOVPolicy, zlint.Pass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.l.LintCertificate(f.leaf(t, tc.mutate))
			if err != nil {
				t.Fatal(err)
			}
			if got := status(t, r, tc.lint); got != tc.want {
				t.Fatalf("%s = %s, want %s", tc.lint, got, tc.want)
			}
			if tc.want == zlint.Error {
				var le *lint.Error
				if !errors.As(r.Err(), &le) || !strings.Contains(strings.Join(le.Lints(), ","), tc.lint) {
					t.Fatalf("Err() = %v, want it to name %s", r.Err(), tc.lint)
				}
			}
		})
	}
}

// The per-issuance subject comparison: attribute for attribute, nothing
// missing, nothing extra, against every expected subject.
func TestSubjectMustEqualEveryExpectedSubject(t *testing.T) {
	f := newFixture(t)
	der := f.leaf(t, nil)
	mod := func(m func(*profile.Subject)) profile.Subject { s := vetted; m(&s); return s }
	tests := []struct {
		name     string
		expected []profile.Subject
		want     zlint.LintStatus
		details  string
	}{
		{"equal to both", []profile.Subject{vetted, vetted}, zlint.Pass, ""},
		{"country differs from the verified version (seed 2)", []profile.Subject{vetted, mod(func(s *profile.Subject) { s.CountryName = "AD" })},
			zlint.Error, `expected subject #2: countryName is "MM", vetted "AD"`},
		{"O differs from the snapshot (seed 1)", []profile.Subject{mod(func(s *profile.Subject) { s.OrganizationName = "Subcontractor Ltd" }), vetted},
			zlint.Error, `expected subject #1: organizationName is "Example Trading Co., Ltd.", vetted "Subcontractor Ltd"`},
		{"attribute in the certificate not vetted", []profile.Subject{mod(func(s *profile.Subject) { s.StreetAddress = "" })},
			zlint.Error, `streetAddress "1 Strand Road" is present but not vetted`},
		{"vetted attribute missing from the certificate", []profile.Subject{mod(func(s *profile.Subject) { s.CommonName = "www.example.com" })},
			zlint.Error, `commonName is missing, vetted "www.example.com"`},
		{"case matters", []profile.Subject{mod(func(s *profile.Subject) { s.LocalityName = "YANGON" })},
			zlint.Error, `localityName is "Yangon", vetted "YANGON"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.l.LintCertificate(der, tc.expected...)
			if err != nil {
				t.Fatal(err)
			}
			if got := status(t, r, lint.LintSubjectNotVetted); got != tc.want {
				t.Fatalf("status %s, want %s", got, tc.want)
			}
			if tc.details != "" {
				if err := r.Err(); err == nil || !strings.Contains(err.Error(), tc.details) {
					t.Fatalf("Err() = %v, want details %q", err, tc.details)
				}
			}
		})
	}
	// Without expected subjects the comparison does not run at all.
	r, err := f.l.LintCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, ran := r.Status(lint.LintSubjectNotVetted); ran {
		t.Error("subject comparison ran without expected subjects")
	}
	// An OU sneaked into the certificate is reported against the vetted subject.
	der = f.leaf(t, withSubject(t, one(C("MM"), ST("Yangon"), L("Yangon"), atv{oidOU, asn1.TagUTF8String, "IT"},
		atv{asn1.ObjectIdentifier{2, 5, 4, 17}, asn1.TagUTF8String, "11181"}, atv{oidStreet, asn1.TagUTF8String, "1 Strand Road"}, O(vetted.OrganizationName))))
	r, _ = f.l.LintCertificate(der, vetted)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `organizationalUnitName "IT" is present but not vetted`) {
		t.Errorf("Err() = %v", err)
	}
}

// BR §7.1.2.7.4: commonName is NOT RECOMMENDED; zlint's warning is
// avoidable, so it fails the report.
func TestAvoidableWarningFails(t *testing.T) {
	f := newFixture(t)
	der := f.leaf(t, func(c *x509.Certificate) {
		c.RawSubject = name(t, one(C("MM"), ST("Yangon"), L("Yangon"), O("Acme Widgets Ltd"), atv{oidCN, asn1.TagUTF8String, "www.example.com"})...)
	})
	r, err := f.l.LintCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var le *lint.Error
	if !errors.As(r.Err(), &le) || strings.Join(le.Lints(), ",") != "w_subject_common_name_included" {
		t.Fatalf("Err() = %v, want only w_subject_common_name_included", r.Err())
	}
}

// vetca's subscriber lints do not apply to CA certificates.
func TestCACertificatesSkipSubscriberLints(t *testing.T) {
	f := newFixture(t)
	r, err := f.l.LintCertificate(f.issuing.Cert.Raw, vetted)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{lint.LintValidityCap, lint.LintOVPolicy, lint.LintSubjectNotVetted} {
		if s := status(t, r, n); s != zlint.NA {
			t.Errorf("%s = %s on a CA certificate, want NA", n, s)
		}
	}
	if err := r.Err(); err != nil {
		t.Error(err)
	}
}

func TestLintCertificateRefusesGarbage(t *testing.T) {
	f := newFixture(t)
	if _, err := f.l.LintCertificate([]byte("not a certificate")); err == nil {
		t.Fatal("parsed garbage")
	}
	if _, err := f.l.SignLintCertificate(&x509.Certificate{}, f.issuing.Cert); err == nil {
		t.Fatal("signed a template without a key")
	}
}

func TestNewRefusesBadExtraLint(t *testing.T) {
	if _, err := lint.New(lint.WithExtraLints(&zlint.CertificateLint{})); err == nil {
		t.Fatal("accepted an extra lint without name")
	}
}

func crl(t *testing.T, f *fixture, entries []x509.RevocationListEntry, next time.Duration) []byte {
	t.Helper()
	this := issuedAt
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(42),
		ThisUpdate:                this,
		NextUpdate:                this.Add(next),
		RevokedCertificateEntries: entries,
	}, f.issuing.Cert, f.issuing.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLintCRL(t *testing.T) {
	f := newFixture(t)
	good := []x509.RevocationListEntry{
		{SerialNumber: big.NewInt(1000001), RevocationTime: issuedAt.Add(-time.Hour), ReasonCode: 1},
		{SerialNumber: big.NewInt(1000002), RevocationTime: issuedAt.Add(-time.Hour)}, // unspecified: no reasonCode
	}
	r, err := f.l.LintCRL(crl(t, f, good, 7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("good CRL: %v", err)
	}
	if r.Ran == 0 {
		t.Fatal("no CRL lint ran")
	}
	// BR §7.2.2: certificateHold (6) is not allowed.
	hold := []x509.RevocationListEntry{{SerialNumber: big.NewInt(1000003), RevocationTime: issuedAt.Add(-time.Hour), ReasonCode: 6}}
	r, err = f.l.LintCRL(crl(t, f, hold, 7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var le *lint.Error
	if !errors.As(r.Err(), &le) || !strings.Contains(strings.Join(le.Lints(), ","), "reason_code") {
		t.Fatalf("certificateHold CRL: Err() = %v", r.Err())
	}
	if _, err := f.l.LintCRL([]byte{1, 2, 3}); err == nil {
		t.Fatal("parsed garbage CRL")
	}
}

func TestLintOCSPResponse(t *testing.T) {
	f := newFixture(t)
	// x/crypto/ocsp stamps producedAt with the wall clock, so the test
	// picks thisUpdate far in the past (good) or far in the future (bad).
	resp := func(this time.Time) []byte {
		der, err := ocsp.CreateResponse(f.issuing.Cert, f.issuing.Cert, ocsp.Response{
			Status: ocsp.Good, SerialNumber: big.NewInt(1000001),
			ThisUpdate: this, NextUpdate: this.Add(4 * 24 * time.Hour),
		}, f.issuing.Key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	r, err := f.l.LintOCSPResponse(resp(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), f.issuing.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil || r.Ran == 0 {
		t.Fatalf("good response: %v (ran %d)", err, r.Ran)
	}
	r, err = f.l.LintOCSPResponse(resp(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)), f.issuing.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if s := status(t, r, "e_this_update_not_after_produced_at"); s != zlint.Error {
		t.Fatalf("thisUpdate after producedAt: %s", s)
	}
	// A response signed by another key fails to parse against the issuer.
	_, other := profiletest.NewChain(t, issuedAt)
	if _, err := f.l.LintOCSPResponse(resp(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), other.Cert); err == nil {
		t.Fatal("accepted a response signed by another issuer")
	}
}

// The throwaway issuer has the real issuer's name and key identifier but
// not its key.
func TestLintCertificateComesFromAThrowawayIssuer(t *testing.T) {
	f := newFixture(t)
	der := f.leaf(t, nil)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.RawIssuer) != string(f.issuing.Cert.RawSubject) || string(c.AuthorityKeyId) != string(f.issuing.Cert.SubjectKeyId) {
		t.Fatal("issuer name or AKI differ from the real issuer's")
	}
	if err := c.CheckSignatureFrom(f.issuing.Cert); err == nil {
		t.Fatal("the linting certificate verifies under the real issuer key")
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Fatalf("signature algorithm %v", c.SignatureAlgorithm)
	}
	if err := f.l.WarmIssuer(f.issuing.Cert); err != nil {
		t.Fatal(err)
	}
	c2, err := x509.ParseCertificate(f.leaf(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(c2.RawIssuer) != string(c.RawIssuer) {
		t.Fatal("issuer name changed between linting certificates")
	}
	if err := f.l.WarmIssuer(nil); err == nil {
		t.Fatal("warmed a nil issuer")
	}
}

// BenchmarkLintLeaf compares the filtered registry (what vetca runs) with
// zlint's default registry on the same OV leaf. Only zlint's own lints are
// timed here; BenchmarkLintCertificate times vetca's whole LintCertificate.
func BenchmarkLintLeaf(b *testing.B) {
	f := newFixture(b)
	der := f.leaf(b, nil)
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("filtered", func(b *testing.B) {
		for b.Loop() {
			zlintv3.LintCertificateEx(zc, f.l.Registry())
		}
	})
	b.Run("default", func(b *testing.B) {
		for b.Loop() {
			zlintv3.LintCertificateEx(zc, zlint.GlobalRegistry())
		}
	})
}

func BenchmarkLintCertificate(b *testing.B) {
	f := newFixture(b)
	der := f.leaf(b, nil)
	for b.Loop() {
		r, err := f.l.LintCertificate(der, vetted, vetted)
		if err != nil || r.Err() != nil {
			b.Fatal(err, r.Err())
		}
	}
}

// Only warnings can be tolerated by configuration, never errors.
func TestToleratedWarningsOnlyWarnings(t *testing.T) {
	if _, err := lint.New(lint.WithToleratedWarnings(map[string]string{"e_cab_dv_conflicts_with_org": "no"})); err == nil {
		t.Fatal("an error lint was tolerated")
	}
	if _, err := lint.New(lint.WithToleratedWarnings(map[string]string{"w_sub_cert_aia_contains_internal_names": "dev"})); err != nil {
		t.Fatal(err)
	}
}
