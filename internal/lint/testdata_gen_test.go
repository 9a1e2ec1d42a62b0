package lint_test

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
)

// The certificates in testdata/ were generated once by
//
//	go test ./internal/lint -run TestGenerateTestdata -update-testdata
//
// and are committed; the lint_<name>_test.go table tests load them.
// Regenerating makes new keys and serials, so every file changes.
var updateTestdata = flag.Bool("update-testdata", false, "regenerate the PEM certificates in testdata/")

// testCert is one committed test certificate: a profile leaf (issued on
// issuedAt under the profiletest issuing CA, with the vetted subject)
// changed by mutate.
type testCert struct {
	file   string
	about  string
	mutate func(t testing.TB, c *x509.Certificate)
}

// issuingCAFile holds the profiletest issuing CA certificate: a CA
// certificate, to which the subscriber-only lints do not apply.
const issuingCAFile = "issuing_ca.pem"

func subject(rdns [][]atv) func(testing.TB, *x509.Certificate) {
	return func(t testing.TB, c *x509.Certificate) { c.RawSubject = name(t, rdns...) }
}

func policies(oids ...string) func(testing.TB, *x509.Certificate) {
	return func(t testing.TB, c *x509.Certificate) {
		c.Policies = nil
		for _, s := range oids {
			oid, err := x509.ParseOID(s)
			if err != nil {
				t.Fatal(err)
			}
			c.Policies = append(c.Policies, oid)
		}
	}
}

func validity(nb time.Time, d time.Duration) func(testing.TB, *x509.Certificate) {
	return func(_ testing.TB, c *x509.Certificate) { c.NotBefore, c.NotAfter = nb, nb.Add(d-time.Second) }
}

const day = 24 * time.Hour

func testCerts() []testCert {
	oidPostalCode := asn1.ObjectIdentifier{2, 5, 4, 17}
	fullSubject := func(o atv) [][]atv {
		return one(C("MM"), ST("Yangon"), L("Yangon"), atv{oidPostalCode, asn1.TagUTF8String, "11181"},
			atv{oidStreet, asn1.TagUTF8String, "1 Strand Road"}, o)
	}
	return []testCert{
		{lint.LintSubjectRDNOrder + "_pass.pem", "every profile attribute, in BR §7.1.4.2 order", nil},
		{lint.LintSubjectRDNOrder + "_fail.pem", "O before L (BR §7.1.4.2)",
			subject(one(C("MM"), ST("Yangon"), O("Acme Widgets Ltd"), L("Yangon")))},

		{lint.LintSubjectAttributeEncoding + "_pass.pem", "O of 64 two-byte characters, PrintableString L (BR §7.1.4.2)",
			subject(one(C("MM"), atv{oidL, asn1.TagPrintableString, "Yangon"}, O(strings.Repeat("é", 64))))},
		{lint.LintSubjectAttributeEncoding + "_fail.pem", "C as UTF8String (BR §7.1.4.2)",
			subject(one(atv{oidC, asn1.TagUTF8String, "MM"}, L("Yangon"), O("Acme Widgets Ltd")))},

		{lint.LintSubjectAttributeAllowed + "_pass.pem", "C, ST, L, O and CN only (BR §7.1.2.7.4)",
			subject(one(C("MM"), ST("Yangon"), L("Yangon"), O("Acme Widgets Ltd"), atv{oidCN, asn1.TagUTF8String, "www.example.com"}))},
		{lint.LintSubjectAttributeAllowed + "_fail.pem", "OU present (BR §7.1.2.7.4)",
			subject(one(C("MM"), L("Yangon"), O("Acme Widgets Ltd"), atv{oidOU, asn1.TagUTF8String, "IT"}))},

		{lint.LintSubjectPlaceholder + "_pass.pem", "C=NA (Namibia) and O 'N.A. Holdings' are real values (BR §7.1.2.7.4)",
			subject(one(C("NA"), L("Windhoek"), O("N.A. Holdings")))},
		{lint.LintSubjectPlaceholder + "_fail.pem", "L is N/A (BR §7.1.2.7.4)",
			subject(one(C("MM"), L("N/A"), O("Acme Widgets Ltd")))},

		{lint.LintSubjectCountry + "_pass.pem", "C=AD, an assigned ISO 3166-1 code (BR §7.1.2.7.4)",
			subject(one(C("AD"), L("Andorra la Vella"), O("Acme Widgets Ltd")))},
		{lint.LintSubjectCountry + "_fail.pem", "C=XX (BR §7.1.2.7.4; docs/design.md §3)",
			subject(one(C("XX"), L("Yangon"), O("Acme Widgets Ltd")))},

		{lint.LintSubjectState + "_pass.pem", "ST=California under C=US (ISO 3166-2)",
			subject(one(C("US"), ST("California"), O("Acme Widgets Ltd")))},
		{lint.LintSubjectState + "_fail.pem", "ST=California under C=MM (ISO 3166-2)",
			subject(one(C("MM"), ST("California"), O("Acme Widgets Ltd")))},

		{lint.LintValidityCap + "_pass.pem", "exactly 200 days from 2026-11-02 (BR §6.3.2)", validity(issuedAt, 200*day)},
		{lint.LintValidityCap + "_fail.pem", "200 days and one second from 2026-11-02 (BR §6.3.2)", validity(issuedAt, 200*day+time.Second)},
		{lint.LintValidityCap + "_ne.pem", "825 days from 2019-06-01, before the 398-day cap took effect (BR §6.3.2)",
			validity(time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC), 825*day)},

		{lint.LintOVPolicy + "_pass.pem", "2.23.140.1.2.2 then a CPS OID (BR §7.1.2.7.9)", policies(profile.OIDOrganizationValidated, "1.3.6.1.4.1.99999.1")},
		{lint.LintOVPolicy + "_fail.pem", "2.23.140.1.2.1 (DV) instead of OV (BR §7.1.2.7.9)", policies("2.23.140.1.2.1")},

		{lint.LintSubjectNotVetted + "_pass.pem", "the vetted subject (BR §3.2.2.1)", nil},
		{lint.LintSubjectNotVetted + "_fail.pem", "O differs from the vetted subject (BR §3.2.2.1)",
			subject(fullSubject(O("Subcontractor Ltd")))},
	}
}

