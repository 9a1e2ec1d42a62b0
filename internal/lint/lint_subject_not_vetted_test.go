package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
)

// BR §3.2.2.1 and §7.1.2.7.4: every subject attribute is the verified
// one; vetca compares the subject with the approved snapshot and the
// verified organization version (docs/design.md §1, §4).
func TestLintSubjectNotVetted(t *testing.T) {
	both := []profile.Subject{vetted, vetted}
	runLintTable(t, lint.LintSubjectNotVetted, "BR §7.1.2.7.4, §3.2.2.1", []lintCase{
		{"§3.2.2.1 subject equals both expected subjects", lint.LintSubjectNotVetted + "_pass.pem", both, zlint.Pass},
		{"§3.2.2.1 O differs from the vetted O", lint.LintSubjectNotVetted + "_fail.pem", both, zlint.Error},
		{"§3.2.2.1 CA certificate", issuingCAFile, both, zlint.NA},
	})
}
