package lint

import (
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/br"
)

// LintValidityCap is the name of the validity period lint.
const LintValidityCap = "e_vetca_validity_exceeds_br_cap"

// validityCapLint: the validity period is within BR §6.3.2's maximum for
// the notBefore date (br.MaxValidity: 398 days, then the ballot SC-081
// steps of 200, 100 and 47 days). Effective from 2020-09-01, when the
// 398-day cap took effect; earlier certificates had other caps.
func validityCapLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintValidityCap,
			Description:   "The validity period is within the BR §6.3.2 maximum for the notBefore date",
			Citation:      "BR §6.3.2",
			Source:        Source,
			EffectiveDate: br398DaysDate,
		},
		Applies: subscriberServerAuth,
		Check:   checkValidityCap,
	}
}

func checkValidityCap(c *zx509.Certificate, _ Input) *zlint.LintResult {
	days := br.ValidityDays(c.NotBefore, c.NotAfter)
	if max := br.MaxValidity(c.NotBefore); days > max {
		return fail("validity period is %d days; BR §6.3.2 allows %d for notBefore %s",
			days, max, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return pass()
}
