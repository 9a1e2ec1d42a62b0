package ocspresp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// MinValidity and MaxValidity bound the validity interval of a response for a
// Subscriber Certificate (BR §4.9.9: "greater than or equal to eight hours
// and less than or equal to ten days"). BR §1.6.1 counts the interval from
// thisUpdate through nextUpdate inclusive, that is nextUpdate - thisUpdate +
// 1 s; a plain reading takes nextUpdate - thisUpdate. Sign satisfies both:
// it accepts nextUpdate - thisUpdate from MinValidity up to MaxValidity - 1 s.
const (
	MinValidity = 8 * time.Hour
	MaxValidity = 10 * 24 * time.Hour
)

// ErrInvalid is wrapped by every error NewSigner and Sign return because the
// configuration or the response breaks a rule (as opposed to a signer
// failure).
var ErrInvalid = errors.New("ocspresp: invalid parameters")

// Status is a certificate's status in a response. There is deliberately no
// "unknown": vetca answers for the certificates it issued, and for anything
// else the responder returns "unauthorized" (RFC 5019 §2.2.3).
type Status int

// The statuses a response can carry; the values match golang.org/x/crypto/ocsp.
const (
	Good    Status = 0
	Revoked Status = 1
)

// SignerConfig names who signs an issuer's responses.
type SignerConfig struct {
	// Issuer is the CA certificate that issued the certificates the responses
	// are about.
	Issuer *x509.Certificate
	// Key signs the responses: the issuer's key, or the delegated responder's
	// key when Responder is set. It may be an HSM key behind crypto.Signer.
	Key crypto.Signer
	// Responder is an optional delegated OCSP responder certificate issued by
	// Issuer (see ResponderTemplate). It is included in every response
	// (RFC 5019 §2.2.2).
	Responder *x509.Certificate
}

// Response is one certificate's status to be signed.
type Response struct {
	// Serial is the certificate's serial number.
	Serial *big.Int
	// Status is Good or Revoked.
	Status Status
	// RevokedAt and Reason are set for Revoked only. Reason is an RFC 5280
	// CRLReason code among those BR §7.2.2 permits (BR §7.3); 0
	// (unspecified) writes no revocationReason, matching the CRL entry.
	RevokedAt time.Time
	Reason    int
	// ThisUpdate, NextUpdate and ProducedAt are the response's times (to the
	// second, RFC 5019 §2.2.4). ProducedAt is when it is signed and comes
	// from the caller's clock; ThisUpdate must not be after it.
	ThisUpdate, NextUpdate, ProducedAt time.Time
	// IssuerHash is the hash of the CertID (RFC 6960 §4.1.1). The zero
	// value means SHA-1, what RFC 5019 clients send; SHA-256, SHA-384 and
	// SHA-512 are also accepted. A client only matches a response whose
	// CertID uses the algorithm of its request.
	IssuerHash crypto.Hash
}

// Params is everything the one-shot Sign needs.
type Params struct {
	SignerConfig
	Response
}

// Sign signs one response. For many responses from the same issuer, make a
// Signer once with NewSigner: it validates the configuration and precomputes
// the CertID hashes only once.
func Sign(p Params) ([]byte, error) {
	s, err := NewSigner(p.SignerConfig)
	if err != nil {
		return nil, err
	}
	return s.Sign(p.Response)
}

// Signer signs responses for one issuer. It is safe for concurrent use if
// its crypto.Signer is.
type Signer struct {
	issuer    *x509.Certificate
	responder *x509.Certificate
	key       crypto.Signer
	alg       *sigAlg
	// responderID is the DER of ResponderID byKey.
	responderID []byte
	// certs is the DER of BasicOCSPResponse.certs, or nil.
	certs []byte
	// notAfter is the end of the signing certificate's validity.
	notAfter  time.Time
	notBefore time.Time
	hashes    map[crypto.Hash]issuerHashes
}

type issuerHashes struct {
	algorithm []byte // DER AlgorithmIdentifier
	name, key []byte
}

// hashAlgorithmIDs are the DER AlgorithmIdentifiers of the CertID hashes,
// with NULL parameters as RFC 5019 Appendix A and x/crypto/ocsp write them.
var hashAlgorithmIDs = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00},
	crypto.SHA256: {0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00},
	crypto.SHA384: {0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00},
	crypto.SHA512: {0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00},
}

