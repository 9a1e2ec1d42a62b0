package lint

import (
	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/iso3166"
)

// LintSubjectCountry is the name of the countryName lint.
const LintSubjectCountry = "e_vetca_subject_country_not_iso3166_1"

// subjectCountryLint: BR §7.1.2.7.4 countryName MUST be the ISO 3166-1
// code of the subject's country. vetca is stricter than the BR: the
// user-assigned XX is refused too, since every country is picked from the
// ISO list (docs/design.md §3). The ISO 3166-1 rule dates from the first
// BR (v1.0), so the lint is effective from 2012-07-01.
func subjectCountryLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectCountry,
			Description:   "countryName is present and an assigned ISO 3166-1 alpha-2 code (XX is refused)",
			Citation:      "BR §7.1.2.7.4, §7.1.4.2; docs/design.md §3",
			Source:        Source,
			EffectiveDate: brEffectiveDate,
		},
		Check: checkSubjectCountry,
	}
}

func checkSubjectCountry(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	cc, ok := subjectValue(attrs, "countryName")
	if !ok {
		return fail("countryName is missing")
	}
	if cc == "XX" {
		return fail("countryName XX is a placeholder; vetca requires an assigned ISO 3166-1 code")
	}
	if _, ok := iso3166.LookupCountry(cc); !ok {
		return fail("countryName %q is not an ISO 3166-1 alpha-2 code", cc)
	}
	return pass()
}
