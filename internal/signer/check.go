package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/miekg/pkcs11"
)

// ErrNoKey is returned (wrapped) by OpenPKCS11 when no key pair on the token
// matches the URI: the one failure after which creating the key is right.
// Any other failure (a wrong PIN, a key vetca refuses, two matching keys) is
// the operator's to see, never a reason to make a new key.
var ErrNoKey = errors.New("signer: no key pair matches")

// SelfTest signs a fixed digest with s and verifies the signature with s's
// public key. A key that lists fine but may not sign (a PKCS#11 private key
// with CKA_SIGN false), or whose private half is not its public half's, is
// refused before anything is made with it.
func SelfTest(s crypto.Signer) error {
	digest := sha256.Sum256([]byte("vetca signer self-test"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("signer: the key cannot sign: %w", err)
	}
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return errors.New("signer: the key's signature does not verify with its public key")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			return fmt.Errorf("signer: the key's signature does not verify with its public key: %w", err)
		}
	default:
		return fmt.Errorf("signer: unsupported key type %T", pub)
	}
	return nil
}

// IsLoginFailure reports whether err is a PKCS#11 login refused for its
// PIN (incorrect, badly formed, expired or locked). Trying such a PIN again
// brings a token's lockout closer, so callers must not retry it.
func IsLoginFailure(err error) bool {
	var p pkcs11.Error
	if !errors.As(err, &p) {
		return false
	}
	switch p {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE,
		pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED:
		return true
	}
	return false
}

// pinValue matches a pin-value attribute and its value in a URI's query.
var pinValue = regexp.MustCompile(`(?i)(pin-value=)[^&]*`)

// Redact returns uri as it may be printed or logged: a pkcs11: URI
// without any pin-value (RFC 7512 allows one in the query; vetca reads it
// but never shows it). Other URIs are returned as they are.
func Redact(uri string) string {
	if !strings.HasPrefix(strings.ToLower(uri), "pkcs11:") {
		return uri
	}
	if u, err := ParsePKCS11URI(uri); err == nil {
		return u.String()
	}
	return pinValue.ReplaceAllString(uri, "${1}REDACTED")
}
