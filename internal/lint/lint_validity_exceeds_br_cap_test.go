package lint_test

import (
	"testing"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
)

// BR §6.3.2: the validity period, counted inclusively, is at most the cap
// for the notBefore date (200 days from 2026-03-15). The lint is not in
// effect before the 398-day cap (2020-09-01) and does not apply to CA
// certificates.
func TestLintValidityCap(t *testing.T) {
	runLintTable(t, lint.LintValidityCap, "BR §6.3.2", []lintCase{
		{"§6.3.2 200 days from 2026-11-02", lint.LintValidityCap + "_pass.pem", nil, zlint.Pass},
		{"§6.3.2 200 days and 1 s from 2026-11-02", lint.LintValidityCap + "_fail.pem", nil, zlint.Error},
		{"§6.3.2 825 days from 2019-06-01 is not effective", lint.LintValidityCap + "_ne.pem", nil, zlint.NE},
		{"§6.3.2 CA certificate", issuingCAFile, nil, zlint.NA},
	})
}
