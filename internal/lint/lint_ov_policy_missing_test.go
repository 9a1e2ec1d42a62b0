package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.2.7.9 and §7.1.6.1: an OV certificate asserts 2.23.140.1.2.2
// (first, in vetca's profile), one reserved identifier, no anyPolicy.
func TestLintOVPolicy(t *testing.T) {
	runLintTable(t, lint.LintOVPolicy, "BR §7.1.2.7.9", []lintCase{
		{"§7.1.2.7.9 OV then a CPS OID", lint.LintOVPolicy + "_pass.pem", nil, zlint.Pass},
		{"§7.1.2.7.9 DV instead of OV", lint.LintOVPolicy + "_fail.pem", nil, zlint.Error},
		{"§7.1.2.7.9 CA certificate", issuingCAFile, nil, zlint.NA},
	})
}
