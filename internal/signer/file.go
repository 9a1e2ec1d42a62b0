package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxKeyFile bounds how much of a key file is read.
const maxKeyFile = 64 << 10

// fileSigner is an in-memory key loaded from a PKCS#8 PEM file.
type fileSigner struct {
	crypto.Signer
	uri string
}

func (s *fileSigner) URI() string  { return s.uri }
func (s *fileSigner) Close() error { return nil }

// FileURI returns the file: URI of an absolute path ("file:/abs/path.pem").
func FileURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath()
}

// filePath extracts the absolute local path from a file: URI. It accepts
// "file:/p", "file:///p" and "file://localhost/p" (RFC 8089).
func filePath(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("signer: bad file URI %q: %w", uri, err)
	}
	if u.Scheme != "file" || u.Opaque != "" || (u.Host != "" && u.Host != "localhost") ||
		u.RawQuery != "" || u.Fragment != "" || !filepath.IsAbs(u.Path) {
		return "", fmt.Errorf("signer: file URI %q must name an absolute local path, like file:/etc/vetca/issuer.pem", uri)
	}
	return filepath.Clean(u.Path), nil
}

// OpenFile loads a PKCS#8 PEM ("PRIVATE KEY") private key. The file must be
// a regular file with mode exactly 0600; anything else is refused with an
// error naming the file, since a CA key readable by others is compromised.
func OpenFile(path string) (Signer, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
		path = abs
	}
	data, err := readPrivateFile(path, "key file", func(perm os.FileMode) error {
		if perm != 0o600 {
			return fmt.Errorf("has mode %#o; it must be 0600", perm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	key, err := parsePKCS8PEM(data)
	if err != nil {
		return nil, fmt.Errorf("signer: key file %s: %w", path, err)
	}
	return &fileSigner{Signer: key, uri: FileURI(path)}, nil
}

// readPrivateFile reads a file holding a secret (a key, a PIN): a regular
// file of at most maxKeyFile bytes whose permissions mode accepts. what
// names it in errors, with its path; the errors never quote its content.
func readPrivateFile(path, what string, mode func(os.FileMode) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signer: opening %s: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("signer: %s %s: %w", what, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("signer: %s %s is not a regular file", what, path)
	}
	if err := mode(st.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("signer: %s %s %w", what, path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("signer: reading %s %s: %w", what, path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("signer: %s %s is larger than %d bytes", what, path, maxKeyFile)
	}
	return data, nil
}

func parsePKCS8PEM(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted PKCS#8 keys are not supported; protect the key with an HSM instead")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block %q, want a PKCS#8 \"PRIVATE KEY\"", block.Type)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("data after the private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", k)
	}
	if err := checkKey(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// GenerateFile creates a new key of algorithm alg and writes it to path as
// PKCS#8 PEM with mode 0600. It refuses to overwrite an existing file. The
// file is synced, as is its directory, before the Signer is returned.
func GenerateFile(path string, alg Algorithm) (Signer, error) {
	key, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("signer: marshaling key: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("signer: key file %s already exists; refusing to overwrite it", abs)
		}
		return nil, fmt.Errorf("signer: creating key file: %w", err)
	}
	werr := func() error {
		if err := f.Chmod(0o600); err != nil {
			return err
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(abs)
		return nil, fmt.Errorf("signer: writing key file %s: %w", abs, werr)
	}
	if d, err := os.Open(filepath.Dir(abs)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return &fileSigner{Signer: key, uri: FileURI(abs)}, nil
}

func generateKey(alg Algorithm) (crypto.Signer, error) {
	if c := alg.curve(); c != nil {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("signer: generating %s key: %w", alg, err)
		}
		return k, nil
	}
	if bits := alg.rsaBits(); bits != 0 {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, fmt.Errorf("signer: generating %s key: %w", alg, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("signer: unsupported key algorithm %q", alg)
}