// NewSigner checks the configuration and prepares a Signer. When the issuer
// signs directly, its certificate must carry the digitalSignature key usage
// (BR §7.1.2.10.7 requires it of a CA certificate that signs OCSP
// responses). A delegated responder must be issued by the issuer, hold
// exactly the id-kp-OCSPSigning extended key usage and the digitalSignature
// key usage, not be a CA, and carry id-pkix-ocsp-nocheck (BR §7.1.2.8,
// RFC 6960 §4.2.2.2).
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if cfg.Issuer == nil {
		return nil, fmt.Errorf("%w: no issuer certificate", ErrInvalid)
	}
	if cfg.Key == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrInvalid)
	}
	if !cfg.Issuer.BasicConstraintsValid || !cfg.Issuer.IsCA {
		return nil, fmt.Errorf("%w: issuer %q is not a CA certificate", ErrInvalid, cfg.Issuer.Subject)
	}
	signing := cfg.Issuer
	if cfg.Responder != nil {
		if err := CheckResponder(cfg.Responder, cfg.Issuer); err != nil {
			return nil, err
		}
		signing = cfg.Responder
	} else if cfg.Issuer.KeyUsage != 0 && cfg.Issuer.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: issuer %q lacks the digitalSignature key usage needed to sign OCSP responses itself (BR §7.1.2.10.7); use a delegated responder", ErrInvalid, cfg.Issuer.Subject)
	}
	pub, ok := signing.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cfg.Key.Public()) {
		return nil, fmt.Errorf("%w: the key is not the one certified in %q", ErrInvalid, signing.Subject)
	}
	alg, err := algorithmFor(cfg.Key.Public())
	if err != nil {
		return nil, err
	}
	keyHash, err := keySHA1(signing.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: responder public key: %w", ErrInvalid, err)
	}
	s := &Signer{
		issuer:    cfg.Issuer,
		responder: cfg.Responder,
		key:       cfg.Key,
		alg:       alg,
		notBefore: signing.NotBefore,
		notAfter:  signing.NotAfter,
		hashes:    make(map[crypto.Hash]issuerHashes, len(hashAlgorithmIDs)),
	}
	// ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }, explicit.
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(keyHash)
	})
	s.responderID = b.BytesOrPanic()
	if cfg.Responder != nil {
		var c cryptobyte.Builder
		c.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(cfg.Responder.Raw) })
		})
		s.certs = c.BytesOrPanic()
	}
	for h, id := range hashAlgorithmIDs {
		name, key, err := IssuerHashes(cfg.Issuer, h)
		if err != nil {
			return nil, err
		}
		s.hashes[h] = issuerHashes{algorithm: id, name: name, key: key}
	}
	return s, nil
}

// IssuerHashes returns the CertID issuerNameHash and issuerKeyHash of issuer
// under h (RFC 6960 §4.1.1): the hash of the DER subject name, and the hash
// of the subjectPublicKey BIT STRING's value. A Source uses them to tell
// which issuer a request is about (see MatchesIssuer).
func IssuerHashes(issuer *x509.Certificate, h crypto.Hash) (nameHash, keyHash []byte, err error) {
	if _, ok := hashAlgorithmIDs[h]; !ok || !h.Available() {
		return nil, nil, fmt.Errorf("%w: CertID hash %v is not supported", ErrInvalid, h)
	}
	key, err := subjectPublicKeyBits(issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: issuer public key: %w", ErrInvalid, err)
	}
	hn := h.New()
	hn.Write(issuer.RawSubject)
	nameHash = hn.Sum(nil)
	hk := h.New()
	hk.Write(key)
	return nameHash, hk.Sum(nil), nil
}

// subjectPublicKeyBits returns the contents of the subjectPublicKey BIT
// STRING of a SubjectPublicKeyInfo, without the unused-bits octet.
func subjectPublicKeyBits(spki []byte) ([]byte, error) {
	in := cryptobyte.String(spki)
	var body cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadASN1BitString(&bits) {
		return nil, errors.New("malformed SubjectPublicKeyInfo")
	}
	return bits.RightAlign(), nil
}

