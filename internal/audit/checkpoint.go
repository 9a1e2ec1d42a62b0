package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// Checkpoint is a signed statement of the chain head at a moment. An
// auditor keeps the file; a later Verify with it detects a chain rewritten
// from scratch, because the rewritten chain no longer holds the
// checkpointed hash at the checkpointed sequence number.
type Checkpoint struct {
	Version   int    `json:"version"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	At        string `json:"at"`
	Database  string `json:"database"`
	PublicKey string `json:"publicKey"` // base64 Ed25519
	KeyID     string `json:"keyId"`     // hex SHA-256 of the public key, for the auditor's records
	Signature string `json:"signature"` // base64 Ed25519 over SignedBytes
}

// SignedBytes is what the signature covers.
func (c *Checkpoint) SignedBytes() []byte {
	return []byte(fmt.Sprintf("vetca-checkpoint-v1\nseq=%d\nhash=%s\nat=%s\ndatabase=%s\n", c.Seq, c.Hash, c.At, c.Database))
}

// MakeCheckpoint reads the chain head and signs it.
func MakeCheckpoint(ctx context.Context, db *store.DB, key ed25519.PrivateKey, now time.Time) (*Checkpoint, error) {
	var seq int64
	var hash string
	err := db.QueryRow(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if err != nil {
		return nil, fmt.Errorf("read chain head: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	c := &Checkpoint{
		Version: 1, Seq: seq, Hash: hash, At: store.FormatTime(now), Database: db.DSN(),
		PublicKey: base64.StdEncoding.EncodeToString(pub), KeyID: KeyID(pub),
	}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.SignedBytes()))
	return c, nil
}

// KeyID is the hex SHA-256 of an audit public key.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])
}

// VerifySignature checks the checkpoint's signature. If trusted is non-nil
// the checkpoint must also be signed by that key.
func (c *Checkpoint) VerifySignature(trusted ed25519.PublicKey) error {
	pub, err := base64.StdEncoding.DecodeString(c.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return errors.New("checkpoint: malformed publicKey")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil {
		return errors.New("checkpoint: malformed signature")
	}
	if trusted != nil && !ed25519.PublicKey(pub).Equal(trusted) {
		return fmt.Errorf("checkpoint: signed by key %s, not the audit key %s", KeyID(pub), KeyID(trusted))
	}
	// keyId is not signed, and is what vetca prints as the signer.
	if c.KeyID != KeyID(pub) {
		return fmt.Errorf("checkpoint: keyId %q does not name the key that signed it (%s)", c.KeyID, KeyID(pub))
	}
	if !ed25519.Verify(pub, c.SignedBytes(), sig) {
		return errors.New("checkpoint: signature does not verify; the file was altered")
	}
	return nil
}

// ReadCheckpoint reads and signature-checks a checkpoint file.
func ReadCheckpoint(path string, trusted ed25519.PublicKey) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
	}
	if err := c.VerifySignature(trusted); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
	}
	return &c, nil
}

// GenerateKey writes a new Ed25519 audit key (PKCS#8 PEM, mode 0600) to
// path; it refuses to overwrite an existing file.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	return pub, f.Close()
}

// LoadKey reads an Ed25519 audit key; the file must not be readable by
// others.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit key %s: mode %v is readable by others; chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("audit key %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit key %s: not an Ed25519 key", path)
	}
	return ek, nil
}
