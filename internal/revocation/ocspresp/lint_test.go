package ocspresp_test

import (
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// TestZlintOCSPLints runs zlint v3.7.3's OCSP response lints (signature
// encodings per BR §7.1.3.2, thisUpdate not after producedAt per RFC 6960
// §2.4) over responses from every signer set-up.
func TestZlintOCSPLints(t *testing.T) {
	for _, st := range setups() {
		t.Run(st.name, func(t *testing.T) {
			cert := leaf(st.ca, big.NewInt(0x77aa))
			for _, r := range []ocspresp.Response{goodResponse(cert.SerialNumber), func() ocspresp.Response {
				r := goodResponse(cert.SerialNumber)
				r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, 1, t0.Add(-time.Minute)
				return r
			}()} {
				der, err := ocspresp.Sign(ocspresp.Params{SignerConfig: st.cfg, Response: r})
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := ocsp.ParseResponseForCert(der, cert, st.ca.cert)
				if err != nil {
					t.Fatal(err)
				}
				res := zlint.LintOcspResponseEx(parsed, lint.GlobalRegistry())
				if len(res.Results) < 3 {
					t.Fatalf("only %d OCSP lints ran", len(res.Results))
				}
				for name, lr := range res.Results {
					if lr.Status == lint.Warn || lr.Status == lint.Error || lr.Status == lint.Fatal {
						t.Errorf("%s: %s %s", name, lr.Status, lr.Details)
					}
				}
			}
		})
	}
}

// TestResponderCertificateLints runs zlint's certificate lints for OCSP
// responder certificates (BR §7.1.2.8) over one made from ResponderTemplate.
func TestResponderCertificateLints(t *testing.T) {
	for _, ca := range []*testCA{ecdsaCA(), rsaCA()} {
		rc, _ := delegated(ca, t0.AddDate(0, 1, 0))
		zc, err := zx509.ParseCertificate(rc.Raw)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeNames: []string{
			"e_ocsp_id_pkix_ocsp_nocheck_ext_not_included_server_auth",
			"e_ocsp_cert_cdp_forbidden",
			"e_ocsp_cert_invalid_ku",
			"e_ocsp_cert_cp_forbidden",
		}})
		if err != nil {
			t.Fatal(err)
		}
		res := zlint.LintCertificateEx(zc, reg)
		applied := 0
		for name, lr := range res.Results {
			switch lr.Status {
			case lint.Pass:
				applied++
			case lint.Warn, lint.Error, lint.Fatal:
				t.Errorf("%s: %s: %s %s", ca.name, name, lr.Status, lr.Details)
			}
		}
		if applied != 4 {
			t.Errorf("%s: %d of 4 responder lints passed (others did not apply)", ca.name, applied)
		}
		if err := ocspresp.CheckResponder(rc, ca.cert); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenSSLVerifiesResponses has OpenSSL verify responses from each signer
// set-up, checking the signature, the delegated responder's authorisation
// and the certificate status it reports.
func TestOpenSSLVerifiesResponses(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for _, st := range setups() {
		for _, revoked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/revoked=%v", st.name, revoked), func(t *testing.T) {
				dir := t.TempDir()
				cert := leaf(st.ca, big.NewInt(0x0c5b1e77))
				r := goodResponse(cert.SerialNumber)
				want := ": good"
				if revoked {
					r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, 4, t0.Add(-2*time.Hour)
					want = ": revoked"
				}
				der, err := ocspresp.Sign(ocspresp.Params{SignerConfig: st.cfg, Response: r})
				if err != nil {
					t.Fatal(err)
				}
				write := func(name string, data []byte) string {
					p := filepath.Join(dir, name)
					if err := os.WriteFile(p, data, 0o600); err != nil {
						t.Fatal(err)
					}
					return p
				}
				caPEM := write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.ca.cert.Raw}))
				leafPEM := write("leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
				resp := write("resp.der", der)
				out, err := exec.Command(openssl, "ocsp", "-respin", resp, "-issuer", caPEM, "-cert", leafPEM,
					"-CAfile", caPEM, "-no_nonce", "-attime", fmt.Sprint(t0.Unix()), "-resp_text").CombinedOutput()
				text := string(out)
				if err != nil {
					t.Fatalf("openssl ocsp: %v\n%s", err, text)
				}
				for _, w := range []string{"Response verify OK", want, "Responder Id: "} {
					if !strings.Contains(text, w) {
						t.Errorf("openssl output lacks %q:\n%s", w, text)
					}
				}
				if revoked && !strings.Contains(text, "Reason: superseded") {
					t.Errorf("openssl does not show the reason:\n%s", text)
				}
				if strings.Contains(text, "Response Extensions") || strings.Contains(text, "CRL Reason Code") {
					t.Errorf("unexpected extensions (RFC 5019 §2.2.1, BR §7.3.2):\n%s", text)
				}
			})
		}
	}
}

// TestOpenSSLRejectsForeignResponse checks the OpenSSL test can fail: a
// response signed by another CA does not verify.
func TestOpenSSLRejectsForeignResponse(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	a, b := ecdsaCA(), rsaCA()
	cert := leaf(a, big.NewInt(0x1001))
	der, err := ocspresp.Sign(ocspresp.Params{SignerConfig: ocspresp.SignerConfig{Issuer: b.cert, Key: b.key}, Response: goodResponse(cert.SerialNumber)})
	if err != nil {
		t.Fatal(err)
	}
	caPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	leafPEM := filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(leafPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := filepath.Join(dir, "resp.der")
	if err := os.WriteFile(resp, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(openssl, "ocsp", "-respin", resp, "-issuer", caPEM, "-cert", leafPEM, "-CAfile", caPEM, "-no_nonce", "-attime", fmt.Sprint(t0.Unix())).CombinedOutput()
	if strings.Contains(string(out), "Response verify OK") {
		t.Fatalf("openssl verified a response from the wrong CA:\n%s", out)
	}
}
