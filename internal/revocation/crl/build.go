package crl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxValidity is the longest nextUpdate - thisUpdate a CRL covering
// Subscriber Certificates may have (BR §4.9.7 and the §7.2 table: "at most
// 10 days after the thisUpdate").
const MaxValidity = 10 * 24 * time.Hour

// ErrInvalid is wrapped by every error Build returns because its parameters
// break a rule (as opposed to a failure of the signer).
var ErrInvalid = errors.New("crl: invalid parameters")

// maxCRLNumber is 2^159: BR §7.2 requires CRLNumber to be less than it, which
// also keeps it within the 20 octets RFC 5280 §5.2.3 allows.
var maxCRLNumber = new(big.Int).Lsh(big.NewInt(1), 159)

// minRevocationDate is the earliest revocation date Build accepts: the
// publication of RFC 2459, before which no X.509 v2 CRL profile existed.
// Anything earlier is a zero or corrupted time (zlint's
// e_crl_revocation_date_too_early makes the same cut).
var minRevocationDate = time.Date(1999, time.January, 1, 0, 0, 0, 0, time.UTC)

// Entry is one revoked certificate in a shard.
type Entry struct {
	// Serial is the certificate's serial number: positive and at most 20
	// octets (RFC 5280 §4.1.2.2).
	Serial *big.Int
	// RevokedAt is the revocationDate: normally when the revocation took
	// effect, or the earlier time of a key compromise (BR §7.2.2). It is
	// encoded to the second and must not be after the CRL's thisUpdate.
	RevokedAt time.Time
	// Reason is the RFC 5280 §5.3.1 CRLReason code. 0 (unspecified) is
	// written as no reasonCode extension at all (BR §7.2.2); otherwise it
	// must be one that ReasonAllowed accepts.
	Reason int
}

// Params are the inputs of one shard's CRL.
type Params struct {
	// Issuer is the CA certificate the CRL is issued under. It must be a CA
	// with the cRLSign key usage and a subjectKeyIdentifier (copied into the
	// CRL's authorityKeyIdentifier).
	Issuer *x509.Certificate
	// Signer holds the issuer's private key (a file key or an HSM key behind
	// crypto.Signer). Its public key must be the issuer's. ECDSA P-256,
	// P-384 and P-521 (with SHA-256, -384, -512) and RSA of at least 2048
	// bits (PKCS #1 v1.5 with SHA-256) are supported, as BR §7.1.3.2 allows.
	Signer crypto.Signer
	// URL is the shard's URL, from ShardURL. It becomes the only
	// distributionPoint fullName of the critical Issuing Distribution Point,
	// byte for byte (BR §7.2.2.1).
	URL string
	// Number is the CRLNumber: non-negative and below 2^159 (BR §7.2).
	// Keeping it strictly increasing per shard is the caller's job.
	Number *big.Int
	// ThisUpdate and NextUpdate bound the CRL's validity. Both are encoded
	// to the second; NextUpdate must be after ThisUpdate and at most
	// MaxValidity later.
	ThisUpdate, NextUpdate time.Time
	// Entries are the revoked certificates, written in the order given.
	// Each serial may appear only once.
	Entries []Entry
}

// ReasonAllowed reports whether code may appear in a subscriber CRL entry:
// the BR §7.2.2 table lists unspecified (0, written as an absent reasonCode),
// keyCompromise (1), affiliationChanged (3), superseded (4),
// cessationOfOperation (5) and privilegeWithdrawn (9). certificateHold (6) is
// forbidden outright (BR §4.9.13), and cACompromise (2), removeFromCRL (8),
// aACompromise (10) and unassigned values are not permitted.
func ReasonAllowed(code int) bool {
	switch code {
	case 0, 1, 3, 4, 5, 9:
		return true
	}
	return false
}

