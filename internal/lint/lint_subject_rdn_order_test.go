package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.4.2: subject attributes in the table's order; BR §7.1.4.1: one
// attribute per RDN, none repeated.
func TestLintSubjectRDNOrder(t *testing.T) {
	runLintTable(t, lint.LintSubjectRDNOrder, "BR §7.1.4.2", []lintCase{
		{"§7.1.4.2 C, ST, L, postalCode, street, O in order", lint.LintSubjectRDNOrder + "_pass.pem", nil, zlint.Pass},
		{"§7.1.4.2 O before L", lint.LintSubjectRDNOrder + "_fail.pem", nil, zlint.Error},
	})
}
