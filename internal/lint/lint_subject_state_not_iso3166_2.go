package lint

import (
	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/profile"
)

// LintSubjectState is the name of the stateOrProvinceName lint.
const LintSubjectState = "e_vetca_subject_state_not_iso3166_2"

// subjectStateLint: stateOrProvinceName, when present, is the exact ISO
// 3166-2 name of a subdivision of countryName (BR §7.1.2.7.4: the
// subject's state or province; vetca issues canonical ISO names only, see
// docs/design.md §3). The BR has required a verified state or province
// (§3.2.2.1) since v1.0; the ISO spelling is vetca's own rule and holds for
// every certificate vetca issues, so the lint is effective from the BR's
// first effective date, 2012-07-01.
func subjectStateLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectState,
			Description:   "stateOrProvinceName is the ISO 3166-2 name of a subdivision of countryName",
			Citation:      "BR §7.1.2.7.4, §3.2.2.1",
			Source:        Source,
			EffectiveDate: brEffectiveDate,
		},
		Applies: hasStateOrProvince,
		Check:   checkSubjectState,
	}
}

func hasStateOrProvince(c *zx509.Certificate) bool {
	attrs, err := profile.DecodeName(c.RawSubject)
	if err != nil {
		return true // let Check report the decoding failure
	}
	_, ok := subjectValue(attrs, "stateOrProvinceName")
	return ok
}

func checkSubjectState(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	st, _ := subjectValue(attrs, "stateOrProvinceName")
	cc, _ := subjectValue(attrs, "countryName")
	if !iso3166.IsSubdivisionName(cc, st) {
		return fail("stateOrProvinceName %q is not an ISO 3166-2 subdivision name of %q", st, cc)
	}
	return pass()
}
