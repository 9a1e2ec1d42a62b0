package lint

import (
	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// LintSubjectRDNOrder is the name of the subject attribute order lint.
const LintSubjectRDNOrder = "e_vetca_subject_rdn_order"

// subjectRDNOrderLint: BR §7.1.4.2 requires the subject attributes in the
// order C, ST, L, postalCode, street, O, CN (the attributes this profile
// issues), one AttributeTypeAndValue per RDN, none repeated (§7.1.4.1).
// Effective with the BR §7.1.4.2 table (ballot SC-062).
func subjectRDNOrderLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectRDNOrder,
			Description:   "Subject attributes appear in the order C, ST, L, postalCode, street, O, CN, one per RDN, none repeated",
			Citation:      "BR §7.1.4.2, §7.1.4.1",
			Source:        Source,
			EffectiveDate: brSC62Date,
		},
		Check: checkSubjectRDNOrder,
	}
}

func checkSubjectRDNOrder(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	rank := map[string]int{}
	for i, s := range profile.AttributeOrder() {
		rank[s.Field] = i
	}
	last := -1
	seen := map[string]bool{}
	for _, a := range attrs {
		n := attrName(a.OID)
		if a.RDNSize != 1 {
			return fail("RDN %d holds %d attributes; each RDN must hold exactly one", a.RDN, a.RDNSize)
		}
		if seen[n] {
			return fail("%s appears more than once", n)
		}
		seen[n] = true
		r, ok := rank[n]
		if !ok {
			continue // reported by e_vetca_subject_attribute_not_in_profile
		}
		if r < last {
			return fail("%s appears after an attribute that BR §7.1.4.2 orders after it", n)
		}
		last = r
	}
	return pass()
}
