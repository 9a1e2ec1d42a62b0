package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.2.7.4: the OV subject holds only the attributes the profile
// issues; organizationalUnitName MUST NOT be present.
func TestLintSubjectAttributeAllowed(t *testing.T) {
	runLintTable(t, lint.LintSubjectAttributeAllowed, "BR §7.1.2.7.4", []lintCase{
		{"§7.1.2.7.4 C, ST, L, O and CN", lint.LintSubjectAttributeAllowed + "_pass.pem", nil, zlint.Pass},
		{"§7.1.2.7.4 OU present", lint.LintSubjectAttributeAllowed + "_fail.pem", nil, zlint.Error},
	})
}
