// Package softhsmtest creates SoftHSM2 tokens for tests, so that PKCS#11
// code runs against a real PKCS#11 module (Debian package softhsm2).
//
// New writes a softhsm2.conf whose token directory is in t.TempDir(), points
// SOFTHSM2_CONF at it for the test process (t.Setenv, so the test cannot be
// parallel), and initializes a token with softhsm2-util. When softhsm2-util
// or the module is missing the test is skipped with a message, unless
// VETCA_TEST_REQUIRE_HSM=1, in which case it fails.
//
// SoftHSM2 reads SOFTHSM2_CONF when the module is initialized, and crypto11
// initializes the module once per process while any context is open. So:
// create every token a test needs before opening a signer, and close every
// signer before the test ends (t.Cleanup), so the next test's
// configuration is read afresh. Subprocesses (for example a vetca binary
// under test) get the configuration through Env.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vetca/vetca/internal/signer"
)

// DefaultModulePath is where Debian's softhsm2 package installs the module.
const DefaultModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// RequireEnv is the variable that turns a missing SoftHSM2 into a test
// failure instead of a skip.
const RequireEnv = "VETCA_TEST_REQUIRE_HSM"

// Token is an initialized SoftHSM2 token.
type Token struct {
	Dir        string // holds softhsm2.conf and the token directory
	ConfPath   string // the softhsm2.conf SOFTHSM2_CONF points at
	ModulePath string
	Label      string
	PIN        string
	SOPIN      string
}

// Available reports whether SoftHSM2 can be used, and why not.
func Available() (bool, string) {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return false, "softhsm2-util is not installed (Debian package softhsm2)"
	}
	if _, err := os.Stat(DefaultModulePath); err != nil {
		return false, fmt.Sprintf("the SoftHSM2 module %s is missing", DefaultModulePath)
	}
	return true, ""
}

// New creates a fresh token labelled label for the test, or skips (or
// fails, with VETCA_TEST_REQUIRE_HSM=1) when SoftHSM2 is not installed.
func New(t testing.TB, label string) *Token {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("SoftHSM2 required (%s=1) but %s", RequireEnv, why)
		}
		t.Skipf("SKIPPING SoftHSM2 test: %s (set %s=1 to make this a failure)", why, RequireEnv)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := &Token{Dir: dir, ConfPath: conf, ModulePath: DefaultModulePath, Label: label, PIN: "1234-user", SOPIN: "5678-so"}
	tok.InitToken(t, label)
	return tok
}

// InitToken initializes one more token in the same configuration (a free
// slot), with the same PINs. Call it before any signer is opened.
func (tok *Token) InitToken(t testing.TB, label string) {
	t.Helper()
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", tok.PIN, "--so-pin", tok.SOPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tok.ConfPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
}

// URI returns a pkcs11: URI naming object on the token (module and PIN
// come from Config).
func (tok *Token) URI(object string) string {
	return (&signer.PKCS11URI{Token: tok.Label, Object: object}).String()
}

// Config returns the signer configuration for the token: module path and
// user PIN.
func (tok *Token) Config() signer.Config {
	return signer.Config{ModulePath: tok.ModulePath, PIN: tok.PIN}
}

// Env returns the environment a subprocess needs to see the token.
func (tok *Token) Env() []string {
	return []string{"SOFTHSM2_CONF=" + tok.ConfPath}
}
