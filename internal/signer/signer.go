// Package signer opens and creates CA signing keys: PKCS#8 PEM files
// (file: URIs) and keys on PKCS#11 tokens (RFC 7512 pkcs11: URIs) through
// github.com/ThalesGroup/crypto11. Both give a crypto.Signer that
// internal/profile uses to sign certificates, and that CRL and OCSP signing
// can use alike.
//
// Only the key types of BR §6.1.5 are accepted: ECDSA on P-256 or P-384 and
// RSA with a 2048, 3072 or 4096-bit modulus (generation) or at least 2048
// bits (opening).
package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
)

// Signer is a CA private key.
type Signer interface {
	crypto.Signer
	// URI names the key: "file:/abs/path.pem" or an RFC 7512 pkcs11: URI.
	// It never holds a PIN value, so it can be stored and logged.
	URI() string
	// Close releases the key's resources (for PKCS#11, the session pool and,
	// when it is the last user, the module). The Signer must not be used
	// afterwards.
	Close() error
}

// Config supplies what a URI may leave out.
type Config struct {
	// ModulePath is the PKCS#11 module (shared library) used when a pkcs11:
	// URI has no module-path attribute.
	ModulePath string
	// PIN is the token user PIN used when a pkcs11: URI has neither
	// pin-value nor pin-source.
	PIN string
}

// Algorithm is a key type and size a CA key may be generated with.
type Algorithm string

// The algorithms GenerateFile and GeneratePKCS11 accept (BR §6.1.5).
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	RSA2048   Algorithm = "rsa-2048"
	RSA3072   Algorithm = "rsa-3072"
	RSA4096   Algorithm = "rsa-4096"
)

// Algorithms returns every supported Algorithm.
func Algorithms() []Algorithm {
	return []Algorithm{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096}
}

// ParseAlgorithm accepts the Algorithm names, case-insensitively.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms() {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("signer: unknown key algorithm %q (want one of %v)", s, Algorithms())
}

// curve returns the curve of an ECDSA algorithm, or nil.
func (a Algorithm) curve() elliptic.Curve {
	switch a {
	case ECDSAP256:
		return elliptic.P256()
	case ECDSAP384:
		return elliptic.P384()
	}
	return nil
}

// rsaBits returns the modulus size of an RSA algorithm, or 0.
func (a Algorithm) rsaBits() int {
	switch a {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// Open opens the key named by uri: "file:/abs/path.pem" (see OpenFile) or a
// "pkcs11:" URI (see OpenPKCS11).
func Open(uri string, cfg Config) (Signer, error) {
	switch {
	case strings.HasPrefix(uri, "file:"):
		path, err := filePath(uri)
		if err != nil {
			return nil, err
		}
		return OpenFile(path)
	case strings.HasPrefix(uri, "pkcs11:"):
		return OpenPKCS11(uri, cfg)
	case uri == "":
		return nil, errors.New("signer: no key URI")
	}
	scheme, _, _ := strings.Cut(uri, ":")
	return nil, fmt.Errorf("signer: unsupported key URI scheme %q (want file: or pkcs11:)", scheme)
}

// checkKey accepts ECDSA P-256/P-384 and RSA of at least 2048 bits.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("signer: ECDSA key on %s; only P-256 and P-384 are allowed (BR §6.1.5)", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n >= 2048 && n%8 == 0 {
			return nil
		}
		return fmt.Errorf("signer: RSA key of %d bits; at least 2048, a multiple of 8, is required (BR §6.1.5)", k.N.BitLen())
	}
	return fmt.Errorf("signer: unsupported key type %T (want ECDSA P-256/P-384 or RSA)", pub)
}
