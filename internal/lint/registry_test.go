package lint_test

import (
	"crypto/x509"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
)

// allVetcaLints are the names the registry must hold; they appear in stored
// findings, so the list only grows.
var allVetcaLints = []string{
	lint.LintSubjectRDNOrder, lint.LintSubjectAttributeEncoding, lint.LintSubjectAttributeAllowed,
	lint.LintSubjectPlaceholder, lint.LintSubjectCountry, lint.LintSubjectState, lint.LintValidityCap,
	lint.LintOVPolicy, lint.LintSubjectNotVetted,
}

func TestVetcaRegistry(t *testing.T) {
	r, err := lint.NewVetcaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(allVetcaLints))
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	md := r.Metadata()
	if len(md) != len(want) {
		t.Fatalf("%d metadata entries, want %d", len(md), len(want))
	}
	for i, m := range md {
		if m.Name != want[i] {
			t.Errorf("Metadata()[%d] = %s, want %s (sorted by name)", i, m.Name, want[i])
		}
		if m.Source != lint.Source || m.Description == "" || !strings.HasPrefix(m.Citation, "BR §") ||
			m.EffectiveDate.IsZero() || m.EffectiveDate.Location() != time.UTC {
			t.Errorf("%s: incomplete metadata %+v", m.Name, m)
		}
		if m.NeedsExpectedSubjects != (m.Name == lint.LintSubjectNotVetted) {
			t.Errorf("%s: NeedsExpectedSubjects = %v", m.Name, m.NeedsExpectedSubjects)
		}
		l, ok := r.ByName(m.Name)
		if !ok || l.Metadata != m || l.Check == nil {
			t.Errorf("ByName(%s) = %+v, %v", m.Name, l.Metadata, ok)
		}
	}
	if _, ok := r.ByName("e_cert_issued_by_compromised_emudhra_ca"); ok {
		t.Error("ByName found a zlint lint in vetca's registry")
	}
	listed, err := lint.ListVetcaLints()
	if err != nil || !slices.Equal(listed, md) {
		t.Errorf("ListVetcaLints() = %v, %v; want the registry's metadata", listed, err)
	}
	// All returns a copy: changing it does not change the registry.
	all := r.All()
	all[0].Name = "e_vetca_changed"
	if r.All()[0].Name == "e_vetca_changed" {
		t.Error("All() exposes the registry's slice")
	}
	l, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	if got := l.VetcaRegistry().Names(); !slices.Equal(got, want) {
		t.Errorf("Linter.VetcaRegistry().Names() = %v", got)
	}
}