// Build encodes and signs the CRL of one shard and returns its DER.
//
// The DER is written in a single pass into one buffer of the exact final size;
// the entries are never materialised as intermediate structures. The
// signature is checked against the issuer's public key before the CRL is
// returned, so a faulty signer (an HSM glitch, a wrong key) can never yield a
// CRL that relying parties would reject.
func Build(p Params) ([]byte, error) {
	alg, err := signingAlgorithm(p.Issuer, p.Signer)
	if err != nil {
		return nil, err
	}
	if err := CheckURL(p.URL); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.Number == nil || p.Number.Sign() < 0 || p.Number.Cmp(maxCRLNumber) >= 0 {
		return nil, fmt.Errorf("%w: CRLNumber must be in [0, 2^159) (BR §7.2), got %v", ErrInvalid, p.Number)
	}
	thisUpdate := p.ThisUpdate.UTC().Truncate(time.Second)
	nextUpdate := p.NextUpdate.UTC().Truncate(time.Second)
	if err := checkValidity(thisUpdate, nextUpdate); err != nil {
		return nil, err
	}

	entriesLen, err := sizeEntries(p.Entries, thisUpdate)
	if err != nil {
		return nil, err
	}

	head, err := encodeHead(alg, p.Issuer.RawSubject, thisUpdate, nextUpdate)
	if err != nil {
		return nil, err
	}
	tail, err := encodeExtensions(p.Issuer.SubjectKeyId, p.Number, p.URL)
	if err != nil {
		return nil, err
	}

	tbsContent := len(head) + len(tail)
	if len(p.Entries) > 0 {
		// RFC 5280 §5.1.2.6: with no revoked certificates the list is absent.
		tbsContent += headerLen(entriesLen) + entriesLen
	}
	tbsLen := headerLen(tbsContent) + tbsContent
	sigField := 1 + 5 + 1 + alg.maxSigLen // BIT STRING tag, length, unused-bits octet, signature
	capacity := outerSlack + tbsLen + len(alg.identifier) + sigField

	buf := make([]byte, outerSlack, capacity)
	buf = appendHeader(buf, 0x30, tbsContent)
	buf = append(buf, head...)
	if len(p.Entries) > 0 {
		buf = appendHeader(buf, 0x30, entriesLen)
		for i := range p.Entries {
			buf = appendEntry(buf, &p.Entries[i])
		}
	}
	buf = append(buf, tail...)
	if len(buf) != outerSlack+tbsLen {
		return nil, fmt.Errorf("crl: internal error: encoded TBS is %d bytes, computed %d", len(buf)-outerSlack, tbsLen)
	}
	tbs := buf[outerSlack:]

	h := alg.hash.New()
	h.Write(tbs)
	digest := h.Sum(nil)
	sig, err := p.Signer.Sign(rand.Reader, digest, alg.hash)
	if err != nil {
		return nil, fmt.Errorf("crl: signing: %w", err)
	}
	if err := alg.verify(p.Issuer.PublicKey, digest, sig); err != nil {
		return nil, fmt.Errorf("crl: the signer returned a signature that does not verify under the issuer key: %w", err)
	}
	if len(sig) > alg.maxSigLen {
		return nil, fmt.Errorf("crl: signature of %d bytes exceeds the expected maximum %d", len(sig), alg.maxSigLen)
	}

	buf = append(buf, alg.identifier...)
	buf = appendHeader(buf, 0x03, len(sig)+1)
	buf = append(buf, 0) // no unused bits
	buf = append(buf, sig...)

	// Prepend the outer CertificateList header into the slack left for it.
	content := len(buf) - outerSlack
	var hdr [outerSlack]byte
	h0 := appendHeader(hdr[:0], 0x30, content)
	start := outerSlack - len(h0)
	copy(buf[start:], h0)
	return buf[start:len(buf):len(buf)], nil
}

// outerSlack is room reserved in front of the TBS for the outer SEQUENCE
// header: one tag octet and at most five length octets.
const outerSlack = 6

// checkEncodable refuses times that RFC 5280 §4.1.2.5 cannot encode: UTCTime
// covers 1950-2049 and GeneralizedTime is used from 2050 to 9999.
func checkEncodable(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%w: %s is not set", ErrInvalid, field)
	}
	if y := t.Year(); y < 1950 || y > 9999 {
		return fmt.Errorf("%w: %s year %d cannot be encoded (RFC 5280 §5.1.2.4)", ErrInvalid, field, y)
	}
	return nil
}

