package keypolicy

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// SPKIHash returns the SHA-256 of the DER SubjectPublicKeyInfo of pub, as
// Go's x509.MarshalPKIXPublicKey encodes it. It identifies a key on the
// keyCompromise blocklist (BR §6.1.1.3(4)).
//
// Always hash the parsed key, never raw SPKI bytes from a CSR or
// certificate: re-encoding makes the same key give the same hash whether it
// came from a certificate, a CSR or a reported private key, even when the
// original encoding differed (for example RSA parameters encoded as absent
// instead of NULL).
func SPKIHash(pub crypto.PublicKey) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("keypolicy: encoding public key: %w", err)
	}
	return sha256.Sum256(der), nil
}

// SPKIHashHex is SPKIHash as lower-case hex, as stored and shown.
func SPKIHashHex(pub crypto.PublicKey) (string, error) {
	h, err := SPKIHash(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h[:]), nil
}
