package lint

import (
	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// LintSubjectAttributeAllowed is the name of the lint on subject attributes
// the OV profile does not issue.
const LintSubjectAttributeAllowed = "e_vetca_subject_attribute_not_in_profile"

// subjectAttributeAllowedLint: the OV profile (BR §7.1.2.7.4) lets vetca
// issue only C, ST, L, postalCode, street, O and CN; OU, givenName and
// surname are forbidden and other attributes would need §7.1.4.4
// verification vetca does not perform. Effective with the BR §7.1.2.7.4
// profile (ballot SC-062).
func subjectAttributeAllowedLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectAttributeAllowed,
			Description:   "Subject holds only countryName, stateOrProvinceName, localityName, postalCode, streetAddress, organizationName and commonName",
			Citation:      "BR §7.1.2.7.4, §7.1.4.4",
			Source:        Source,
			EffectiveDate: brSC62Date,
		},
		Check: checkSubjectAttributeAllowed,
	}
}

func checkSubjectAttributeAllowed(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	for _, a := range attrs {
		if _, ok := profile.LookupAttribute(a.OID); !ok {
			return fail("the subject holds %s, which the OV profile does not issue", attrName(a.OID))
		}
	}
	return pass()
}
