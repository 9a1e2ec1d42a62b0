package ocspresp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// asn1Null is the DER of NULL, the value BR §7.1.2.8.6 requires for
// id-pkix-ocsp-nocheck.
var asn1Null = []byte{0x05, 0x00}

// ResponderTemplate returns the template of a delegated OCSP responder
// certificate for issuer and the responder's public key pub, following the
// BR §7.1.2.8 profile: extKeyUsage id-kp-OCSPSigning only (§7.1.2.8.5),
// the non-critical id-pkix-ocsp-nocheck extension with a NULL value
// (§7.1.2.8.6), a critical keyUsage of digitalSignature only (§7.1.2.8.7),
// basicConstraints cA FALSE (§7.1.2.8.4), a subjectKeyIdentifier, and no
// certificatePolicies, CRL distribution points, AIA or subjectAltName.
// x509.CreateCertificate adds the authorityKeyIdentifier from the issuer.
//
// serial must come from a CSPRNG like every vetca serial (BR §7.1). Keep the
// validity short (RFC 5019 §2.2.2 says responder certificates SHOULD be
// short-lived, as the no-check extension means they cannot be revoked
// usefully): every response's nextUpdate must fall before notAfter.
//
// Sign it with x509.CreateCertificate(rand, tmpl, issuer, pub, issuerKey).
func ResponderTemplate(issuer *x509.Certificate, pub crypto.PublicKey, serial *big.Int, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if issuer == nil || pub == nil {
		return nil, fmt.Errorf("%w: ResponderTemplate needs the issuer and the responder's public key", ErrInvalid)
	}
	if serial == nil || serial.Sign() <= 0 || serial.BitLen() > 159 || serial.BitLen() < 64 {
		return nil, fmt.Errorf("%w: responder serial must be positive, at least 64 bits and at most 20 octets (BR §7.1)", ErrInvalid)
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("%w: responder validity ends before it starts", ErrInvalid)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: responder public key: %w", ErrInvalid, err)
	}
	if _, err := algorithmFor(pub); err != nil {
		return nil, err
	}
	bits, err := subjectPublicKeyBits(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: responder public key: %w", ErrInvalid, err)
	}
	// RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 of the key.
	ski := sha256.Sum256(bits)
	subject := pkix.Name{
		Country:      issuer.Subject.Country,
		Organization: issuer.Subject.Organization,
		CommonName:   issuer.Subject.CommonName + " OCSP Responder",
	}
	return &x509.Certificate{
		SerialNumber:          new(big.Int).Set(serial),
		Subject:               subject,
		NotBefore:             notBefore.UTC().Truncate(time.Second),
		NotAfter:              notAfter.UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski[:20],
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Critical: false, Value: asn1Null}},
	}, nil
}

// CheckResponder checks that a delegated responder certificate may sign
// responses for issuer: it is signed by issuer (RFC 6960 §4.2.2.2), is not a
// CA, has exactly the id-kp-OCSPSigning extended key usage (BR §7.1.2.8.5),
// the digitalSignature key usage (BR §7.1.2.8.7) and the
// id-pkix-ocsp-nocheck extension with a NULL value (BR §7.1.2.8.6).
func CheckResponder(responder, issuer *x509.Certificate) error {
	if err := responder.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: responder certificate is not issued by %q: %w", ErrInvalid, issuer.Subject, err)
	}
	if !bytes.Equal(responder.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: responder certificate's issuer name is not %q", ErrInvalid, issuer.Subject)
	}
	if responder.IsCA {
		return fmt.Errorf("%w: responder certificate is a CA", ErrInvalid)
	}
	if len(responder.ExtKeyUsage) != 1 || responder.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning || len(responder.UnknownExtKeyUsage) != 0 {
		return fmt.Errorf("%w: responder certificate must have exactly the id-kp-OCSPSigning extended key usage (BR §7.1.2.8.5)", ErrInvalid)
	}
	if responder.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: responder certificate lacks the digitalSignature key usage (BR §7.1.2.8.7)", ErrInvalid)
	}
	noCheck := false
	for _, ext := range responder.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck) {
			noCheck = !ext.Critical && bytes.Equal(ext.Value, asn1Null)
		}
	}
	if !noCheck {
		return fmt.Errorf("%w: responder certificate lacks a non-critical id-pkix-ocsp-nocheck with a NULL value (BR §7.1.2.8.6)", ErrInvalid)
	}
	return nil
}
