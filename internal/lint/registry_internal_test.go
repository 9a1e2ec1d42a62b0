package lint

import (
	"testing"

	"github.com/zmap/zlint/v3/util"
)

// The effective dates agree with zlint's reading of the same BR versions.
func TestEffectiveDatesMatchZlint(t *testing.T) {
	if !brEffectiveDate.Equal(util.CABEffectiveDate) {
		t.Errorf("brEffectiveDate %s, zlint CABEffectiveDate %s", brEffectiveDate, util.CABEffectiveDate)
	}
	if !brSC62Date.Equal(util.SC62EffectiveDate) || !brSC62Date.Equal(util.CABFBRs_2_0_0_Date) {
		t.Errorf("brSC62Date %s, zlint SC62EffectiveDate %s", brSC62Date, util.SC62EffectiveDate)
	}
	// zlint names the 2020-09-01 398-day cap after Apple's policy, which
	// BR §6.3.2 adopted for the same date.
	if !br398DaysDate.Equal(util.AppleReducedLifetimeDate) {
		t.Errorf("br398DaysDate %s, zlint AppleReducedLifetimeDate %s", br398DaysDate, util.AppleReducedLifetimeDate)
	}
}