// TestGenerateTestdata regenerates testdata/ with -update-testdata. Without
// the flag it generates the same set into a temporary directory, so the
// generator keeps working and the committed set is what it makes
// (TestTestdataComplete compares the names).
func TestGenerateTestdata(t *testing.T) {
	dir := t.TempDir()
	if *updateTestdata {
		dir = "testdata"
	}
	f := newFixture(t)
	write := func(file, about string, der []byte) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", about)
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(issuingCAFile, "profiletest issuing CA certificate (not a subscriber certificate)", f.issuing.Cert.Raw)
	for _, tc := range testCerts() {
		var mutate func(*x509.Certificate)
		if tc.mutate != nil {
			mutate = func(c *x509.Certificate) { tc.mutate(t, c) }
		}
		write(tc.file, strings.TrimSuffix(tc.file, ".pem")+": "+tc.about, f.leaf(t, mutate))
	}
	made, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob(filepath.Join("testdata", "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != len(committed) {
		t.Fatalf("the generator makes %d certificates, testdata/ holds %d", len(made), len(committed))
	}
}

// testdata/ holds exactly the generated certificates, each a parseable
// PEM certificate, and every vetca lint has a pass and a fail certificate.
func TestTestdataComplete(t *testing.T) {
	want := map[string]bool{issuingCAFile: true}
	for _, tc := range testCerts() {
		want[tc.file] = true
	}
	got, err := filepath.Glob(filepath.Join("testdata", "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		f := filepath.Base(p)
		if !want[f] {
			t.Errorf("testdata/%s is not generated by TestGenerateTestdata", f)
		}
		delete(want, f)
	}
	for f := range want {
		t.Errorf("testdata/%s is missing; run TestGenerateTestdata with -update-testdata", f)
	}
	for _, n := range allVetcaLints {
		for _, suffix := range []string{"_pass.pem", "_fail.pem"} {
			if _, err := os.Stat(filepath.Join("testdata", n+suffix)); err != nil {
				t.Errorf("%s has no %s certificate: %v", n, suffix, err)
			}
		}
	}
}
