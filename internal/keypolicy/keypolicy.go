// Package keypolicy decides whether a subscriber public key may be certified
// (BR §6.1.5 key sizes, §6.1.6 key parameters, §6.1.1.3 compromised and weak
// keys; MRSP §5.1 algorithms) and computes the SPKI hash that identifies a
// key on the keyCompromise blocklist (BR §6.1.1.3(4)).
//
// Accepted keys:
//
//   - RSA with a modulus of 2048 to 8192 bits whose size is divisible by 8
//     (BR §6.1.5, MRSP §5.1); an odd public exponent of at least 3 (BR
//     §6.1.6 MUST) and, by default, at least 2^16+1 (the §6.1.6 SHOULD;
//     zlint warns below it); a modulus that is odd, has no factor below 752
//     and is not a prime power (§6.1.6 SHOULD, from NIST SP 800-89 §5.3.3);
//     that Fermat's method does not factor within 100 rounds (§6.1.1.3(5)
//     "Close Primes"); that does not carry the ROCA fingerprint
//     (§6.1.1.3(5)); and that is not on a loaded Debian weak key list
//     (§6.1.1.3(5)).
//   - ECDSA on P-256 or P-384 with a valid point on the curve (BR §6.1.5,
//     §6.1.6; MRSP §5.1 allows only these two curves, so P-521 is refused).
//
// Everything else, Ed25519 included, is refused: neither the BR nor MRSP
// §5.1 allows it for TLS subscriber certificates.
//
// Every refusal is an *apperr.Error of kind Invalid naming the field
// "publicKey" (docs/api.md, finalize), with one of the Code* constants as its code.
package keypolicy

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/vetca/vetca/internal/apperr"
)

// Field is the JSON field that key refusals name (400 key_blocked, for one).
const Field = "publicKey"

// Codes of the refusals.
const (
	CodeUnsupportedKey   = apperr.CodeKeyTypeUnsupported       // not RSA or ECDSA (e.g. Ed25519)
	CodeRSATooSmall      = apperr.CodeRSAKeyTooSmall           // modulus under 2048 bits (BR §6.1.5)
	CodeRSATooLarge      = apperr.CodeRSAKeyTooLarge           // modulus over MaxRSABits (vetca's limit)
	CodeRSASizeNotByte   = apperr.CodeRSAKeySizeNotMultipleOf8 // BR §6.1.5
	CodeRSAExponentEven  = apperr.CodeRSAExponentEven          // BR §6.1.6
	CodeRSAExponentSmall = apperr.CodeRSAExponentTooSmall      // below 3 (MUST) or 65537 (SHOULD)
	CodeRSAModulusEven   = apperr.CodeRSAModulusEven           // BR §6.1.6
	CodeRSASmallFactor   = apperr.CodeRSAModulusSmallFactor    // a factor below 752 (BR §6.1.6)
	CodeRSAPrimePower    = apperr.CodeRSAModulusPrimePower     // BR §6.1.6
	CodeRSAClosePrimes   = apperr.CodeRSAClosePrimes           // Fermat factorization (BR §6.1.1.3(5))
	CodeRSAROCA          = apperr.CodeRSAROCA                  // ROCA fingerprint (BR §6.1.1.3(5))
	CodeRSADebianWeak    = apperr.CodeRSADebianWeak            // Debian weak key (BR §6.1.1.3(5))
	CodeECDSACurve       = apperr.CodeECDSACurveUnsupported    // not P-256 or P-384
	CodeECDSAPoint       = apperr.CodeECDSAPointInvalid        // not a valid point on the curve
	CodeKeyBlocked       = apperr.CodeKeyBlocked               // reported compromised (BR §6.1.1.3(4))
)

// Limits on RSA keys.
const (
	// MinRSABits is the smallest modulus (BR §6.1.5; MRSP §5.1).
	MinRSABits = 2048
	// MaxRSABits is vetca's largest modulus. The BR sets no upper bound;
	// the limit keeps the checks (and signature verification of CSRs) cheap
	// against hostile input.
	MaxRSABits = 8192
	// MinRSAExponent is the smallest exponent the BR allows: "an odd number
	// equal to 3 or more" (BR §6.1.6).
	MinRSAExponent = 3
	// RecommendedMinRSAExponent: the exponent "SHOULD be in the range
	// between 2^16 + 1 and 2^256-1" (BR §6.1.6).
	RecommendedMinRSAExponent = 1<<16 + 1
	// SmallFactorBound: the modulus SHOULD "have no factors smaller than
	// 752" (BR §6.1.6, from NIST SP 800-89 §5.3.3).
	SmallFactorBound = 752
	// FermatRounds is the BR's bound for the close-primes check: reject keys
	// "which can be factored within 100 rounds using Fermat's factorization
	// method" (BR §6.1.1.3(5)(c)).
	FermatRounds = 100
)

// Blocklist answers whether a key, identified by the SHA-256 of its DER
// SubjectPublicKeyInfo (see SPKIHash), was reported compromised. After a key
// compromise "the CA SHALL reject" later requests with that key (BR
// §6.1.1.3(4)). The database implements it.
type Blocklist interface {
	IsBlocked(ctx context.Context, spkiHash [32]byte) (bool, error)
}

