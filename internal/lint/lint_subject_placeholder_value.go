package lint

import (
	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/br"
)

// LintSubjectPlaceholder is the name of the placeholder subject value lint.
const LintSubjectPlaceholder = "e_vetca_subject_placeholder_value"

// subjectPlaceholderLint: BR §7.1.2.7.4 "subject Attributes MUST NOT
// contain only metadata such as '.', '-', and ' ' (i.e. space) characters,
// and/or any other indication that the value is absent, incomplete, or not
// applicable." countryName is left to the country lint (NA is Namibia).
// The rule dates from the first BR (v1.0 §9.2.8), so the lint is effective
// from 2012-07-01.
func subjectPlaceholderLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectPlaceholder,
			Description:   "No subject attribute holds only metadata characters or a placeholder such as N/A",
			Citation:      "BR §7.1.2.7.4",
			Source:        Source,
			EffectiveDate: brEffectiveDate,
		},
		Check: checkSubjectPlaceholder,
	}
}

func checkSubjectPlaceholder(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	for _, a := range attrs {
		n := attrName(a.OID)
		if n == "countryName" {
			continue
		}
		if br.IsPlaceholder(a.Value) {
			return fail("%s %q is a placeholder or holds only metadata characters, not a value", n, a.Value)
		}
	}
	return pass()
}
