package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/signer/softhsmtest"
)

const site = "shop.acme-widgets.com"

// ca is a served instance with a vetted organization, an account and a
// DNS-validated domain, driven only through the API and the CLI.
type ca struct {
	*Instance
	dns                *dnstest.Server
	alice, bob, carol  string
	orgID, acc, accTok string
}

func serveArgs(dns *dnstest.Server) []string {
	return []string{"--dns-resolver", dns.Addr(), "--caa-identity", "pki.vetca-test.com"}
}

// vettedAccount creates an organization (as creator), has two other
// verifiers verify its first version, and creates an account linked to it
// (as accountCreator). It returns the organization, the account and the
// account's token.
func vettedAccount(t *testing.T, in *Instance, creator, accountCreator string, org map[string]any, verifiers ...string) (orgID, accID, accTok string) {
	t.Helper()
	r := in.Do("POST", "/api/v1/organizations", creator, org)
	if r.Status != 201 {
		t.Fatalf("org: %d %s", r.Status, r.Raw)
	}
	orgID = r.Body["id"].(string)
	for _, tok := range verifiers {
		if v := in.Do("POST", "/api/v1/organizations/"+orgID+"/versions/1/verify", tok, map[string]any{}); v.Status != 200 {
			t.Fatalf("verify: %d %s", v.Status, v.Raw)
		}
	}
	r = in.Do("POST", "/api/v1/accounts", accountCreator, map[string]any{"name": "Acme", "organizations": []string{orgID}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	return orgID, r.Body["id"].(string), r.Body["token"].(string)
}

func setupCA(t *testing.T, in *Instance) *ca {
	t.Helper()
	c := &ca{Instance: in, dns: dnstest.New(t)}
	in.Serve(serveArgs(c.dns)...)
	c.alice, c.bob, c.carol = in.User("alice", "verifier"), in.User("bob", "verifier"), in.User("carol", "verifier", "compliance")
	c.orgID, c.acc, c.accTok = vettedAccount(t, in, c.alice, c.alice, map[string]any{"organizationName": "Acme Widgets Inc.", "countryName": "US",
		"stateOrProvinceName": "California", "localityName": "San Francisco"}, c.bob, c.carol)
	r := in.Do("POST", "/api/v1/accounts/"+c.acc+"/domains", c.accTok, map[string]any{"domain": site})
	if r.Status != 201 {
		t.Fatalf("domain: %d %s", r.Status, r.Raw)
	}
	c.dns.AddTXT(r.Body["recordName"].(string), r.Body["value"].(string))
	if v := in.Do("POST", "/api/v1/accounts/"+c.acc+"/domains/"+r.Body["id"].(string)+"/validate", c.accTok, nil); v.Body["status"] != "valid" {
		t.Fatalf("validate: %d %s", v.Status, v.Raw)
	}
	return c
}

func csrPEM(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{}, DNSNames: []string{site}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// approved places an order and has bob and carol approve it.
func (c *ca) approved(t *testing.T) string {
	t.Helper()
	return c.approvedCSR(t, csrPEM(t))
}

// approvedCSR places an order for csr and has bob and carol approve it.
func (c *ca) approvedCSR(t *testing.T, csr string) string {
	t.Helper()
	r := c.Do("POST", "/api/v1/orders", c.accTok, map[string]any{"organizationId": c.orgID, "dnsNames": []string{site}, "csr": csr})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{c.bob, c.carol} {
		if a := c.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	return id
}

func (c *ca) issue(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	id := c.approved(t)
	fin := c.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	b, _ := pem.Decode([]byte(fin.Body["certificate"].(string)))
	if b == nil {
		t.Fatalf("finalize returned no PEM certificate: %s", fin.Raw)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return fin.Body["serial"].(string), cert
}

func (c *ca) issuerCert(t *testing.T) *x509.Certificate {
	t.Helper()
	r := c.Do("GET", "/api/v1/issuers", c.alice, nil)
	list, _ := r.Body["issuers"].([]any)
	if r.Status != 200 || len(list) == 0 {
		t.Fatalf("issuers: %d %s", r.Status, r.Raw)
	}
	last := list[len(list)-1].(map[string]any)
	b, _ := pem.Decode([]byte(last["certificate"].(string)))
	if b == nil {
		t.Fatalf("issuer without a PEM certificate: %v", last)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// ocspStatus asks the running server about a serial.
func (c *ca) ocspStatus(t *testing.T, serialHex string) *ocsp.Response {
	t.Helper()
	iss := c.issuerCert(t)
	sn, ok := new(big.Int).SetString(serialHex, 16)
	if !ok {
		t.Fatalf("serial %q", serialHex)
	}
	req, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: sn}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(c.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponse(body, iss)
	if err != nil {
		t.Fatalf("OCSP for %s: %v", serialHex, err)
	}
	return r
}

// crlHas fetches a CRL URL from the running server and reports whether it
// lists the serial.
func (c *ca) crlHas(t *testing.T, crlURL string, serial *big.Int) bool {
	t.Helper()
	u, err := url.Parse(crlURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(c.URL + u.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", crlURL, resp.StatusCode)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// rawFinalize calls finalize and tolerates a dropped connection.
func (c *ca) rawFinalize(orderID string) (int, error) {
	req, err := http.NewRequest("POST", c.URL+"/api/v1/orders/"+orderID+"/finalize", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.accTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A process killed between intent and signature (docs/design.md §6), at
// every step, leaves a state that start-up recovery resolves; every serial
// with an intent has an answer from the status services (never unknown).
func TestCrashAtEveryIssuanceStep(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		c := setupCA(t, in)
		for _, step := range []string{"after_intent", "after_sign", "after_store"} {
			t.Run(step, func(t *testing.T) {
				id := c.approved(t)
				in.Stop()
				in.Bin, in.Env = hooksBin, []string{"VETCA_TEST_CRASH_AT=" + step}
				in.Serve(serveArgs(c.dns)...)
				if status, err := c.rawFinalize(id); err == nil && status == 200 {
					t.Fatalf("finalize succeeded despite the crash hook")
				}
				if code := in.Wait(); code != 3 {
					t.Fatalf("server exit %d, want the hook's 3:\n%s", code, in.Logs())
				}
				// Restart the shipped binary: recovery runs before it serves.
				in.Bin, in.Env = vetcaBin, nil
				in.Serve(serveArgs(c.dns)...)
				var intent struct{ Serial, Status, CRLURL string }
				out := in.SQL("SELECT serial || '|' || status || '|' || crl_url FROM issuance_intents WHERE order_id = '" + id + "'")
				parts := strings.Split(out, "|")
				if len(parts) != 3 {
					t.Fatalf("intent row: %q", out)
				}
				intent.Serial, intent.Status, intent.CRLURL = parts[0], parts[1], parts[2]
				sn, ok := new(big.Int).SetString(intent.Serial, 16)
				if !ok {
					t.Fatalf("intent serial %q is not hexadecimal", intent.Serial)
				}
				r := c.ocspStatus(t, intent.Serial)
				switch step {
				case "after_store":
					if intent.Status != "issued" || r.Status != ocsp.Good {
						t.Fatalf("stored certificate: intent %s, OCSP %d", intent.Status, r.Status)
					}
					if o := in.Do("GET", "/api/v1/orders/"+id, c.alice, nil); o.Body["status"] != "issued" {
						t.Fatalf("order after a crash after storing: %s", o.Raw)
					}
				default:
					if intent.Status != "abandoned" || r.Status != ocsp.Revoked {
						t.Fatalf("interrupted issuance: intent %s, OCSP %d (want revoked)", intent.Status, r.Status)
					}
					if !c.crlHas(t, intent.CRLURL, sn) {
						t.Fatalf("abandoned serial %s is not on its CRL", intent.Serial)
					}
					// The order is still approved and can be finalized anew.
					fin := in.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
					if fin.Status != 200 || fin.Body["serial"] == intent.Serial {
						t.Fatalf("finalize after recovery: %d %s", fin.Status, fin.Raw)
					}
				}
				if pending := in.SQL("SELECT COUNT(*) FROM issuance_intents WHERE status = 'pending'"); pending != "0" {
					t.Fatalf("%s intents still pending", pending)
				}
				if _, _, code := in.CLI("audit", "verify"); code != 0 {
					t.Fatal("audit trail not intact after recovery")
				}
			})
		}
	})
}

// A TBS that fails a lint (forced in the test build)
// is never signed by the real key, and the failure names the lint.
func TestForcedLintFailureInTestBuild(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			c := setupCA(t, in)
			id := c.approved(t)
			in.Stop()
			in.Bin, in.Env = hooksBin, []string{"VETCA_TEST_FORCE_LINT_FAILURE=1"}
			in.Serve(serveArgs(c.dns)...)
			fin := in.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
			msg, _ := fin.Body["error"].(map[string]any)["message"].(string)
			if fin.Status != 422 || !strings.Contains(msg, "e_vetca_test_forced_failure") {
				t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
			}
			if n := in.SQL("SELECT COUNT(*) FROM issuance_intents WHERE order_id = '" + id + "'"); n != "0" {
				t.Fatalf("%s intents recorded for a failed lint", n)
			}
			// The shipped binary has no such hook: the same environment does nothing.
			in.Stop()
			in.Bin = vetcaBin
			in.Serve(serveArgs(c.dns)...)
			if _, cert := c.issue(t); cert == nil {
				t.Fatal("no certificate")
			}
		})
	}
}

// Issuance works through a SoftHSM2 token, and the
// certificate verifies with openssl against the chain.
func TestIssuanceThroughSoftHSM(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			tok := softhsmtest.New(t, "vetca-e2e")
			env := append(tok.Env(), "VETCA_PKCS11_PIN="+tok.PIN)
			in := NewWith(t, backend, env, "--issuer-key", tok.URI("vetca-issuing-ca"), "--pkcs11-module", tok.ModulePath)
			if uri := in.SQL("SELECT key_uri FROM issuers WHERE kind = 'intermediate'"); !strings.HasPrefix(uri, "pkcs11:") || strings.Contains(uri, tok.PIN) {
				t.Fatalf("issuing key URI %q", uri)
			}
			in.Env = append(in.Env, "VETCA_PKCS11_MODULE="+tok.ModulePath)
			c := setupCA(t, in)
			_, cert := c.issue(t)
			dir := t.TempDir()
			var roots, inters []string
			r := c.Do("GET", "/api/v1/issuers", c.alice, nil)
			for _, x := range r.Body["issuers"].([]any) {
				m := x.(map[string]any)
				if m["kind"] == "root" {
					roots = append(roots, m["certificate"].(string))
				} else {
					inters = append(inters, m["certificate"].(string))
				}
			}
			write := func(name, body string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			leaf := write("leaf.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
			out, err := exec.Command("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", write("root.pem", strings.Join(roots, "")),
				"-untrusted", write("inter.pem", strings.Join(inters, "")), leaf).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte(": OK")) {
				t.Fatalf("openssl verify: %v %s", err, out)
			}
			// CRLs and OCSP are signed through the token too.
			if r := c.ocspStatus(t, strings.ToLower(cert.SerialNumber.Text(16))); r.Status != ocsp.Good {
				t.Fatalf("OCSP through the HSM: %d", r.Status)
			}
		})
	}
}

// A revocation appears in the certificate's own CRL URL within two
// minutes, and OCSP says revoked (docs/architecture.md, Revocation status);
// `vetca crl verify --fetch` proves coverage; `vetca crl publish --out`
// writes static files and the CCADB JSON.
func TestRevocationThroughServer(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		c := setupCA(t, in)
		serial, cert := c.issue(t)
		if c.crlHas(t, cert.CRLDistributionPoints[0], cert.SerialNumber) {
			t.Fatal("listed before revocation")
		}
		r := in.Do("POST", "/api/v1/certificates/"+serial+"/revoke", c.accTok, map[string]any{"reason": "keyCompromise"})
		if r.Status != 200 || r.Body["reason"] != "keyCompromise" {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for !c.crlHas(t, cert.CRLDistributionPoints[0], cert.SerialNumber) {
			if time.Now().After(deadline) {
				t.Fatal("revocation not on the CRL within two minutes")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if o := c.ocspStatus(t, serial); o.Status != ocsp.Revoked || o.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("OCSP: %d %d", o.Status, o.RevocationReason)
		}
		out, errOut, code := in.CLI("crl", "verify", "--json")
		var v struct {
			OK       bool
			Findings []map[string]string
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || !v.OK {
			t.Fatalf("crl verify: %d %v %s %s", code, err, out, errOut)
		}
		// Delete the revocation behind vetca's back and republish: verify
		// must name the serial.
		in.SQL("DELETE FROM revocations WHERE serial = '" + serial + "'")
		if _, errOut, code := in.CLI("crl", "publish", "--force"); code != 0 {
			t.Fatalf("crl publish: %s", errOut)
		}
		out, _, code = in.CLI("crl", "verify")
		if code != 1 || !strings.Contains(out, serial) {
			t.Fatalf("crl verify after the deletion: exit %d\n%s", code, out)
		}
		dir := t.TempDir()
		if _, errOut, code := in.CLI("crl", "publish", "--out", dir); code != 0 {
			t.Fatalf("crl publish --out: %s", errOut)
		}
		u, err := url.Parse(cert.CRLDistributionPoints[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, u.Host, u.Path)); err != nil {
			t.Fatalf("static CRL missing: %v", err)
		}
		matches, err := filepath.Glob(filepath.Join(dir, "partitioned-crls-*.json"))
		if err != nil || len(matches) != 1 {
			t.Fatalf("CCADB JSON: %v %v", matches, err)
		}
		js, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		if err := json.Unmarshal(js, &urls); err != nil || len(urls) < 16 || !strings.Contains(string(js), cert.CRLDistributionPoints[0]) {
			t.Fatalf("CCADB JSON array: %v %s", err, js)
		}
	})
}
