package lint

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// LintSubjectNotVetted is the name of the per-issuance subject comparison.
const LintSubjectNotVetted = "e_vetca_subject_not_vetted"

// subjectNotVettedLint runs per issuance, on the expected subjects in its
// Input: the certificate's subject must equal every expected subject
// attribute for attribute, in BR order, with no attribute missing and none
// extra (docs/design.md §1, §4 and §6; BR §7.1.2.7.4 and §3.2.2.1: subject
// identity information must be verified). Subject verification dates from
// the first BR (v1.0), so the lint is effective from 2012-07-01.
func subjectNotVettedLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:                  LintSubjectNotVetted,
			Description:           "Every subject attribute equals the approved snapshot and the verified organization version, with nothing extra",
			Citation:              "BR §7.1.2.7.4, §3.2.2.1; docs/design.md §1, §4, §6",
			Source:                Source,
			EffectiveDate:         brEffectiveDate,
			NeedsExpectedSubjects: true,
		},
		Applies: subscriberServerAuth,
		Check:   checkSubjectNotVetted,
	}
}

func checkSubjectNotVetted(c *zx509.Certificate, in Input) *zlint.LintResult {
	got, res := decodeSubject(c)
	if res != nil {
		return res
	}
	var problems []string
	for i, want := range in.Expected {
		for _, p := range compareSubject(got, want) {
			problems = append(problems, fmt.Sprintf("expected subject #%d: %s", i+1, p))
		}
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass()
}

// compareSubject lists, field by field, how the decoded subject got differs
// from want.
func compareSubject(got []profile.NameAttribute, want profile.Subject) []string {
	var problems []string
	wantAttrs := want.Attributes()
	counts := map[string]int{}
	for _, g := range got {
		counts[attrName(g.OID)]++
	}
	for _, w := range wantAttrs {
		v, ok := subjectValue(got, w.Field)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing, vetted %q", w.Field, w.Value))
		case v != w.Value:
			problems = append(problems, fmt.Sprintf("%s is %q, vetted %q", w.Field, v, w.Value))
		}
	}
	for _, g := range got {
		n := attrName(g.OID)
		if v, known := want.Get(n); known && v != "" {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s %q is present but not vetted", n, g.Value))
	}
	for _, n := range slices.Sorted(maps.Keys(counts)) {
		if k := counts[n]; k > 1 {
			problems = append(problems, fmt.Sprintf("%s appears %d times", n, k))
		}
	}
	if len(problems) == 0 && len(got) == len(wantAttrs) {
		for i, w := range wantAttrs {
			if !got[i].OID.Equal(w.OID) {
				problems = append(problems, fmt.Sprintf("attribute %d is %s, vetted order has %s", i+1, attrName(got[i].OID), w.Field))
				break
			}
		}
	}
	return problems
}
