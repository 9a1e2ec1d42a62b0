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
)

// fuzzAuditKey is a fixed audit key, so that the checked-in corpus can hold
// checkpoints whose signatures verify.
func fuzzAuditKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa5}, ed25519.SeedSize))
}

// fuzzCheckpoint is a checkpoint signed with fuzzAuditKey, as
// MakeCheckpoint writes it.
func fuzzCheckpoint() []byte {
	key := fuzzAuditKey()
	pub := key.Public().(ed25519.PublicKey)
	c := Checkpoint{Version: 1, Seq: 42, Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		At: "2026-07-01T12:00:00.000000Z", Database: "postgres://vetca@db.internal/vetca",
		PublicKey: base64.StdEncoding.EncodeToString(pub), KeyID: KeyID(pub)}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.SignedBytes()))
	b, _ := json.MarshalIndent(c, "", "  ")
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
// anyone may have altered. Whatever ReadCheckpoint accepts is signed by the
// key it names (publicKey, and keyId, which vetca prints as the signer),
// over the fields it holds; with a trusted key, only that key's
// checkpoints are accepted; an accepted checkpoint re-encodes to one that
// reads back the same.
func FuzzReadCheckpoint(f *testing.F) {
	f.Add(fuzzCheckpoint())
	f.Add([]byte(`{"version":1,"seq":1,"hash":"","at":"","database":"","publicKey":"","keyId":"","signature":""}`))
	f.Add([]byte(`null`))
	trusted := fuzzAuditKey().Public().(ed25519.PublicKey)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFuzzFile(t, dir, "checkpoint.json", data)
		c, err := ReadCheckpoint(path, nil)
		ct, errT := ReadCheckpoint(path, trusted)
		if err != nil {
			if errT == nil {
				t.Fatalf("accepted with a trusted key, refused without: %v", err)
			}
			return
		}
		pub, perr := base64.StdEncoding.DecodeString(c.PublicKey)
		sig, serr := base64.StdEncoding.DecodeString(c.Signature)
		if perr != nil || serr != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, c.SignedBytes(), sig) {
			t.Fatalf("accepted a checkpoint whose signature does not verify: %+v", c)
		}
		if c.KeyID != KeyID(pub) {
			t.Fatalf("accepted keyId %q for key %s", c.KeyID, KeyID(pub))
		}
		if (errT == nil) != ed25519.PublicKey(pub).Equal(trusted) {
			t.Fatalf("trusted key %s, signed by %s: %v", KeyID(trusted), KeyID(pub), errT)
		}
		if errT == nil && *ct != *c {
			t.Fatalf("read %+v with a trusted key, %+v without", ct, c)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadCheckpoint(writeFuzzFile(t, dir, "again.json", again), nil)
		if err != nil || *back != *c {
			t.Fatalf("re-encoded checkpoint reads as %+v, %v; want %+v", back, err, c)
		}
	})
}

// FuzzLoadKey: the audit key file is read from disk. Whatever LoadKey
// accepts is a well-formed Ed25519 key whose signatures verify with its
// public half.
func FuzzLoadKey(f *testing.F) {
	der, err := x509.MarshalPKCS8PrivateKey(fuzzAuditKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := LoadKey(writeFuzzFile(t, dir, "audit.key", data))
		if err != nil {
			return
		}
		if len(k) != ed25519.PrivateKeySize || !bytes.Equal(ed25519.NewKeyFromSeed(k.Seed()), k) {
			t.Fatalf("accepted a malformed Ed25519 key (%d bytes)", len(k))
		}
		pub := k.Public().(ed25519.PublicKey)
		if !ed25519.Verify(pub, data, ed25519.Sign(k, data)) {
			t.Fatal("accepted key's signature does not verify")
		}
	})
}
