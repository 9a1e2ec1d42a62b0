//go:build vetcatesthooks

package issuance

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"

	vlint "github.com/vetca/vetca/internal/lint"
)

// TestHooks, in the test build only (go build -tags vetcatesthooks), lets
// end-to-end tests interrupt issuance and force a lint failure:
//
//	VETCA_TEST_CRASH_AT=after_intent|after_sign|after_store  exit(3) there
//	VETCA_TEST_HOLD_FILE=PATH                                after the intent, wait while PATH exists
//	VETCA_TEST_FORCE_LINT_FAILURE=1                          add a lint that always fails
//	VETCA_TEST_NEW_LINT_DNS=TEXT                             add e_vetca_test_new_lint, failing every certificate with a DNS name containing TEXT
func TestHooks() (Hooks, []vlint.Option) {
	var h Hooks
	if path := os.Getenv("VETCA_TEST_HOLD_FILE"); path != "" {
		h.AfterIntent = func() {
			fmt.Fprintf(os.Stderr, "vetcatesthooks: holding after the intent while %s exists\n", path)
			for {
				if _, err := os.Stat(path); err != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			fmt.Fprintln(os.Stderr, "vetcatesthooks: released")
		}
	}
	crash := func(at string) func() {
		return func() {
			fmt.Fprintf(os.Stderr, "vetcatesthooks: exiting at %s\n", at)
			os.Exit(3)
		}
	}
	switch os.Getenv("VETCA_TEST_CRASH_AT") {
	case "after_intent":
		h.AfterIntent = crash("after_intent")
	case "after_sign":
		h.AfterSign = crash("after_sign")
	case "after_store":
		h.AfterStore = crash("after_store")
	}
	var opts []vlint.Option
	if os.Getenv("VETCA_TEST_FORCE_LINT_FAILURE") == "1" {
		opts = append(opts, vlint.WithExtraLints(AlwaysFailingLint()))
	}
	if text := os.Getenv("VETCA_TEST_NEW_LINT_DNS"); text != "" {
		opts = append(opts, vlint.WithExtraLints(NewDNSLint("e_vetca_test_new_lint", text)))
	}
	return h, opts
}

// NewDNSLint is a lint that fails every certificate with a DNS name
// containing text. Scan tests use it as a lint added after issuance.
func NewDNSLint(name, text string) *lint.CertificateLint {
	return &lint.CertificateLint{
		LintMetadata: lint.LintMetadata{
			Name: name, Description: "test build only: fails DNS names containing " + text,
			Citation: "vetcatesthooks", Source: vlint.Source,
		},
		Lint: func() lint.CertificateLintInterface { return dnsLint(text) },
	}
}

type dnsLint string

func (dnsLint) CheckApplies(*x509.Certificate) bool { return true }
func (d dnsLint) Execute(c *x509.Certificate) *lint.LintResult {
	for _, n := range c.DNSNames {
		if strings.Contains(n, string(d)) {
			return &lint.LintResult{Status: lint.Error, Details: "DNS name " + n + " contains " + string(d)}
		}
	}
	return &lint.LintResult{Status: lint.Pass}
}

// AlwaysFailingLint is a lint that fails every certificate.
func AlwaysFailingLint() *lint.CertificateLint {
	return &lint.CertificateLint{
		LintMetadata: lint.LintMetadata{
			Name: "e_vetca_test_forced_failure", Description: "test build only: fails every certificate",
			Citation: "vetcatesthooks", Source: vlint.Source,
		},
		Lint: func() lint.CertificateLintInterface { return forced{} },
	}
}

type forced struct{}

func (forced) CheckApplies(*x509.Certificate) bool { return true }
func (forced) Execute(*x509.Certificate) *lint.LintResult {
	return &lint.LintResult{Status: lint.Error, Details: "forced failure (VETCA_TEST_FORCE_LINT_FAILURE)"}
}
