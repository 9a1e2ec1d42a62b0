package cpr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/keypolicy"
)

// Evidence is what a report submits, parsed and checked: certificates,
// private keys proven to be the private half of their public key, and CSRs
// whose signature verifies (proof of possession of the key). The private
// keys are used to prove the compromise and are never stored.
type Evidence struct {
	Certificates []*x509.Certificate
	Keys         []crypto.Signer
	CSRs         []*x509.CertificateRequest
	// Skipped counts attachments that are none of the above (a mail's
	// signature image, say); they are not an error.
	Skipped int
}

// Empty reports whether nothing usable was found.
func (e Evidence) Empty() bool {
	return len(e.Certificates) == 0 && len(e.Keys) == 0 && len(e.CSRs) == 0
}

// maxEvidence bounds one blob: keys, certificates and CSRs are far smaller.
const maxEvidence = 256 << 10

// ParseEvidence classifies raw blobs, as a mail's attachments or body
// carry them, into certificates, private keys and CSRs. Each blob may be
// PEM (any number of blocks, with text around them) or one DER structure.
// A private key may be PKCS#1, PKCS#8 or SEC1 (RSA, ECDSA, Ed25519). A
// blob that is none of these is skipped; one that claims to be one and is
// malformed, a key that is not the private half of its public key, and a
// CSR whose signature does not verify are errors naming "attachments".
func ParseEvidence(blobs [][]byte) (Evidence, error) {
	var ev Evidence
	for i, b := range blobs {
		if err := ev.add(b); err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) {
				ae.Field, ae.Message = "attachments", fmt.Sprintf("attachment %d: %s", i+1, ae.Message)
			}
			return Evidence{}, err
		}
	}
	return ev, nil
}

func (ev *Evidence) add(b []byte) error {
	if len(b) > maxEvidence {
		ev.Skipped++
		return nil
	}
	if bytes.Contains(b, []byte("-----BEGIN ")) {
		found := false
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			ok, err := ev.addPEM(blk)
			if err != nil {
				return err
			}
			found = found || ok
		}
		if !found {
			ev.Skipped++
		}
		return nil
	}
	ev.addDER(b)
	return nil
}

// addPEM adds one PEM block; it reports whether the block was evidence.
func (ev *Evidence) addPEM(blk *pem.Block) (bool, error) {
	switch blk.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return false, apperr.Invalid(apperr.CodeInvalidCertificate, "certificates", "a CERTIFICATE does not parse: %v", err)
		}
		ev.Certificates = append(ev.Certificates, c)
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		c, err := parseCSRDER(blk.Bytes, "csr")
		if err != nil {
			return false, err
		}
		ev.CSRs = append(ev.CSRs, c)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		k, err := parseKeyDER(blk.Bytes, "privateKey")
		if err != nil {
			return false, err
		}
		ev.Keys = append(ev.Keys, k)
	default:
		return false, nil
	}
	return true, nil
}

// addDER adds a DER blob that is a certificate, CSR or private key, and
// skips anything else (DER does not say what it is, so only a structure
// that parses as one counts).
func (ev *Evidence) addDER(b []byte) {
	if c, err := x509.ParseCertificate(b); err == nil {
		ev.Certificates = append(ev.Certificates, c)
		return
	}
	if c, err := parseCSRDER(b, "csr"); err == nil {
		ev.CSRs = append(ev.CSRs, c)
		return
	}
	if k, err := parseKeyDER(b, "privateKey"); err == nil {
		ev.Keys = append(ev.Keys, k)
		return
	}
	ev.Skipped++
}

// parseKeyPEM parses the privateKey field: one PEM private key.
func parseKeyPEM(text string) (crypto.Signer, error) {
	blk, rest := pem.Decode([]byte(text))
	if blk == nil || !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
		return nil, apperr.Invalid(apperr.CodeInvalidKey, "privateKey", "privateKey is not a PEM private key (PKCS#1, PKCS#8 or SEC1)")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, apperr.Invalid(apperr.CodeInvalidKey, "privateKey", "privateKey holds more than one PEM block")
	}
	return parseKeyDER(blk.Bytes, "privateKey")
}