// sizeEntries validates every entry and returns the encoded length of all of
// them together. It also refuses a serial that appears twice: a CRL listing a
// certificate twice is malformed, and in a sharded CRL it betrays a coverage
// bug upstream.
func sizeEntries(entries []Entry, thisUpdate time.Time) (int, error) {
	if len(entries) >= 1<<31-1 {
		return 0, fmt.Errorf("%w: %d entries is too many for one shard", ErrInvalid, len(entries))
	}
	var seen serialSet
	seen.init(len(entries))
	total := 0
	for i := range entries {
		e := &entries[i]
		if e.Serial == nil || e.Serial.Sign() <= 0 {
			return 0, fmt.Errorf("%w: entry %d: serial must be positive (RFC 5280 §4.1.2.2)", ErrInvalid, i)
		}
		if e.Serial.BitLen() > 159 {
			return 0, fmt.Errorf("%w: entry %d: serial %x is longer than 20 octets (RFC 5280 §4.1.2.2)", ErrInvalid, i, e.Serial)
		}
		if !ReasonAllowed(e.Reason) {
			return 0, fmt.Errorf("%w: entry %d (serial %x): reason code %d is not permitted in a subscriber CRL (BR §7.2.2)", ErrInvalid, i, e.Serial, e.Reason)
		}
		if e.RevokedAt.IsZero() {
			return 0, fmt.Errorf("%w: entry %d (serial %x): revocation date is not set", ErrInvalid, i, e.Serial)
		}
		at := e.RevokedAt.UTC().Truncate(time.Second)
		if at.Before(minRevocationDate) {
			return 0, fmt.Errorf("%w: entry %d (serial %x): revocation date %s is before 1999", ErrInvalid, i, e.Serial, at.Format(time.RFC3339))
		}
		if at.After(thisUpdate) {
			return 0, fmt.Errorf("%w: entry %d (serial %x): revocation date %s is after thisUpdate %s (RFC 5280 §5.1.2.6)", ErrInvalid, i, e.Serial, at.Format(time.RFC3339), thisUpdate.Format(time.RFC3339))
		}
		if j := seen.add(entries, i); j >= 0 {
			return 0, fmt.Errorf("%w: serial %x is listed twice (entries %d and %d)", ErrInvalid, e.Serial, j, i)
		}
		total += 2 + entryContentLen(e, at.Year())
	}
	return total, nil
}

// entryContentLen is the length of the contents of one revokedCertificates
// element; it is always below 128, so its header is two octets.
func entryContentLen(e *Entry, year int) int {
	n := 2 + serialContentLen(e.Serial) + timeLen(year)
	if e.Reason != 0 {
		n += len(reasonExtPrefix) + 1
	}
	return n
}

func serialContentLen(s *big.Int) int {
	bl := s.BitLen()
	n := (bl + 7) / 8
	if bl%8 == 0 {
		n++ // a leading zero keeps the INTEGER positive
	}
	return n
}

func timeLen(year int) int {
	if year >= 1950 && year < 2050 {
		return 2 + 13 // UTCTime YYMMDDHHMMSSZ
	}
	return 2 + 15 // GeneralizedTime YYYYMMDDHHMMSSZ
}

// reasonExtPrefix is crlEntryExtensions holding one non-critical reasonCode
// extension (OID 2.5.29.21), up to its ENUMERATED value octet:
// SEQUENCE { SEQUENCE { OID, OCTET STRING { ENUMERATED } } }.
var reasonExtPrefix = []byte{0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01}

