package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/signer/softhsmtest"
)

// hsmInstance is an instance not yet initialized, whose commands see tok.
func hsmInstance(t *testing.T, tok *softhsmtest.Token) *Instance {
	dir := t.TempDir()
	return &Instance{t: t, Backend: "sqlite", Dir: dir, Bin: vetcaBin, PublicURL: "http://pki.vetca-test.com",
		DSN: "sqlite:" + filepath.Join(dir, "vetca.db"), Env: append(tok.Env(), "VETCA_PKCS11_MODULE="+tok.ModulePath)}
}

// An operator's mistakes with an HSM issuing key are refused cleanly: a
// wrong PIN at init leaves no half-made CA (the next init builds the whole
// hierarchy), a PIN given in a URI is never printed, serve with a wrong PIN
// refuses to start after one login attempt, and a ceremony may not give a
// new CA another CA's key.
func TestHSMIssuingKeyMistakesLeaveNothingHalfMade(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-mistakes")
	in := hsmInstance(t, tok)
	issuerURI := tok.URI("vetca-issuing")
	initArgs := func(issuer string) []string {
		return []string{"init", "--public-url", in.PublicURL, "--issuer-key", issuer}
	}

	// A wrong PIN, given in the URI: refused, printed nowhere, no CA made.
	_, errOut, code := in.CLI(initArgs(issuerURI + "?pin-value=7777-wrong")...)
	if code != 1 || !strings.Contains(errOut, "CKR_PIN_INCORRECT") {
		t.Fatalf("init with a wrong PIN: exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut, "7777-wrong") {
		t.Fatalf("the PIN is printed: %s", errOut)
	}
	if n := in.SQL("SELECT COUNT(*) FROM issuers"); n != "0" {
		t.Fatalf("%s issuers recorded by a failed init", n)
	}
	if keys, _ := filepath.Glob(filepath.Join(in.Dir, "keys", "iss_*")); len(keys) != 0 {
		t.Fatalf("a failed init left CA keys: %v", keys)
	}
	// A malformed URI is a usage error.
	if _, errOut, code := in.CLI(initArgs(issuerURI + ";type=public")...); code != 2 {
		t.Fatalf("init with a public-key URI: exit %d, want 2: %s", code, errOut)
	}

	// The same init with the right PIN builds the whole hierarchy.
	in.Env = append(in.Env, "VETCA_PKCS11_PIN="+tok.PIN)
	if out, errOut, code := in.CLI(initArgs(issuerURI)...); code != 0 {
		t.Fatalf("init: exit %d: %s %s", code, out, errOut)
	}
	if kinds := in.SQL("SELECT group_concat(kind) FROM (SELECT kind FROM issuers ORDER BY kind)"); kinds != "intermediate,root" {
		t.Fatalf("issuers after init: %q", kinds)
	}

	// serve with a wrong PIN refuses to start, after one login.
	code, logs := in.ServeFails("--pkcs11-pin", "7777-wrong")
	if code == 0 || strings.Count(logs, "CKR_PIN_INCORRECT") != 1 || strings.Contains(logs, "7777-wrong") {
		t.Fatalf("serve with a wrong PIN: exit %d, want a refusal naming CKR_PIN_INCORRECT once and not the PIN:\n%s", code, logs)
	}

	// One key, one CA.
	_, errOut, code = in.CLI("ceremony", "intermediate", "--issuer-key", issuerURI)
	if code == 0 || !strings.Contains(errOut, "already the key of issuer") {
		t.Fatalf("ceremony with the issuing CA's key: exit %d: %s", code, errOut)
	}
	if n := in.SQL("SELECT COUNT(*) FROM issuers"); n != "2" {
		t.Fatalf("%s issuers after a refused ceremony", n)
	}
}

// An audit key on the HSM works on a new install whose key directory does
// not exist yet, and may not become an issuing CA's key.
func TestHSMAuditKeyOnANewInstall(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-audit")
	in := hsmInstance(t, tok)
	in.Env = append(in.Env, "VETCA_PKCS11_PIN="+tok.PIN)
	auditURI := tok.URI("vetca-audit-key")
	if out, errOut, code := in.CLI("init", "--public-url", in.PublicURL, "--audit-key", auditURI); code != 0 {
		t.Fatalf("init with the audit key on the HSM and no key directory: exit %d: %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "keys", "audit.pub")); err != nil {
		t.Fatalf("the audit key's public half is not pinned: %v", err)
	}
	_, errOut, code := in.CLI("ceremony", "intermediate", "--audit-key", auditURI, "--issuer-key", auditURI)
	if code == 0 || !strings.Contains(errOut, "is the audit key") {
		t.Fatalf("ceremony with the audit key: exit %d: %s", code, errOut)
	}
	if out, errOut, code := in.CLI("audit", "verify", "--audit-key", auditURI); code != 0 {
		t.Fatalf("audit verify: exit %d: %s %s", code, out, errOut)
	}
}
