package lint_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
)

// lintCase is one row of a per-lint table test: a committed certificate
// from testdata/ (see TestGenerateTestdata), the expected subjects the lint
// gets, and the status it must return.
type lintCase struct {
	name     string // the BR section the case exercises comes first
	file     string
	expected []profile.Subject
	want     zlint.LintStatus
}

// readTestCert loads a PEM certificate from testdata/.
func readTestCert(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no CERTIFICATE block", file)
	}
	return block.Bytes
}

// runLintTable checks that the lint cites citation, then runs it on every
// case, both on its own (Lint.Execute) and inside Linter.LintCertificate
// with zlint's lints, and compares the status. Every table needs at least
// one passing and one failing certificate.
func runLintTable(t *testing.T, lintName, citation string, cases []lintCase) {
	t.Helper()
	reg, err := lint.NewVetcaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := reg.ByName(lintName)
	if !ok {
		t.Fatalf("%s is not registered", lintName)
	}
	if !strings.Contains(l.Citation, citation) {
		t.Errorf("%s cites %q, want it to cite %s", lintName, l.Citation, citation)
	}
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[zlint.LintStatus]bool{}
	for _, tc := range cases {
		seen[tc.want] = true
		t.Run(tc.name, func(t *testing.T) {
			der := readTestCert(t, tc.file)
			c, err := zx509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			res := l.Execute(c, lint.Input{Expected: tc.expected})
			if res.Status != tc.want {
				t.Fatalf("%s on %s = %s (%s), want %s", lintName, tc.file, res.Status, res.Details, tc.want)
			}
			if tc.want == zlint.Error && res.Details == "" {
				t.Errorf("%s on %s: error without details", lintName, tc.file)
			}
			rep, err := linter.LintCertificate(der, tc.expected...)
			if err != nil {
				t.Fatal(err)
			}
			if got, ran := rep.Status(lintName); !ran || got != tc.want {
				t.Fatalf("LintCertificate: %s = %s (ran %v), want %s", lintName, got, ran, tc.want)
			}
		})
	}
	if !seen[zlint.Pass] || !seen[zlint.Error] {
		t.Errorf("%s: the table needs a passing and a failing certificate", lintName)
	}
}