func appendEntry(dst []byte, e *Entry) []byte {
	at := e.RevokedAt.UTC()
	dst = append(dst, 0x30, byte(entryContentLen(e, at.Year())))
	n := serialContentLen(e.Serial)
	dst = append(dst, 0x02, byte(n))
	mag := (e.Serial.BitLen() + 7) / 8
	if n > mag {
		dst = append(dst, 0)
	}
	dst = append(dst, make([]byte, mag)...)
	e.Serial.FillBytes(dst[len(dst)-mag:])
	dst = appendTime(dst, at)
	if e.Reason != 0 {
		dst = append(dst, reasonExtPrefix...)
		dst = append(dst, byte(e.Reason))
	}
	return dst
}

// appendTime appends t (UTC, fractions dropped) as RFC 5280 §5.1.2.4 wants:
// UTCTime through 2049, GeneralizedTime from 2050.
func appendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year >= 1950 && year < 2050 {
		dst = append(dst, 0x17, 13)
		dst = append2(dst, year%100)
	} else {
		dst = append(dst, 0x18, 15)
		dst = append2(dst, year/100)
		dst = append2(dst, year%100)
	}
	dst = append2(dst, int(month))
	dst = append2(dst, day)
	dst = append2(dst, hour)
	dst = append2(dst, min)
	dst = append2(dst, sec)
	return append(dst, 'Z')
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// headerLen is the length of a DER tag and length for content of n octets.
func headerLen(n int) int {
	switch {
	case n < 0x80:
		return 2
	case n <= 0xff:
		return 3
	case n <= 0xffff:
		return 4
	case n <= 0xffffff:
		return 5
	default:
		return 6
	}
}

func appendHeader(dst []byte, tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, tag, byte(n))
	case n <= 0xff:
		return append(dst, tag, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, tag, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(dst, tag, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(dst, tag, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// encodeHead encodes the TBSCertList fields before revokedCertificates:
// version v2, signature algorithm, issuer, thisUpdate and nextUpdate.
func encodeHead(alg *sigAlg, issuer []byte, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if len(issuer) == 0 {
		return nil, fmt.Errorf("%w: issuer certificate has no subject", ErrInvalid)
	}
	out := make([]byte, 0, 3+len(alg.identifier)+len(issuer)+2*17)
	out = append(out, 0x02, 0x01, 0x01) // version v2 (RFC 5280 §5.1.2.1)
	out = append(out, alg.identifier...)
	out = append(out, issuer...) // byte for byte the issuer's subject
	out = appendTime(out, thisUpdate)
	out = appendTime(out, nextUpdate)
	return out, nil
}

var (
	tagOID                     = cbasn1.Tag(cbasn1.OBJECT_IDENTIFIER)
	oidBytesAKI                = []byte{0x55, 0x1d, 0x23} // 2.5.29.35
	oidBytesCRLNumber          = []byte{0x55, 0x1d, 0x14} // 2.5.29.20
	oidBytesIssuingDistPoint   = []byte{0x55, 0x1d, 0x1c} // 2.5.29.28
	tagContext0Constructed     = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagContext0Primitive       = cbasn1.Tag(0).ContextSpecific()
	tagContext1Primitive       = cbasn1.Tag(1).ContextSpecific()
	tagURIGeneralNamePrimitive = cbasn1.Tag(6).ContextSpecific()
)

// encodeExtensions encodes crlExtensions ([0] EXPLICIT Extensions):
// authorityKeyIdentifier (keyIdentifier only), cRLNumber and a critical
// issuingDistributionPoint. zlint's e_crl_extensions_validity admits exactly
// these three, with IDP critical and the others not.
func encodeExtensions(ski []byte, number *big.Int, url string) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addExtension(b, oidBytesAKI, false, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(tagContext0Primitive, func(b *cryptobyte.Builder) { b.AddBytes(ski) })
				})
			})
			addExtension(b, oidBytesCRLNumber, false, func(b *cryptobyte.Builder) {
				b.AddASN1BigInt(number)
			})
			addExtension(b, oidBytesIssuingDistPoint, true, func(b *cryptobyte.Builder) {
				b.AddBytes(IssuingDistributionPoint(url))
			})
		})
	})
	return b.Bytes()
}

func addExtension(b *cryptobyte.Builder, oid []byte, critical bool, value cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagOID, func(b *cryptobyte.Builder) { b.AddBytes(oid) })
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(cbasn1.OCTET_STRING, value)
	})
}

