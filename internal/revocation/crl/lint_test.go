package crl_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// zlintCRL runs every revocation-list lint zlint v3.7.3 registers and returns
// the names of those that warned, erred or failed fatally, and how many ran.
func zlintCRL(t *testing.T, der []byte) (bad []string, ran int) {
	t.Helper()
	rl, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("zcrypto cannot parse the CRL: %v", err)
	}
	res := zlint.LintRevocationListEx(rl, lint.GlobalRegistry())
	for name, r := range res.Results {
		ran++
		switch r.Status {
		case lint.Warn, lint.Error, lint.Fatal:
			bad = append(bad, name+": "+r.Status.String()+" "+r.Details)
		}
	}
	return bad, ran
}

// TestZlintCRLLints requires every zlint CRL lint (BR §7.2, §7.2.2, RFC 5280
// §5) to pass, or not apply, for both key types, with and without entries,
// and with GeneralizedTime dates.
func TestZlintCRLLints(t *testing.T) {
	for _, ca := range cas() {
		for _, tc := range []struct {
			name    string
			entries []crl.Entry
			this    time.Time
		}{
			{"empty", nil, t0},
			{"entries", makeEntries(300, 51), t0},
			{"2050", []crl.Entry{{Serial: makeEntries(1, 52)[0].Serial, RevokedAt: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), Reason: 1}}, time.Date(2050, 1, 2, 0, 0, 0, 0, time.UTC)},
		} {
			t.Run(ca.name+"/"+tc.name, func(t *testing.T) {
				p := params(ca, tc.entries)
				p.ThisUpdate, p.NextUpdate = tc.this, tc.this.Add(crl.MaxValidity)
				bad, ran := zlintCRL(t, mustBuild(t, p))
				if ran < 15 {
					t.Fatalf("only %d CRL lints ran", ran)
				}
				for _, b := range bad {
					t.Error(b)
				}
			})
		}
	}
}

// TestZlintHarnessCatchesProblems shows the harness above is not vacuous:
// a CRL with a certificateHold entry and an 11-day validity, made with the
// standard library, fails the lints that check those rules.
func TestZlintHarnessCatchesProblems(t *testing.T) {
	ca := ecdsaCA()
	der := stdCRL(t, ca, func(rl *x509.RevocationList) {
		rl.RevokedCertificateEntries[0].ReasonCode = 6
		rl.NextUpdate = rl.ThisUpdate.Add(11 * 24 * time.Hour)
	})
	bad, _ := zlintCRL(t, der)
	joined := strings.Join(bad, "\n")
	for _, want := range []string{"e_crl_next_update_invalid", "e_cab_crl_has_valid_reason_code"} {
		if !strings.Contains(joined, want) {
			t.Errorf("lint %s did not fire; got:\n%s", want, joined)
		}
	}
}

// TestOpenSSLVerifies has OpenSSL check each CRL's signature against the CA
// and print the Issuing Distribution Point it sees.
func TestOpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for _, ca := range cas() {
		t.Run(ca.name, func(t *testing.T) {
			dir := t.TempDir()
			caFile := filepath.Join(dir, "ca.pem")
			crlFile := filepath.Join(dir, "shard.crl")
			if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(crlFile, mustBuild(t, params(ca, makeEntries(20, 61))), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", caFile, "-noout", "-text").CombinedOutput()
			if err != nil {
				t.Fatalf("openssl crl: %v\n%s", err, out)
			}
			text := string(out)
			for _, want := range []string{"verify OK", "Issuing Distribution Point: critical", "URI:" + testURL, "Only User Certificates", "X509v3 CRL Number: \n                42", "Key Compromise"} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "Unspecified") {
				t.Errorf("openssl shows an explicit unspecified reason:\n%s", text)
			}
		})
	}
}

// TestOpenSSLRejectsWrongCA makes sure the OpenSSL check above can fail.
func TestOpenSSLRejectsWrongCA(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	crlFile := filepath.Join(dir, "shard.crl")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaCA().cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crlFile, mustBuild(t, params(ecdsaCA(), nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", caFile, "-noout").CombinedOutput()
	if err == nil && strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl verified a CRL against the wrong CA:\n%s", out)
	}
}

// TestBuildIsDeterministicUpToSignature checks that two builds of the same
// shard differ only in the signature (ECDSA is randomised), so a republished
// shard is recognisable.
func TestBuildIsDeterministicUpToSignature(t *testing.T) {
	ca := ecdsaCA()
	p := params(ca, makeEntries(10, 71))
	a, err := x509.ParseRevocationList(mustBuild(t, p))
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509.ParseRevocationList(mustBuild(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.RawTBSRevocationList) != string(b.RawTBSRevocationList) {
		t.Error("same parameters gave different TBS")
	}
}
