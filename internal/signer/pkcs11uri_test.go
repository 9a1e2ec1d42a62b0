package signer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/signer"
)

// RFC 7512 §2.3 attributes and §3 examples.
func TestParsePKCS11URI(t *testing.T) {
	u, err := signer.ParsePKCS11URI("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;object=my-key;id=%01%02%FF;type=private" +
		"?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "The Software PKCS#11 Softtoken" || u.Object != "my-key" || !bytes.Equal(u.ID, []byte{1, 2, 0xff}) ||
		u.Type != "private" || u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" || u.PINValue != "12&34" {
		t.Fatalf("parsed %+v", u)
	}
	s := u.String()
	if strings.Contains(s, "pin") || strings.Contains(s, "12&34") {
		t.Fatalf("String() leaks the PIN: %s", s)
	}
	want := "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;object=my-key;id=%01%02%FF;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so"
	if s != want {
		t.Fatalf("String()\n got %s\nwant %s", s, want)
	}
	// The canonical form parses back to the same key selection.
	v, err := signer.ParsePKCS11URI(s)
	if err != nil || v.Token != u.Token || !bytes.Equal(v.ID, u.ID) || v.Object != u.Object {
		t.Fatalf("round trip: %+v %v", v, err)
	}
	u, err = signer.ParsePKCS11URI("pkcs11:slot-id=3;id=%AA")
	if err != nil || u.SlotID == nil || *u.SlotID != 3 {
		t.Fatalf("slot-id: %+v %v", u, err)
	}
	if got := u.String(); got != "pkcs11:slot-id=3;id=%AA" {
		t.Errorf("String() = %s", got)
	}
}

func TestParsePKCS11URIRefuses(t *testing.T) {
	for _, s := range []string{
		"file:/etc/key.pem",
		"pkcs11:object=k",                        // no token
		"pkcs11:token=a;serial=b;object=k",       // two token selectors
		"pkcs11:token=a",                         // no key
		"pkcs11:token=a;object=k;object=j",       // duplicate
		"pkcs11:token=a;object=k;type=cert",      // not a private key
		"pkcs11:token=a;object=k;manufacturer=x", // not implemented: refused, not ignored
		"pkcs11:token=a;object=k;x-vendor=1",
		"pkcs11:token=a;object=k?module-name=softhsm2",
		"pkcs11:token=a;object=k?module-path=relative.so",
		"pkcs11:token=a;object=k?pin-value=1&pin-source=/p",
		"pkcs11:token=a;object=k%zz",
		"pkcs11:token=a;object",
		"pkcs11:slot-id=-1;object=k",
	} {
		if _, err := signer.ParsePKCS11URI(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// The module path and PIN come from the URI or from Config; when both give
// one and they differ, opening fails before any module is loaded.
func TestPKCS11ConfigConflicts(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri  string
		cfg  signer.Config
		want string
	}{
		{"pkcs11:token=a;object=k", signer.Config{PIN: "1"}, "no PKCS#11 module: set module-path in the URI, or --pkcs11-module"},
		{"pkcs11:token=a;object=k?module-path=/a.so", signer.Config{ModulePath: "/b.so", PIN: "1"}, "differs"},
		{"pkcs11:token=a;object=k", signer.Config{ModulePath: "/a.so"}, "no PIN: set pin-source in the URI, or VETCA_PKCS11_PIN"},
		{"pkcs11:token=a;object=k", signer.Config{ModulePath: "/nonexistent/module.so", PIN: "1"}, "module /nonexistent/module.so"},
		{"pkcs11:token=a;object=k?pin-value=1", signer.Config{ModulePath: "/a.so", PIN: "2"}, "differs"},
		{"pkcs11:token=a;object=k?pin-source=file:" + pinFile, signer.Config{ModulePath: "/a.so", PIN: "9"}, "differs"},
		{"pkcs11:token=a;object=k?pin-source=%7C/bin/echo", signer.Config{ModulePath: "/a.so"}, "pin-source"},
		{"pkcs11:token=a;object=k?pin-source=/nonexistent/pin", signer.Config{ModulePath: "/a.so"}, "pin-source"},
	}
	for _, tc := range tests {
		_, err := signer.Open(tc.uri, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.uri, err, tc.want)
		}
	}
}

// A pin-source file holds the HSM user PIN, with which anyone on the host
// can sign with the CA key, so it is held to the rule of the key files: a
// PIN file others may read or write is refused, naming it, before any
// module is loaded.
func TestPINSourceReadableByOthersIsRefused(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o602} {
		if err := os.Chmod(pinFile, mode); err != nil {
			t.Fatal(err)
		}
		_, err := signer.Open("pkcs11:token=a;object=k?pin-source=file:"+pinFile, signer.Config{ModulePath: "/nonexistent/module.so"})
		if err == nil || !strings.Contains(err.Error(), pinFile) || strings.Contains(err.Error(), "module") {
			t.Errorf("pin-source of mode %#o: err = %v, want a refusal naming %s", mode, err, pinFile)
		}
	}
}

// A pin-value that is not validly percent-encoded is refused without
// quoting any of it: the error goes to stderr and logs, where no part of
// a PIN may appear.
func TestBadlyEncodedPINValueIsNotQuoted(t *testing.T) {
	for _, uri := range []string{
		"pkcs11:token=a;object=k?pin-value=9%Q7x",
		"pkcs11:token=a;object=k?module-path=/a.so&pin-value=%zz",
	} {
		_, err := signer.ParsePKCS11URI(uri)
		if err == nil || !strings.Contains(err.Error(), "pin-value") {
			t.Fatalf("%s: err = %v, want a refusal naming pin-value", signer.Redact(uri), err)
		}
		if strings.Contains(err.Error(), "Q7") || strings.Contains(err.Error(), "zz") {
			t.Errorf("the refusal quotes the PIN: %v", err)
		}
	}
}
