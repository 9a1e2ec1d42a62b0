package lint

import (
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// LintOVPolicy is the name of the certificatePolicies lint.
const LintOVPolicy = "e_vetca_ov_policy_missing"

// ovPolicyLint: an OV subscriber certificate asserts 2.23.140.1.2.2, first
// (RECOMMENDED by BR §7.1.2.7.9, required by vetca's profile), exactly one
// CA/Browser Forum reserved identifier, and never anyPolicy. Effective with
// the BR §7.1.2.7.9 profile (ballot SC-062).
func ovPolicyLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintOVPolicy,
			Description:   "certificatePolicies starts with 2.23.140.1.2.2, holds exactly one reserved CABF identifier and no anyPolicy",
			Citation:      "BR §7.1.2.7.9, §7.1.6.1",
			Source:        Source,
			EffectiveDate: brSC62Date,
		},
		Applies: subscriberServerAuth,
		Check:   checkOVPolicy,
	}
}

func checkOVPolicy(c *zx509.Certificate, _ Input) *zlint.LintResult {
	pol := c.PolicyIdentifiers
	if len(pol) == 0 {
		return fail("no certificatePolicies")
	}
	if pol[0].String() != profile.OIDOrganizationValidated {
		return fail("the first policy is %s, not %s", pol[0], profile.OIDOrganizationValidated)
	}
	reserved := 0
	for _, p := range pol {
		s := p.String()
		if s == profile.OIDAnyPolicy {
			return fail("anyPolicy is present")
		}
		if strings.HasPrefix(s, "2.23.140.1.") {
			reserved++
		}
	}
	if reserved != 1 {
		return fail("%d CA/Browser Forum reserved policy identifiers; exactly one is allowed", reserved)
	}
	return pass()
}
