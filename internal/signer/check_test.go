package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/vetca/vetca/internal/signer"
)

// otherHalf signs with one key and shows the public half of another, as a
// token whose objects were mixed up would.
type otherHalf struct {
	priv *ecdsa.PrivateKey
	pub  crypto.PublicKey
}

func (o otherHalf) Public() crypto.PublicKey { return o.pub }
func (o otherHalf) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.priv.Sign(r, d, opts)
}

// refusing is a key whose every signature is refused, as a PKCS#11 private
// key with CKA_SIGN false is.
type refusing struct{ pub crypto.PublicKey }

func (r refusing) Public() crypto.PublicKey { return r.pub }
func (r refusing) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)
}

func TestSelfTest(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := signer.SelfTest(a); err != nil {
		t.Fatalf("a sound key: %v", err)
	}
	if err := signer.SelfTest(otherHalf{priv: a, pub: b.Public()}); err == nil {
		t.Fatal("a key whose signatures do not verify with its public half passed")
	}
	if err := signer.SelfTest(refusing{pub: a.Public()}); err == nil || !strings.Contains(err.Error(), "cannot sign") {
		t.Fatalf("a key that may not sign: %v", err)
	}
}

func TestRedactNeverShowsAPIN(t *testing.T) {
	for _, uri := range []string{
		"pkcs11:token=ca;object=k?pin-value=S3cret",
		"pkcs11:token=ca;object=k?module-path=/m.so&pin-value=S3cret",
		"pkcs11:token=ca;object=k;bogus=1?pin-value=S3cret", // does not parse
		"PKCS11:token=ca?PIN-VALUE=S3cret",
	} {
		if got := signer.Redact(uri); strings.Contains(got, "S3cret") || !strings.Contains(strings.ToLower(got), "token=ca") {
			t.Errorf("Redact(%q) = %q", uri, got)
		}
	}
	if got := signer.Redact("file:/keys/a.pem"); got != "file:/keys/a.pem" {
		t.Errorf("a file URI changed: %q", got)
	}
}

func TestIsLoginFailure(t *testing.T) {
	for code, want := range map[uint]bool{
		pkcs11.CKR_PIN_INCORRECT: true, pkcs11.CKR_PIN_LOCKED: true, pkcs11.CKR_PIN_LEN_RANGE: true,
		pkcs11.CKR_TOKEN_NOT_PRESENT: false, pkcs11.CKR_KEY_HANDLE_INVALID: false,
	} {
		err := fmt.Errorf("opening: %w", pkcs11.Error(code))
		if got := signer.IsLoginFailure(err); got != want {
			t.Errorf("%v: IsLoginFailure = %v, want %v", err, got, want)
		}
	}
	if signer.IsLoginFailure(fmt.Errorf("no PIN")) {
		t.Error("a plain error is a login failure")
	}
}
