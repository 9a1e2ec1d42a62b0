package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.2.7.4 and §3.2.2.1: stateOrProvinceName is the subject's
// verified state; vetca issues the ISO 3166-2 subdivision name of
// countryName. The lint does not apply without stateOrProvinceName.
func TestLintSubjectState(t *testing.T) {
	runLintTable(t, lint.LintSubjectState, "BR §7.1.2.7.4", []lintCase{
		{"§7.1.2.7.4 ST=California under C=US", lint.LintSubjectState + "_pass.pem", nil, zlint.Pass},
		{"§7.1.2.7.4 ST=California under C=MM", lint.LintSubjectState + "_fail.pem", nil, zlint.Error},
		{"§7.1.2.7.4 no ST", lint.LintSubjectCountry + "_pass.pem", nil, zlint.NA},
	})
}
