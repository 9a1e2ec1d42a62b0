package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/vetca/vetca/internal/signer"
)

// The audit key authenticates every event and every checkpoint. It lives in
// the key directory (an Ed25519 PKCS#8 file, mode 0600) or on an HSM (an
// ECDSA or RSA key named by a pkcs11: URI), never in the database. Its
// public half is pinned next to it at `vetca init` (audit.pub), so anyone
// holding only the public key — an auditor — can check the whole trail,
// and someone who can write the database but not read the key directory
// cannot write an event that passes.

// ErrNoAuditKey is returned by every audited write of a process that was
// opened without the installation's audit key.
var ErrNoAuditKey = errors.New("this command writes to the audit trail and needs the installation's audit key (--audit-key, default KEY-DIR/audit.key); nothing was written")

// Key is the private audit key.
type Key struct {
	s   crypto.Signer
	pub *PublicKey
	uri string
	// close releases an HSM session; nil for a file key.
	close func() error
}

// PublicKey is the public audit key. Verify keeps a bounded cache of
// signatures it has already checked, so a row read for a decision many
// times costs one signature check.
type PublicKey struct {
	key  crypto.PublicKey
	spki []byte
	id   string

	mu       sync.Mutex
	verified map[[32]byte]struct{}
}

// maxVerifiedCache bounds the cache of checked signatures; when full it is
// emptied (the next checks simply verify again).
const maxVerifiedCache = 1 << 16

func newPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("audit key: RSA key of %d bits; at least 2048 are required", k.N.BitLen())
		}
	default:
		return nil, fmt.Errorf("audit key: unsupported key type %T (want Ed25519, ECDSA or RSA)", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{key: pub, spki: der, id: hex.EncodeToString(sum[:]), verified: map[[32]byte]struct{}{}}, nil
}

// ID is the hex SHA-256 of the key's SubjectPublicKeyInfo. Every event and
// checkpoint names the key that signed it by this id.
func (p *PublicKey) ID() string { return p.id }

// PEM is the public key as a PEM "PUBLIC KEY" block.
func (p *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p.spki})
}

// Equal reports whether two public keys are the same key.
func (p *PublicKey) Equal(o *PublicKey) bool { return o != nil && p.id == o.id }

// Verify checks sig over msg. Ed25519 signs msg itself; ECDSA and RSA
// (PKCS #1 v1.5) sign its SHA-256.
func (p *PublicKey) Verify(msg, sig []byte) bool {
	k := verifiedKey(msg, sig)
	p.mu.Lock()
	_, ok := p.verified[k]
	p.mu.Unlock()
	if ok {
		return true
	}
	if !p.verifyUncached(msg, sig) {
		return false
	}
	p.remember(k)
	return true
}

func (p *PublicKey) remember(k [32]byte) {
	p.mu.Lock()
	if len(p.verified) >= maxVerifiedCache {
		clear(p.verified)
	}
	p.verified[k] = struct{}{}
	p.mu.Unlock()
}

func (p *PublicKey) verifyUncached(msg, sig []byte) bool {
	switch k := p.key.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	}
	return false
}

// Public returns the key's public half.
func (k *Key) Public() *PublicKey { return k.pub }

// URI names where the key lives (a file: or pkcs11: URI).
func (k *Key) URI() string { return k.uri }

// Sign signs msg (see PublicKey.Verify for what is signed). A signature the
// key makes is remembered as checked.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	var sig []byte
	var err error
	switch k.pub.key.(type) {
	case ed25519.PublicKey:
		sig, err = k.s.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		d := sha256.Sum256(msg)
		sig, err = k.s.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key %s: sign: %w", k.uri, err)
	}
	return sig, nil
}

// Close releases the key (an HSM session).
func (k *Key) Close() error {
	if k.close != nil {
		return k.close()
	}
	return nil
}

// NewKey wraps a crypto.Signer as an audit key (tests, and keys opened by
// the caller).
func NewKey(s crypto.Signer, uri string) (*Key, error) {
	pub, err := newPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	return &Key{s: s, pub: pub, uri: uri}, nil
}

// GenerateKey writes a new Ed25519 audit key (PKCS#8 PEM, mode 0600) to
// path and pins its public half at pubPath. It refuses to overwrite either.
func GenerateKey(path, pubPath string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := writeExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	k, err := NewKey(priv, signer.FileURI(path))
	if err != nil {
		return nil, err
	}
	if err := PinPublicKey(pubPath, k.Public()); err != nil {
		return nil, err
	}
	return k, nil
}

// PinPublicKey writes pub to path (mode 0644); it refuses to overwrite an
// existing file.
func PinPublicKey(path string, pub *PublicKey) error {
	if err := writeExclusive(path, pub.PEM(), 0o644); err != nil {
		return fmt.Errorf("audit public key %s: %w", path, err)
	}
	return nil
}

func writeExclusive(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// OpenKey opens the audit key named by ref: a file path (or file: URI) of
// a PKCS#8 PEM key that is not readable by others, or a pkcs11: URI.
func OpenKey(ref string, cfg signer.Config) (*Key, error) {
	if strings.HasPrefix(ref, "pkcs11:") {
		s, err := signer.OpenPKCS11(ref, cfg)
		if err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		k, err := NewKey(s, s.URI())
		if err != nil {
			s.Close()
			return nil, err
		}
		k.close = s.Close
		return k, nil
	}
	path := strings.TrimPrefix(ref, "file:")
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
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit key %s: no PKCS#8 \"PRIVATE KEY\" PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	s, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("audit key %s: %T cannot sign", path, parsed)
	}
	return NewKey(s, signer.FileURI(path))
}

// LoadPublicKey reads a pinned public key (PEM "PUBLIC KEY").
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit public key %s: %w", path, err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		// Name the file (--audit-public-key): the error alone does not say which.
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return pub, nil
}

// ParsePublicKey parses a PEM "PUBLIC KEY" block.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("audit public key: no \"PUBLIC KEY\" PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit public key: %w", err)
	}
	return newPublicKey(pub)
}

// NewEphemeralKey returns a fresh in-memory Ed25519 key, for scratch
// databases (benchmarks) that no installation's trail depends on.
func NewEphemeralKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKey(priv, "memory:ephemeral")
}
