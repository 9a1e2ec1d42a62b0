package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/signer"
)

func checkSigns(t *testing.T, s crypto.Signer) {
	t.Helper()
	digest := sha256.Sum256([]byte("vetca"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unexpected key %T", pub)
	}
}

func TestGenerateAndOpenFile(t *testing.T) {
	algs := []signer.Algorithm{signer.ECDSAP256, signer.ECDSAP384, signer.RSA2048, signer.RSA3072}
	if !testing.Short() {
		algs = append(algs, signer.RSA4096)
	}
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "issuer.pem")
			s, err := signer.GenerateFile(path, alg)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("mode %#o, want 0600", st.Mode().Perm())
			}
			if s.URI() != "file:"+path {
				t.Fatalf("URI %q", s.URI())
			}
			checkSigns(t, s)
			o, err := signer.Open(s.URI(), signer.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if !o.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Fatal("reopened key differs")
			}
			checkSigns(t, o)
			// The file is PKCS#8.
			b, _ := os.ReadFile(path)
			blk, _ := pem.Decode(b)
			if blk == nil || blk.Type != "PRIVATE KEY" {
				t.Fatal("not a PKCS#8 PEM file")
			}
		})
	}
}

func TestGenerateFileRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.pem")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := signer.GenerateFile(path, signer.ECDSAP256)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a refusal naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("the existing file was changed")
	}
	if _, err := signer.GenerateFile(filepath.Join(t.TempDir(), "k.pem"), "ed25519"); err == nil {
		t.Fatal("generated an unsupported algorithm")
	}
}

// A CA key file readable or writable by anyone but its owner, or not
// writable by the owner either, is refused, naming the file.
func TestOpenFileRefusesModesOtherThan0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.pem")
	if _, err := signer.GenerateFile(path, signer.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o400, 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := signer.Open(signer.FileURI(path), signer.Config{})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0600") {
			t.Errorf("mode %#o: err = %v, want a refusal naming the file", mode, err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Open(signer.FileURI(path), signer.Config{}); err != nil {
		t.Fatal(err)
	}
	// A directory is not a key file.
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.OpenFile(dir); err == nil {
		t.Error("opened a directory")
	}
}

func writeKey(t *testing.T, typ string, der []byte, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), extra...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenFileRefusesOtherKeyFormats(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	tests := []struct {
		name string
		path string
	}{
		{"SEC1 EC PRIVATE KEY", writeKey(t, "EC PRIVATE KEY", sec1, "")},
		{"PKCS#1 RSA PRIVATE KEY", writeKey(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024), "")},
		{"encrypted PKCS#8", writeKey(t, "ENCRYPTED PRIVATE KEY", []byte{0x30, 0}, "")},
		{"§6.1.5 P-521", writeKey(t, "PRIVATE KEY", pkcs8(p521), "")},
		{"§6.1.5 Ed25519", writeKey(t, "PRIVATE KEY", pkcs8(ed), "")},
		{"§6.1.5 RSA 1024", writeKey(t, "PRIVATE KEY", pkcs8(rsa1024), "")},
		{"trailing data", writeKey(t, "PRIVATE KEY", pkcs8(ec), "-----BEGIN CERTIFICATE-----\n")},
		{"garbage", writeKey(t, "PRIVATE KEY", []byte{1, 2, 3}, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signer.OpenFile(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want a refusal naming the file", err)
			}
		})
	}
	if _, err := signer.OpenFile(writeKey(t, "PRIVATE KEY", pkcs8(ec), "\n")); err != nil {
		t.Fatalf("a trailing newline is fine: %v", err)
	}
}

func TestOpenURIForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a key.pem")
	s, err := signer.GenerateFile(path, signer.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if s.URI() != "file:"+strings.ReplaceAll(path, " ", "%20") {
		t.Fatalf("URI %q does not escape the space", s.URI())
	}
	for _, uri := range []string{s.URI(), "file://" + strings.TrimPrefix(s.URI(), "file:"), "file://localhost" + strings.TrimPrefix(s.URI(), "file:")} {
		o, err := signer.Open(uri, signer.Config{})
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		o.Close()
	}
	for _, uri := range []string{"file:relative.pem", "file://otherhost/etc/key.pem", "https://example.com/key.pem", "", "/etc/key.pem", s.URI() + "?x=1"} {
		if _, err := signer.Open(uri, signer.Config{}); err == nil {
			t.Errorf("%q opened", uri)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, a := range signer.Algorithms() {
		got, err := signer.ParseAlgorithm(strings.ToUpper(string(a)))
		if err != nil || got != a {
			t.Errorf("%s: %v %v", a, got, err)
		}
	}
	if _, err := signer.ParseAlgorithm("rsa-1024"); err == nil {
		t.Error("rsa-1024 accepted")
	}
}