// keySHA1 is the RFC 6960 §4.2.1 KeyHash: SHA-1 of the subjectPublicKey bits.
func keySHA1(spki []byte) ([]byte, error) {
	k, err := subjectPublicKeyBits(spki)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(k)
	return sum[:], nil
}

// Sign checks r and returns the DER of a signed OCSPResponse holding one
// SingleResponse with no extensions.
func (s *Signer) Sign(r Response) ([]byte, error) {
	if r.Serial == nil || r.Serial.Sign() <= 0 || r.Serial.BitLen() > 159 {
		return nil, fmt.Errorf("%w: serial must be positive and at most 20 octets (RFC 5280 §4.1.2.2)", ErrInvalid)
	}
	ih := r.IssuerHash
	if ih == 0 {
		ih = crypto.SHA1
	}
	hashes, ok := s.hashes[ih]
	if !ok {
		return nil, fmt.Errorf("%w: CertID hash %v is not supported", ErrInvalid, ih)
	}
	this := r.ThisUpdate.UTC().Truncate(time.Second)
	next := r.NextUpdate.UTC().Truncate(time.Second)
	produced := r.ProducedAt.UTC().Truncate(time.Second)
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"thisUpdate", this}, {"nextUpdate", next}, {"producedAt", produced}} {
		if f.t.IsZero() || f.t.Year() < 1950 || f.t.Year() > 9999 {
			return nil, fmt.Errorf("%w: %s is not set or not encodable", ErrInvalid, f.name)
		}
	}
	if d := next.Sub(this); d < MinValidity || d+time.Second > MaxValidity {
		return nil, fmt.Errorf("%w: nextUpdate - thisUpdate is %s; BR §4.9.9 needs a validity interval of at least 8h and, counted inclusively, at most 10 days", ErrInvalid, d)
	}
	if this.After(produced) {
		return nil, fmt.Errorf("%w: thisUpdate %s is after producedAt %s (RFC 6960 §2.4)", ErrInvalid, this.Format(time.RFC3339), produced.Format(time.RFC3339))
	}
	if next.After(s.notAfter) {
		return nil, fmt.Errorf("%w: nextUpdate %s is after the signing certificate expires at %s (MRSP §6)", ErrInvalid, next.Format(time.RFC3339), s.notAfter.Format(time.RFC3339))
	}
	if produced.Before(s.notBefore) {
		return nil, fmt.Errorf("%w: producedAt %s is before the signing certificate is valid", ErrInvalid, produced.Format(time.RFC3339))
	}
	var revokedAt time.Time
	switch r.Status {
	case Good:
		if !r.RevokedAt.IsZero() || r.Reason != 0 {
			return nil, fmt.Errorf("%w: a good response has no revocation time or reason", ErrInvalid)
		}
	case Revoked:
		if !reasonAllowed(r.Reason) {
			return nil, fmt.Errorf("%w: reason code %d is not permitted (BR §7.3, §7.2.2)", ErrInvalid, r.Reason)
		}
		revokedAt = r.RevokedAt.UTC().Truncate(time.Second)
		if revokedAt.IsZero() || revokedAt.Year() < 1950 {
			return nil, fmt.Errorf("%w: a revoked response needs its revocation time", ErrInvalid)
		}
		if revokedAt.After(this) {
			return nil, fmt.Errorf("%w: revocation time %s is after thisUpdate %s", ErrInvalid, revokedAt.Format(time.RFC3339), this.Format(time.RFC3339))
		}
	default:
		return nil, fmt.Errorf("%w: status %d is neither good nor revoked", ErrInvalid, r.Status)
	}

	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseData
		b.AddBytes(s.responderID)
		addGeneralizedTime(b, produced)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // responses
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SingleResponse
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertID
					b.AddBytes(hashes.algorithm)
					b.AddASN1OctetString(hashes.name)
					b.AddASN1OctetString(hashes.key)
					b.AddASN1BigInt(r.Serial)
				})
				if r.Status == Good {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {}) // good [0] IMPLICIT NULL
				} else {
					b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { // revoked [1] IMPLICIT RevokedInfo
						addGeneralizedTime(b, revokedAt)
						if r.Reason != 0 {
							b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.ENUM, func(b *cryptobyte.Builder) { b.AddUint8(uint8(r.Reason)) })
							})
						}
					})
				}
				addGeneralizedTime(b, this)
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					addGeneralizedTime(b, next)
				})
				// No singleExtensions: in particular never the reasonCode
				// CRL entry extension (BR §7.3.2).
			})
		})
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ocspresp: encoding: %w", err)
	}
	h := s.alg.hash.New()
	h.Write(tbs)
	digest := h.Sum(nil)
	sig, err := s.key.Sign(rand.Reader, digest, s.alg.hash)
	if err != nil {
		return nil, fmt.Errorf("ocspresp: signing: %w", err)
	}
	if err := s.alg.verify(s.key.Public(), digest, sig); err != nil {
		return nil, fmt.Errorf("ocspresp: the key returned a signature that does not verify: %w", err)
	}

	var basic cryptobyte.Builder
	basic.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // BasicOCSPResponse
		b.AddBytes(tbs)
		b.AddBytes(s.alg.identifier)
		b.AddASN1BitString(sig)
		if s.certs != nil {
			b.AddBytes(s.certs)
		}
	})
	basicDER, err := basic.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ocspresp: encoding: %w", err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPResponse
		b.AddASN1Enum(0) // successful
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseBytes
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1OctetString(basicDER)
			})
		})
	})
	return out.Bytes()
}