// IssuingDistributionPoint returns the DER of the IssuingDistributionPoint
// (RFC 5280 §5.2.5) that Build puts in a shard:
//
//	SEQUENCE {
//	  [0] distributionPoint { [0] fullName { [6] uniformResourceIdentifier url } }
//	  [1] onlyContainsUserCerts TRUE
//	}
//
// onlyContainsCACerts, onlySomeReasons, indirectCRL and
// onlyContainsAttributeCerts are all absent (BR §7.2.2.1: indirect CRLs are
// forbidden and onlySomeReasons SHOULD NOT be used). url must already have
// passed CheckURL.
func IssuingDistributionPoint(url string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) { // distributionPoint
			b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) { // fullName
				b.AddASN1(tagURIGeneralNamePrimitive, func(b *cryptobyte.Builder) {
					b.AddBytes([]byte(url))
				})
			})
		})
		b.AddASN1(tagContext1Primitive, func(b *cryptobyte.Builder) { // onlyContainsUserCerts
			b.AddUint8(0xff)
		})
	})
	return b.BytesOrPanic()
}

// sigAlg is one supported signature algorithm.
type sigAlg struct {
	identifier []byte // DER AlgorithmIdentifier
	hash       crypto.Hash
	maxSigLen  int
	verify     func(pub any, digest, sig []byte) error
}

var (
	// ecdsa-with-SHA256/384/512 (RFC 5758 §3.2): parameters absent.
	algECDSASHA256 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	algECDSASHA384 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
	algECDSASHA512 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}
	// sha256WithRSAEncryption (RFC 4055 §5): parameters MUST be NULL.
	algRSASHA256 = []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}
)

// signingAlgorithm checks the issuer and signer and picks the algorithm.
func signingAlgorithm(issuer *x509.Certificate, signer crypto.Signer) (*sigAlg, error) {
	if issuer == nil {
		return nil, fmt.Errorf("%w: no issuer certificate", ErrInvalid)
	}
	if signer == nil {
		return nil, fmt.Errorf("%w: no signer", ErrInvalid)
	}
	if !issuer.BasicConstraintsValid || !issuer.IsCA {
		return nil, fmt.Errorf("%w: issuer %q is not a CA certificate", ErrInvalid, issuer.Subject)
	}
	if issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, fmt.Errorf("%w: issuer %q lacks the cRLSign key usage (RFC 5280 §4.2.1.3)", ErrInvalid, issuer.Subject)
	}
	if len(issuer.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("%w: issuer %q has no subjectKeyIdentifier for the CRL's authorityKeyIdentifier (BR §7.2)", ErrInvalid, issuer.Subject)
	}
	pub, ok := issuer.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return nil, fmt.Errorf("%w: the signer's key is not the issuer's key", ErrInvalid)
	}
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		ecdsaVerify := func(pub any, digest, sig []byte) error {
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig) {
				return errors.New("ECDSA verification failed")
			}
			return nil
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		maxSig := 2*(size+3) + 4
		switch k.Curve {
		case elliptic.P256():
			return &sigAlg{algECDSASHA256, crypto.SHA256, maxSig, ecdsaVerify}, nil
		case elliptic.P384():
			return &sigAlg{algECDSASHA384, crypto.SHA384, maxSig, ecdsaVerify}, nil
		case elliptic.P521():
			return &sigAlg{algECDSASHA512, crypto.SHA512, maxSig, ecdsaVerify}, nil
		}
		return nil, fmt.Errorf("%w: ECDSA curve %s is not allowed (BR §6.1.5)", ErrInvalid, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits is below the 2048 BR §6.1.5 requires", ErrInvalid, k.N.BitLen())
		}
		return &sigAlg{algRSASHA256, crypto.SHA256, k.Size(), func(pub any, digest, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest, sig)
		}}, nil
	}
	return nil, fmt.Errorf("%w: key type %T is not allowed for CRL signing (BR §7.1.3.2)", ErrInvalid, signer.Public())
}
