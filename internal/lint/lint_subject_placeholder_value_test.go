package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.2.7.4: subject attributes MUST NOT hold only metadata or an
// indication that the value is absent or not applicable.
func TestLintSubjectPlaceholder(t *testing.T) {
	runLintTable(t, lint.LintSubjectPlaceholder, "BR §7.1.2.7.4", []lintCase{
		{"§7.1.2.7.4 C=NA and O 'N.A. Holdings' are values", lint.LintSubjectPlaceholder + "_pass.pem", nil, zlint.Pass},
		{"§7.1.2.7.4 L is N/A", lint.LintSubjectPlaceholder + "_fail.pem", nil, zlint.Error},
	})
}