// oidOCSPBasic is id-pkix-ocsp-basic (RFC 6960 §4.2.1).
var oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// addGeneralizedTime writes t as YYYYMMDDHHMMSSZ (RFC 5019 §2.2.4: Zulu,
// with seconds, no fractions).
func addGeneralizedTime(b *cryptobyte.Builder, t time.Time) {
	b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
		b.AddBytes([]byte(t.UTC().Format("20060102150405Z")))
	})
}

// reasonAllowed is BR §7.3: a CRLReason in OCSP must be one permitted for
// CRLs by BR §7.2.2: 0, 1, 3, 4, 5 and 9.
func reasonAllowed(code int) bool {
	switch code {
	case 0, 1, 3, 4, 5, 9:
		return true
	}
	return false
}

// sigAlg is a supported response signature algorithm.
type sigAlg struct {
	identifier []byte
	hash       crypto.Hash
	verify     func(pub crypto.PublicKey, digest, sig []byte) error
}

func algorithmFor(pub crypto.PublicKey) (*sigAlg, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		v := func(pub crypto.PublicKey, digest, sig []byte) error {
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig) {
				return errors.New("ECDSA verification failed")
			}
			return nil
		}
		switch k.Curve {
		case elliptic.P256():
			return &sigAlg{[]byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, crypto.SHA256, v}, nil
		case elliptic.P384():
			return &sigAlg{[]byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, crypto.SHA384, v}, nil
		case elliptic.P521():
			return &sigAlg{[]byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, crypto.SHA512, v}, nil
		}
		return nil, fmt.Errorf("%w: ECDSA curve %s is not allowed (BR §6.1.5)", ErrInvalid, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits is below 2048 (BR §6.1.5)", ErrInvalid, k.N.BitLen())
		}
		return &sigAlg{[]byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}, crypto.SHA256,
			func(pub crypto.PublicKey, digest, sig []byte) error {
				return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest, sig)
			}}, nil
	}
	return nil, fmt.Errorf("%w: key type %T is not allowed (BR §7.1.3.2)", ErrInvalid, pub)
}

// MatchesIssuer reports whether an OCSP request's CertID names issuer: its
// issuerNameHash and issuerKeyHash equal the issuer's under the request's
// hash algorithm. A Source should answer ErrNotFound for a request that
// matches none of its issuers.
func MatchesIssuer(req *ocsp.Request, issuer *x509.Certificate) bool {
	if req == nil || issuer == nil {
		return false
	}
	n, k, err := IssuerHashes(issuer, req.HashAlgorithm)
	return err == nil && bytes.Equal(n, req.IssuerNameHash) && bytes.Equal(k, req.IssuerKeyHash)
}
