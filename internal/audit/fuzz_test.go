package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/signer"
)

// fuzzAuditKey is a fixed audit key, so that the checked-in corpus can hold
// checkpoints whose signatures verify.
func fuzzAuditKey(tb testing.TB) *Key {
	k, err := NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa5}, ed25519.SeedSize)), "test:fuzz")
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fuzzCheckpoint is a checkpoint signed with fuzzAuditKey, as serve writes it.
func fuzzCheckpoint(tb testing.TB) []byte {
	c, err := SignCheckpoint(fuzzAuditKey(tb), 42, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		mustTime(tb, "2026-07-01T12:00:00Z"))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// writeFuzzFile writes data to name in dir with mode 0600 and returns its
// path.
func writeFuzzFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FuzzReadCheckpoint: an auditor hands vetca a checkpoint file, which
// anyone may have altered. Whatever ReadCheckpoint accepts under the
// installation's key names that key, is signed by it over the fields it
// holds, and re-encodes to a checkpoint that reads back the same.
func FuzzReadCheckpoint(f *testing.F) {
	f.Add(fuzzCheckpoint(f))
	f.Add([]byte(`{"version":2,"seq":1,"hash":"","at":"","keyId":"","signature":""}`))
	f.Add([]byte(`null`))
	trusted := fuzzAuditKey(f).Public()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCheckpoint(writeFuzzFile(t, dir, "checkpoint.json", data), trusted)
		if err != nil {
			return
		}
		sig, serr := base64.StdEncoding.DecodeString(c.Signature)
		if serr != nil || c.KeyID != trusted.ID() || !trusted.verifyUncached(c.SignedBytes(), sig) {
			t.Fatalf("accepted a checkpoint not signed by the installation's key: %+v", c)
		}
		c.Source = ""
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadCheckpoint(writeFuzzFile(t, dir, "again.json", again), trusted)
		if err != nil {
			t.Fatalf("re-encoded checkpoint refused: %v", err)
		}
		back.Source = ""
		if *back != *c {
			t.Fatalf("re-encoded checkpoint reads as %+v; want %+v", back, c)
		}
	})
}

// FuzzOpenKey: the audit key file is read from disk. Whatever OpenKey
// accepts signs messages that verify under its public half.
func FuzzOpenKey(f *testing.F) {
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa5}, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := OpenKey(writeFuzzFile(t, dir, "audit.key", data), signer.Config{})
		if err != nil {
			return
		}
		sig, err := k.Sign(data)
		if err != nil {
			t.Fatalf("accepted a key that cannot sign: %v", err)
		}
		if !k.Public().verifyUncached(data, sig) {
			t.Fatal("accepted key's signature does not verify")
		}
	})
}

func mustTime(tb testing.TB, s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}