// parseKeyDER parses a private key in PKCS#8, PKCS#1 or SEC1 and proves it
// is the private half of its public key.
func parseKeyDER(der []byte, field string) (crypto.Signer, error) {
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			if key, err = x509.ParseECPrivateKey(der); err != nil {
				return nil, apperr.Invalid(apperr.CodeInvalidKey, field, "the private key does not parse as PKCS#8, PKCS#1 or SEC1")
			}
		}
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, apperr.Invalid(apperr.CodeInvalidKey, field, "the private key is not an RSA, ECDSA or Ed25519 key")
	}
	if err := proveKey(s); err != nil {
		return nil, apperr.Invalid(apperr.CodeKeyMismatch, field, "the private key is not the private half of its public key: %v", err)
	}
	return s, nil
}

// proveKey checks that the public key derived from the private key is the
// one the key carries, then signs a random message and verifies it.
func proveKey(k crypto.Signer) error {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if err := k.Validate(); err != nil {
			return err
		}
	case *ecdsa.PrivateKey:
		priv, err := k.ECDH()
		if err != nil {
			return err
		}
		pub, err := k.PublicKey.ECDH()
		if err != nil {
			return err
		}
		if !priv.PublicKey().Equal(pub) {
			return errors.New("the ECDSA public point is not the private scalar times the generator")
		}
	case ed25519.PrivateKey:
		if !ed25519.NewKeyFromSeed(k.Seed()).Public().(ed25519.PublicKey).Equal(k.Public()) {
			return errors.New("the Ed25519 public key is not derived from the seed")
		}
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
	return signingTest(k)
}

// signingTest signs 32 random bytes with k and verifies the signature with
// k's public key.
func signingTest(k crypto.Signer) error {
	msg := make([]byte, 32)
	if _, err := rand.Read(msg); err != nil {
		return err
	}
	digest := sha256.Sum256(msg)
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case *ecdsa.PublicKey:
		sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return errors.Join(errors.New("the signing test failed"), err)
		}
	case ed25519.PublicKey:
		sig, err := k.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			return errors.Join(errors.New("the signing test failed"), err)
		}
	}
	return nil
}

// parseCSRPEM parses the csr field: one PEM CSR whose signature verifies.
func parseCSRPEM(text string) (*x509.CertificateRequest, error) {
	blk, rest := pem.Decode([]byte(text))
	if blk == nil || (blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST") {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr is not a PEM CERTIFICATE REQUEST")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr holds more than one PEM block")
	}
	return parseCSRDER(blk.Bytes, "csr")
}

func parseCSRDER(der []byte, field string) (*x509.CertificateRequest, error) {
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, field, "the CSR does not parse: %v", err)
	}
	if err := c.CheckSignature(); err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidCSRSignature, field, "the CSR's signature does not verify with its own key, so it proves nothing: %v", err)
	}
	return c, nil
}

// parseCertsPEM parses the certificates field: each entry one or more PEM
// certificates and nothing else.
func parseCertsPEM(entries []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, text := range entries {
		rest, n := []byte(text), 0
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				return nil, apperr.Invalid(apperr.CodeInvalidCertificate, "certificates", "certificates[%d] holds a %s block, not a CERTIFICATE", i, blk.Type)
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, apperr.Invalid(apperr.CodeInvalidCertificate, "certificates", "certificates[%d] does not parse: %v", i, err)
			}
			out, n = append(out, c), n+1
		}
		if n == 0 || strings.TrimSpace(string(rest)) != "" {
			return nil, apperr.Invalid(apperr.CodeInvalidCertificate, "certificates", "certificates[%d] is not a PEM CERTIFICATE", i)
		}
	}
	return out, nil
}

// spkiOf is the SPKI SHA-256 of a public key as certificates store it.
func spkiOf(pub crypto.PublicKey, field string) (string, error) {
	h, err := keypolicy.SPKIHashHex(pub)
	if err != nil {
		return "", apperr.Invalid(apperr.CodeInvalidKey, field, "the public key cannot be encoded: %v", err)
	}
	return h, nil
}