// Applicable answers "which of vetca's lints apply to this certificate":
// applies, in effect for its notBefore, and given the input it needs.
func TestVetcaRegistryApplicable(t *testing.T) {
	f := newFixture(t)
	r, err := lint.NewVetcaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	names := func(ls []lint.Lint) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		slices.Sort(out)
		return out
	}
	parse := func(der []byte) *zx509.Certificate {
		c, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	without := func(drop ...string) []string {
		return slices.Sorted(func(yield func(string) bool) {
			for _, n := range allVetcaLints {
				if !slices.Contains(drop, n) && !yield(n) {
					return
				}
			}
		})
	}
	leaf := parse(f.leaf(t, nil))
	if got, want := names(r.Applicable(leaf, lint.Input{Expected: []profile.Subject{vetted}})), without(); !slices.Equal(got, want) {
		t.Errorf("leaf with expected subjects: %v, want %v", got, want)
	}
	if got, want := names(r.Applicable(leaf, lint.Input{})), without(lint.LintSubjectNotVetted); !slices.Equal(got, want) {
		t.Errorf("leaf without expected subjects: %v, want %v", got, want)
	}
	// Before BR v2.0.0 (SC-062, 2023-09-15) the §7.1.2 and §7.1.4.2
	// profile lints are not in effect; before 2020-09-01 neither is the
	// §6.3.2 cap. Execute returns NE for them, as zlint does.
	issued := func(nb time.Time) *zx509.Certificate {
		return parse(f.leaf(t, func(c *x509.Certificate) { c.NotBefore, c.NotAfter = nb, nb.AddDate(0, 0, 90) }))
	}
	sc62 := []string{lint.LintSubjectRDNOrder, lint.LintSubjectAttributeEncoding, lint.LintSubjectAttributeAllowed, lint.LintOVPolicy}
	for _, tc := range []struct {
		notBefore time.Time
		notYet    []string
	}{
		{time.Date(2023, 9, 14, 23, 59, 59, 0, time.UTC), sc62},
		{time.Date(2023, 9, 15, 0, 0, 0, 0, time.UTC), nil},
		{time.Date(2020, 9, 1, 0, 0, 0, 0, time.UTC), sc62},
		{time.Date(2020, 8, 31, 0, 0, 0, 0, time.UTC), append([]string{lint.LintValidityCap}, sc62...)},
	} {
		c := issued(tc.notBefore)
		if got, want := names(r.Applicable(c, lint.Input{Expected: []profile.Subject{vetted}})), without(tc.notYet...); !slices.Equal(got, want) {
			t.Errorf("notBefore %s: %v, want %v", tc.notBefore, got, want)
		}
		for _, n := range tc.notYet {
			l, _ := r.ByName(n)
			if l.Effective(c) {
				t.Errorf("%s effective for notBefore %s", n, tc.notBefore)
			}
			if s := l.Execute(c, lint.Input{}).Status; s != zlint.NE {
				t.Errorf("%s on notBefore %s = %s, want NE", n, tc.notBefore, s)
			}
		}
	}
	// The CA certificate gets only the lints that are not limited to
	// subscriber certificates (and, with no ST in its subject, not the
	// state lint).
	ca := parse(f.issuing.Cert.Raw)
	if got, want := names(r.Applicable(ca, lint.Input{Expected: []profile.Subject{vetted}})),
		without(lint.LintValidityCap, lint.LintOVPolicy, lint.LintSubjectNotVetted, lint.LintSubjectState); !slices.Equal(got, want) {
		t.Errorf("CA certificate: %v, want %v", got, want)
	}
	// A lint that needs expected subjects and gets none is NA.
	l, _ := r.ByName(lint.LintSubjectNotVetted)
	if s := l.Execute(leaf, lint.Input{}).Status; s != zlint.NA {
		t.Errorf("%s without expected subjects = %s, want NA", lint.LintSubjectNotVetted, s)
	}
}

// A panicking check becomes a fatal result, as in zlint.
func TestVetcaLintPanicIsFatal(t *testing.T) {
	f := newFixture(t)
	c, err := zx509.ParseCertificate(f.leaf(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	l := lint.Lint{
		Metadata: lint.Metadata{Name: "e_vetca_test_panic", Source: lint.Source},
		Check:    func(*zx509.Certificate, lint.Input) *zlint.LintResult { panic("boom") },
	}
	if r := l.Execute(c, lint.Input{}); r.Status != zlint.Fatal || !strings.Contains(r.Details, "boom") {
		t.Fatalf("Execute = %+v, want fatal naming the panic", r)
	}
}

// ListCertificateLints lists zlint's certificate lints (less the filtered
// one) and vetca's, sorted, with their metadata.
func TestListCertificateLints(t *testing.T) {
	l, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	md := l.ListCertificateLints()
	zl := l.Registry().CertificateLints().Lints()
	if len(md) != len(zl)+len(allVetcaLints) {
		t.Fatalf("%d lints listed, want %d zlint + %d vetca", len(md), len(zl), len(allVetcaLints))
	}
	if !slices.IsSortedFunc(md, func(a, b lint.Metadata) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("not sorted by name")
	}
	byName := map[string]lint.Metadata{}
	for _, m := range md {
		byName[m.Name] = m
	}
	for _, n := range allVetcaLints {
		if m := byName[n]; m.Source != lint.Source || m.Citation == "" {
			t.Errorf("%s listed as %+v", n, m)
		}
	}
	for _, n := range lint.ExcludedZlintLints() {
		if _, ok := byName[n]; ok {
			t.Errorf("filtered lint %s is listed", n)
		}
	}
	// The listing is meant for output: JSON names, dates in RFC 3339.
	b, err := json.Marshal(byName[lint.LintValidityCap])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"e_vetca_validity_exceeds_br_cap","description":"The validity period is within the BR §6.3.2 maximum for the notBefore date","citation":"BR §6.3.2","source":"vetca","effectiveDate":"2020-09-01T00:00:00Z"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	// A zlint lint keeps its metadata, effective date included.
	m := byName["e_subject_country_not_iso"]
	if m.Source != zlint.CABFBaselineRequirements || m.Citation == "" || !m.EffectiveDate.Equal(time.Date(2012, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("e_subject_country_not_iso listed as %+v", m)
	}
}
