package lint

import (
	"fmt"
	"slices"
	"strings"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// Source is the zlint lint source of vetca's own lints.
const Source zlint.LintSource = "vetca"

// The names of vetca's own certificate lints are the Lint* constants, one
// in each lint_<name>.go file. They appear in lint reports, stored findings
// and tests, so they never change.

// Effective dates of vetca's lints. A lint returns NE (not effective) for a
// certificate whose notBefore is before its EffectiveDate, as zlint's lints
// do. Each date is the day the BR requirement the lint checks took effect,
// at 00:00:00 UTC (the reading zlint's util package also uses).
var (
	// brEffectiveDate is the effective date of the first Baseline
	// Requirements (v1.0, 2012-07-01; zlint's util.CABEffectiveDate). The
	// ISO 3166-1 countryName, the ban on metadata-only values and the
	// verification of every subject attribute (§3.2.2.1) date from it.
	brEffectiveDate = time.Date(2012, time.July, 1, 0, 0, 0, 0, time.UTC)

	// br398DaysDate is when BR §6.3.2 capped subscriber certificates at
	// 398 days (ballot SC31, 2020-09-01). br.MaxValidity encodes the caps
	// from then on; before it the cap was 825 days, which vetca does not
	// check.
	br398DaysDate = time.Date(2020, time.September, 1, 0, 0, 0, 0, time.UTC)

	// brSC62Date is the effective date of ballot SC-062 (BR v2.0.0,
	// 2023-09-15; zlint's util.SC62EffectiveDate), which introduced the
	// certificate profiles of BR §7.1.2 and the subject attribute order and
	// encoding table of BR §7.1.4.2.
	brSC62Date = time.Date(2023, time.September, 15, 0, 0, 0, 0, time.UTC)
)

// Metadata describes a certificate lint, vetca's or zlint's: what a
// listing of the lints shows.
type Metadata struct {
	// Name is the lint's stable name, e.g. e_vetca_subject_rdn_order.
	Name string `json:"name"`
	// Description says what the lint checks.
	Description string `json:"description"`
	// Citation names the BR (or RFC) sections the lint checks, and
	// docs/design.md where vetca is stricter than the BR.
	Citation string `json:"citation"`
	// Source is Source for vetca's lints, zlint's source otherwise.
	Source zlint.LintSource `json:"source"`
	// EffectiveDate is the first notBefore the lint applies to; the zero
	// time means every certificate.
	EffectiveDate time.Time `json:"effectiveDate,omitzero"`
	// NeedsExpectedSubjects marks a lint that compares the certificate with
	// the vetted subjects of one issuance; it runs only when the caller
	// passes them (Input.Expected).
	NeedsExpectedSubjects bool `json:"needsExpectedSubjects,omitempty"`
}

// Input is what a lint may need besides the certificate.
type Input struct {
	// Expected are the subjects the certificate must equal (the approved
	// snapshot and the verified organization version). Only lints with
	// NeedsExpectedSubjects read it.
	Expected []profile.Subject
}

// Lint is one of vetca's certificate lints: its metadata and, in zlint's
// terms, its CheckApplies (Applies) and Execute (Check). Each lint is
// defined in its own file, lint_<name>.go, and listed by
// NewVetcaRegistry.
type Lint struct {
	Metadata
	// Applies reports whether the lint applies to the certificate; when it
	// does not, the lint returns NA. A nil Applies applies to every
	// certificate.
	Applies func(c *zx509.Certificate) bool
	// Check runs the lint on a certificate it applies to and is effective
	// for, and returns pass, error or fatal.
	Check func(c *zx509.Certificate, in Input) *zlint.LintResult
}

// Effective reports whether the lint is in effect for c: c's notBefore is
// on or after the EffectiveDate (zlint's CertificateLint.CheckEffective).
func (l Lint) Effective(c *zx509.Certificate) bool {
	zl := zlint.CertificateLint{LintMetadata: zlint.LintMetadata{EffectiveDate: l.EffectiveDate}}
	return zl.CheckEffective(c)
}

// AppliesTo reports whether the lint runs on c with in and is in effect for
// it: the input it needs is there, it applies to c, and c's notBefore is
// not before the EffectiveDate. Execute returns pass, error or fatal
// exactly when AppliesTo is true.
func (l Lint) AppliesTo(c *zx509.Certificate, in Input) bool {
	if l.NeedsExpectedSubjects && len(in.Expected) == 0 {
		return false
	}
	return (l.Applies == nil || l.Applies(c)) && l.Effective(c)
}

// Execute runs the lint the way zlint runs its own: NA if it does not apply
// to c, NE if c's notBefore is before the EffectiveDate, otherwise Check's
// result. A panic in the lint becomes a fatal result. A lint that needs
// expected subjects and gets none returns NA; LintCertificate does not run
// it at all.
func (l Lint) Execute(c *zx509.Certificate, in Input) *zlint.LintResult {
	if l.NeedsExpectedSubjects && len(in.Expected) == 0 {
		return &zlint.LintResult{Status: zlint.NA}
	}
	return l.ZLint(in).Execute(c, zlint.NewEmptyConfig())
}

// ZLint returns the lint as a zlint CertificateLint bound to in, so it can
// run wherever zlint lints run (zlint.CertificateLint.Execute applies the
// NA, NE and panic rules).
func (l Lint) ZLint(in Input) *zlint.CertificateLint {
	return &zlint.CertificateLint{
		LintMetadata: zlint.LintMetadata{
			Name:          l.Name,
			Description:   l.Description,
			Citation:      l.Citation,
			Source:        l.Source,
			EffectiveDate: l.EffectiveDate,
		},
		Lint: func() zlint.CertificateLintInterface { return boundLint{l: l, in: in} },
	}
}

// boundLint adapts a Lint and its input to zlint's CertificateLintInterface.
type boundLint struct {
	l  Lint
	in Input
}

func (b boundLint) CheckApplies(c *zx509.Certificate) bool {
	return b.l.Applies == nil || b.l.Applies(c)
}

func (b boundLint) Execute(c *zx509.Certificate) *zlint.LintResult { return b.l.Check(c, b.in) }

// VetcaRegistry is the set of vetca's own certificate lints. It is an
// ordinary value built by NewVetcaRegistry; nothing registers into it at
// init time, and it is not modified after it is built.
type VetcaRegistry struct {
	lints []Lint
}

// NewVetcaRegistry returns every vetca certificate lint, each taken from
// the constructor in its lint_<name>.go file. It fails only if a lint
// definition is malformed (no name or check, a name used twice, another
// source), which TestVetcaRegistry rules out.
func NewVetcaRegistry() (*VetcaRegistry, error) {
	all := []Lint{
		subjectRDNOrderLint(),
		subjectAttributeEncodingLint(),
		subjectAttributeAllowedLint(),
		subjectPlaceholderLint(),
		subjectCountryLint(),
		subjectStateLint(),
		validityCapLint(),
		ovPolicyLint(),
		subjectNotVettedLint(),
	}
	seen := map[string]bool{}
	for _, l := range all {
		switch {
		case l.Name == "" || l.Check == nil:
			return nil, fmt.Errorf("lint: vetca lint %q needs a name and a check", l.Name)
		case seen[l.Name]:
			return nil, fmt.Errorf("lint: vetca lint %s is defined twice", l.Name)
		case l.Source != Source:
			return nil, fmt.Errorf("lint: vetca lint %s has source %q", l.Name, l.Source)
		case !strings.HasPrefix(l.Name, "e_vetca_"):
			return nil, fmt.Errorf("lint: vetca lint %s does not start with e_vetca_", l.Name)
		}
		seen[l.Name] = true
	}
	return &VetcaRegistry{lints: all}, nil
}

// All returns the lints in the order they run.
func (r *VetcaRegistry) All() []Lint { return slices.Clone(r.lints) }

// Names returns the lint names, sorted.
func (r *VetcaRegistry) Names() []string {
	out := make([]string, len(r.lints))
	for i, l := range r.lints {
		out[i] = l.Name
	}
	slices.Sort(out)
	return out
}

// ByName returns the lint with the given name.
func (r *VetcaRegistry) ByName(name string) (Lint, bool) {
	for _, l := range r.lints {
		if l.Name == name {
			return l, true
		}
	}
	return Lint{}, false
}

// Metadata returns the metadata of every lint, sorted by name.
func (r *VetcaRegistry) Metadata() []Metadata {
	out := make([]Metadata, len(r.lints))
	for i, l := range r.lints {
		out[i] = l.Metadata
	}
	slices.SortFunc(out, func(a, b Metadata) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Applicable returns the lints that apply to c with in and are in effect
// for it (Lint.AppliesTo), in run order. A scan of issued certificates
// passes an empty Input: the per-issuance subject comparison needs the
// expected subjects and is left out.
func (r *VetcaRegistry) Applicable(c *zx509.Certificate, in Input) []Lint {
	var out []Lint
	for _, l := range r.lints {
		if l.AppliesTo(c, in) {
			out = append(out, l)
		}
	}
	return out
}

// ListVetcaLints returns the metadata of vetca's own certificate lints,
// sorted by name: name, description, citation, source and effective date.
func ListVetcaLints() ([]Metadata, error) {
	r, err := NewVetcaRegistry()
	if err != nil {
		return nil, err
	}
	return r.Metadata(), nil
}