// Options configure a Checker. The zero value checks every static rule with
// no blocklist and no Debian list.
type Options struct {
	// Blocklist, if set, is consulted after the static checks pass.
	Blocklist Blocklist
	// DebianWeakKeys, if set, refuses RSA keys on the list (BR
	// §6.1.1.3(5)(a)).
	DebianWeakKeys *WeakKeys
	// FermatRounds overrides the number of Fermat rounds; 0 means the BR's
	// 100. More rounds find primes further apart at a linear cost.
	FermatRounds int
	// AllowSmallExponents accepts odd RSA exponents from 3 to 65535, which
	// the BR allows (§6.1.6 MUST) but advises against (SHOULD), and which
	// zlint flags with a warning. Off by default.
	AllowSmallExponents bool
}

// Checker applies the key policy. It is safe for concurrent use.
type Checker struct {
	blocklist  Blocklist
	debian     *WeakKeys
	rounds     int
	smallExpOK bool
	tables     *tables
}

// NewChecker returns a Checker with the given options.
func NewChecker(opts Options) *Checker {
	r := opts.FermatRounds
	if r <= 0 {
		r = FermatRounds
	}
	return &Checker{
		blocklist:  opts.Blocklist,
		debian:     opts.DebianWeakKeys,
		rounds:     r,
		smallExpOK: opts.AllowSmallExponents,
		tables:     newTables(),
	}
}

// Check applies every static rule to pub: the key type, size and
// parameters, and the weak-key checks. It consults no blocklist; use a
// Checker for that.
func Check(pub crypto.PublicKey) error {
	return NewChecker(Options{}).checkStatic(pub)
}

// Check applies every static rule to pub and then, if the Checker has a
// Blocklist, refuses a blocked key with CodeKeyBlocked. A failing blocklist
// lookup is returned as an internal error (not an *apperr.Error), so the
// request fails closed.
func (c *Checker) Check(ctx context.Context, pub crypto.PublicKey) error {
	if err := c.checkStatic(pub); err != nil {
		return err
	}
	if c.blocklist == nil {
		return nil
	}
	h, err := SPKIHash(pub)
	if err != nil {
		return err
	}
	blocked, err := c.blocklist.IsBlocked(ctx, h)
	if err != nil {
		return fmt.Errorf("keypolicy: blocklist lookup: %w", err)
	}
	if blocked {
		return refuse(CodeKeyBlocked,
			"this key was reported compromised and may not be certified again (BR §6.1.1.3(4)); SPKI SHA-256 %x", h)
	}
	return nil
}

func (c *Checker) checkStatic(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil {
			return refuse(CodeUnsupportedKey, "no public key")
		}
		return c.checkRSA(k)
	case rsa.PublicKey:
		return c.checkRSA(&k)
	case *ecdsa.PublicKey:
		if k == nil {
			return refuse(CodeUnsupportedKey, "no public key")
		}
		return checkECDSA(k)
	case ecdsa.PublicKey:
		return checkECDSA(&k)
	case ed25519.PublicKey, *ed25519.PublicKey:
		return refuse(CodeUnsupportedKey,
			"Ed25519 keys are not allowed for TLS subscriber certificates (BR §6.1.5, MRSP §5.1); use RSA (2048 bits or more) or ECDSA P-256/P-384")
	case *ecdh.PublicKey:
		return refuse(CodeUnsupportedKey, "ECDH keys cannot sign; use RSA or ECDSA P-256/P-384 (BR §6.1.5)")
	case nil:
		return refuse(CodeUnsupportedKey, "no public key")
	default:
		return refuse(CodeUnsupportedKey, "%T keys are not allowed; use RSA or ECDSA P-256/P-384 (BR §6.1.5)", pub)
	}
}

// checkECDSA accepts P-256 and P-384 points that are valid public keys: on
// the curve and not the point at infinity. Both curves have cofactor 1, so
// that also puts the point in the prime-order group (NIST SP 800-56A
// §5.6.2.3.3, which BR §6.1.6 points to).
func checkECDSA(k *ecdsa.PublicKey) error {
	if k.Curve == nil {
		return refuse(CodeECDSACurve, "the ECDSA key names no curve")
	}
	switch k.Curve.Params() {
	case elliptic.P256().Params(), elliptic.P384().Params():
	default:
		return refuse(CodeECDSACurve,
			"ECDSA curve %s is not allowed; use P-256 or P-384 (BR §6.1.5, MRSP §5.1)", k.Curve.Params().Name)
	}
	if !validPoint(k) {
		return refuse(CodeECDSAPoint, "the ECDSA public key is not a valid point on %s (BR §6.1.6)", k.Curve.Params().Name)
	}
	return nil
}

// validPoint reports whether crypto/ecdh accepts k's point: on the curve,
// coordinates reduced, not the point at infinity. crypto/ecdsa panics on a
// key whose coordinates are missing; that counts as invalid too.
func validPoint(k *ecdsa.PublicKey) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := k.ECDH()
	return err == nil
}

func refuse(code apperr.Code, format string, args ...any) error {
	return apperr.Invalid(code, Field, format, args...)
}
