package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.2.7.4: countryName is the subject's ISO 3166-1 code; vetca also
// refuses the user-assigned XX (docs/design.md §3).
func TestLintSubjectCountry(t *testing.T) {
	runLintTable(t, lint.LintSubjectCountry, "BR §7.1.2.7.4", []lintCase{
		{"§7.1.2.7.4 C=AD", lint.LintSubjectCountry + "_pass.pem", nil, zlint.Pass},
		{"§7.1.2.7.4 C=XX", lint.LintSubjectCountry + "_fail.pem", nil, zlint.Error},
	})
}
