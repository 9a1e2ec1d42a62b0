package eab

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// SecretSize is the length of the installation EAB secret, in bytes.
const SecretSize = 32

// SecretFile is the secret's file name in the key directory.
const SecretFile = "eab.secret"

// Secret is the installation's EAB secret: 32 random bytes in a file of
// the key directory (mode 0600), never in the database. Every EAB key's
// HMAC key is derived from it and the key's id (KeyFor), so the database
// holds only what cannot give the key back: its SHA-256.
//
// A Secret never prints its bytes: String, GoString and LogValue show only
// its id.
type Secret struct {
	b  [SecretSize]byte
	id string
}

func newSecret(b []byte) *Secret {
	s := &Secret{}
	copy(s.b[:], b)
	sum := sha256.Sum256(append([]byte("vetca-eab-secret-id\n"), s.b[:]...))
	s.id = hex.EncodeToString(sum[:16])
	return s
}

// ID names the secret without revealing it: the first 16 bytes of the
// SHA-256 of a label and the secret, in hex. Each key row records the id
// of the secret its key was derived from, so a process holding another
// secret refuses instead of answering "bad MAC" to every client.
func (s *Secret) ID() string { return s.id }

// KeyFor derives the HMAC key of kid: HMAC-SHA256(secret, kid). It is 32
// bytes, and it is what the ACME client is given (base64url, no padding)
// and what verifies its External Account Binding's MAC.
func (s *Secret) KeyFor(kid string) []byte {
	m := hmac.New(sha256.New, s.b[:])
	m.Write([]byte(kid))
	return m.Sum(nil)
}

// String shows the secret's id, never its bytes.
func (s *Secret) String() string { return "eab-secret:" + s.id }

// GoString is String, so %#v does not print the bytes either.
func (s *Secret) GoString() string { return s.String() }

// LogValue is String, for log/slog.
func (s *Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// ErrNoSecret is returned by OpenSecret when the file does not exist.
var ErrNoSecret = errors.New("eab: no EAB secret file")

// OpenSecret reads the secret at path. It must be a regular file of mode
// exactly 0600 holding exactly 32 bytes; anything else is refused naming
// the file. A missing file is ErrNoSecret (wrapped with the path).
func OpenSecret(path string) (*Secret, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoSecret, path)
	}
	if err != nil {
		return nil, fmt.Errorf("eab: opening the EAB secret: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("eab: EAB secret %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("eab: EAB secret %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		return nil, fmt.Errorf("eab: EAB secret %s has mode %#o; it must be 0600", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, SecretSize+1))
	if err != nil {
		return nil, fmt.Errorf("eab: reading the EAB secret %s: %w", path, err)
	}
	if len(b) != SecretSize {
		return nil, fmt.Errorf("eab: EAB secret %s holds %d bytes, not %d", path, len(b), SecretSize)
	}
	return newSecret(b), nil
}

// CreateSecret writes a new secret of 32 bytes from crypto/rand to path
// (mode 0600, never overwriting a file) and syncs it and its directory
// before returning it. The directory is created (mode 0700) if needed.
func CreateSecret(path string) (*Secret, error) {
	var b [SecretSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("eab: crypto/rand: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("eab: key directory %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("eab: EAB secret %s: refusing to overwrite it: %w", path, err)
		}
		return nil, fmt.Errorf("eab: creating the EAB secret: %w", err)
	}
	werr := func() error {
		if err := f.Chmod(0o600); err != nil {
			return err
		}
		if _, err := f.Write(b[:]); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("eab: writing the EAB secret %s: %w", path, werr)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return newSecret(b[:]), nil
}

// OpenOrCreateSecret opens the secret at path, creating it when there is
// none. It reports whether it created it.
func OpenOrCreateSecret(path string) (*Secret, bool, error) {
	s, err := OpenSecret(path)
	if !errors.Is(err, ErrNoSecret) {
		return s, false, err
	}
	s, err = CreateSecret(path)
	if errors.Is(err, os.ErrExist) {
		// Another process created it first: use that one.
		s, err = OpenSecret(path)
		return s, false, err
	}
	return s, err == nil, err
}

// Derive returns a 32-byte key for another use of the secret, named by
// label: HMAC-SHA256(secret, "vetca-derived\x00" + label). The prefix
// keeps it apart from every EAB key (KeyFor), whose input is a kid.
func (s *Secret) Derive(label string) []byte {
	m := hmac.New(sha256.New, s.b[:])
	m.Write([]byte("vetca-derived\x00" + label))
	return m.Sum(nil)
}
