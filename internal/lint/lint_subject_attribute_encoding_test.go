package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §7.1.4.2: countryName is a PrintableString; the other attributes are
// UTF8String or PrintableString within their upper bound.
func TestLintSubjectAttributeEncoding(t *testing.T) {
	runLintTable(t, lint.LintSubjectAttributeEncoding, "BR §7.1.4.2", []lintCase{
		{"§7.1.4.2 O of 64 characters, L as PrintableString", lint.LintSubjectAttributeEncoding + "_pass.pem", nil, zlint.Pass},
		{"§7.1.4.2 C as UTF8String", lint.LintSubjectAttributeEncoding + "_fail.pem", nil, zlint.Error},
	})
}
