package crl

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// Header is everything of a shard's CRL but its entries: the inputs of a
// Stream. The fields mean what they mean in Params.
type Header struct {
	Issuer                 *x509.Certificate
	Signer                 crypto.Signer
	URL                    string
	Number                 *big.Int
	ThisUpdate, NextUpdate time.Time
}

// MaxSerialOctets is the longest serial a CRL entry may carry: 20 octets
// (RFC 5280 §4.1.2.2), which BR §7.1's "less than 2^159" keeps positive.
const MaxSerialOctets = 20

// maxEntryLen bounds one encoded revokedCertificates element: its header,
// a 20-octet serial with a leading zero, a GeneralizedTime and a reasonCode.
const maxEntryLen = 2 + (2 + MaxSerialOctets + 1) + (2 + 15) + 14 // 14: reasonExtPrefix and the code

// Stream encodes and signs one shard's CRL from entries given one at a
// time, so that a shard of any size is built without ever holding its
// entries: what it holds is the output DER itself (reserved up front from a
// size hint), the previous entry's serial, and the encoded header and
// extensions. Entries must come in strictly ascending order of their
// serials' big-endian octets, which is the order of vetca's lower-case hex
// serial column; that order is also how a repeated serial is refused
// without remembering the serials.
//
// The DER is exactly what Build writes for the same entries in the same
// order, and what x509.CreateRevocationList writes with the Issuing
// Distribution Point as an extra extension (TestStreamMatchesBuildAndStdlib).
// The to-be-signed part is hashed once, in place, by Finish: its length
// prefix is only known after the last entry.
type Stream struct {
	alg        *sigAlg
	issuer     *x509.Certificate
	signer     crypto.Signer
	thisUpdate time.Time
	head, tail []byte
	buf        []byte // slack for the TBS and list headers, then the entries
	slack      int
	n          int
	prev       [MaxSerialOctets]byte
	prevLen    int
	done       bool
}

// NewStream checks h as Build checks its Params and returns a Stream ready
// for entries. sizeHint is the number of entries expected (it sizes the
// output buffer once; more entries than that still work, at the cost of a
// reallocation).
func NewStream(h Header, sizeHint int) (*Stream, error) {
	alg, err := signingAlgorithm(h.Issuer, h.Signer)
	if err != nil {
		return nil, err
	}
	if err := CheckURL(h.URL); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if h.Number == nil || h.Number.Sign() < 0 || h.Number.Cmp(maxCRLNumber) >= 0 {
		return nil, fmt.Errorf("%w: CRLNumber must be in [0, 2^159) (BR §7.2), got %v", ErrInvalid, h.Number)
	}
	thisUpdate := h.ThisUpdate.UTC().Truncate(time.Second)
	nextUpdate := h.NextUpdate.UTC().Truncate(time.Second)
	if err := checkValidity(thisUpdate, nextUpdate); err != nil {
		return nil, err
	}
	head, err := encodeHead(alg, h.Issuer.RawSubject, thisUpdate, nextUpdate)
	if err != nil {
		return nil, err
	}
	tail, err := encodeExtensions(h.Issuer.SubjectKeyId, h.Number, h.URL)
	if err != nil {
		return nil, err
	}
	if sizeHint < 0 {
		sizeHint = 0
	}
	// In front of the entries: the outer and TBS headers, the head, and
	// the revokedCertificates header, each header at most 6 octets.
	slack := 3*6 + len(head)
	capacity := slack + sizeHint*maxEntryLen + len(tail) + len(alg.identifier) + 1 + 5 + 1 + alg.maxSigLen
	s := &Stream{alg: alg, issuer: h.Issuer, signer: h.Signer, thisUpdate: thisUpdate, head: head, tail: tail, slack: slack}
	s.buf = make([]byte, slack, capacity)
	return s, nil
}

// checkValidity applies the rules on thisUpdate and nextUpdate (both
// already in UTC, truncated to the second).
func checkValidity(thisUpdate, nextUpdate time.Time) error {
	if err := checkEncodable("thisUpdate", thisUpdate); err != nil {
		return err
	}
	if err := checkEncodable("nextUpdate", nextUpdate); err != nil {
		return err
	}
	if !nextUpdate.After(thisUpdate) {
		return fmt.Errorf("%w: nextUpdate %s is not after thisUpdate %s", ErrInvalid, nextUpdate.Format(time.RFC3339), thisUpdate.Format(time.RFC3339))
	}
	if nextUpdate.Sub(thisUpdate) > MaxValidity {
		return fmt.Errorf("%w: nextUpdate is %s after thisUpdate, more than the 10 days BR §4.9.7 and §7.2 allow", ErrInvalid, nextUpdate.Sub(thisUpdate))
	}
	return nil
}

// Add appends one entry. serial is the certificate's serial as big-endian
// octets without leading zeros (a positive INTEGER's magnitude, at most 20
// octets and below 2^159); it must be greater, octet for octet, than the
// previous entry's. revokedAt and reason follow the rules of Entry. The
// slice is not retained.
func (s *Stream) Add(serial []byte, revokedAt time.Time, reason int) error {
	if s.done {
		return fmt.Errorf("crl: Add after Finish")
	}
	i := s.n
	switch {
	case len(serial) == 0 || serial[0] == 0:
		return fmt.Errorf("%w: entry %d: serial %x is not a positive, minimally encoded integer (RFC 5280 §4.1.2.2)", ErrInvalid, i, serial)
	case len(serial) > MaxSerialOctets || (len(serial) == MaxSerialOctets && serial[0]&0x80 != 0):
		return fmt.Errorf("%w: entry %d: serial %x is longer than 20 octets (RFC 5280 §4.1.2.2)", ErrInvalid, i, serial)
	case !ReasonAllowed(reason):
		return fmt.Errorf("%w: entry %d (serial %x): reason code %d is not permitted in a subscriber CRL (BR §7.2.2)", ErrInvalid, i, serial, reason)
	case revokedAt.IsZero():
		return fmt.Errorf("%w: entry %d (serial %x): revocation date is not set", ErrInvalid, i, serial)
	}
	at := revokedAt.UTC().Truncate(time.Second)
	if at.Before(minRevocationDate) {
		return fmt.Errorf("%w: entry %d (serial %x): revocation date %s is before 1999", ErrInvalid, i, serial, at.Format(time.RFC3339))
	}
	if at.After(s.thisUpdate) {
		return fmt.Errorf("%w: entry %d (serial %x): revocation date %s is after thisUpdate %s (RFC 5280 §5.1.2.6)", ErrInvalid, i, serial, at.Format(time.RFC3339), s.thisUpdate.Format(time.RFC3339))
	}
	if i > 0 && bytes.Compare(serial, s.prev[:s.prevLen]) <= 0 {
		if bytes.Equal(serial, s.prev[:s.prevLen]) {
			return fmt.Errorf("%w: serial %x is listed twice (entries %d and %d)", ErrInvalid, serial, i-1, i)
		}
		return fmt.Errorf("%w: entry %d: serial %x comes after %x; a Stream takes serials in ascending order", ErrInvalid, i, serial, s.prev[:s.prevLen])
	}
	s.prevLen = copy(s.prev[:], serial)
	s.buf = appendEntryBytes(s.buf, serial, at, reason)
	s.n++
	return nil
}

// Count is the number of entries added so far.
func (s *Stream) Count() int { return s.n }

// Finish writes the headers and extensions, signs the to-be-signed part
// with the issuer's key, checks the signature under the issuer's public key
// (a faulty signer never yields a CRL) and returns the DER. The Stream is
// spent afterwards.
func (s *Stream) Finish() ([]byte, error) {
	if s.done {
		return nil, fmt.Errorf("crl: Finish called twice")
	}
	s.done = true
	entriesLen := len(s.buf) - s.slack
	// Lay the head and the headers out backwards from the first entry.
	pos := s.slack
	if s.n > 0 {
		// RFC 5280 §5.1.2.6: with no revoked certificates the list is absent.
		var hdr [6]byte
		h := appendHeader(hdr[:0], 0x30, entriesLen)
		pos -= len(h)
		copy(s.buf[pos:], h)
	}
	pos -= len(s.head)
	copy(s.buf[pos:], s.head)
	s.buf = append(s.buf, s.tail...)
	tbsContent := len(s.buf) - pos
	var hdr [6]byte
	h := appendHeader(hdr[:0], 0x30, tbsContent)
	pos -= len(h)
	copy(s.buf[pos:], h)
	if pos < 6 {
		return nil, fmt.Errorf("crl: internal error: %d octets left for the outer header", pos)
	}
	tbs := s.buf[pos:]

	digest := s.alg.hash.New()
	digest.Write(tbs)
	sum := digest.Sum(nil)
	sig, err := s.signer.Sign(rand.Reader, sum, s.alg.hash)
	if err != nil {
		return nil, fmt.Errorf("crl: signing: %w", err)
	}
	if err := s.alg.verify(s.issuer.PublicKey, sum, sig); err != nil {
		return nil, fmt.Errorf("crl: the signer returned a signature that does not verify under the issuer key: %w", err)
	}
	if len(sig) > s.alg.maxSigLen {
		return nil, fmt.Errorf("crl: signature of %d bytes exceeds the expected maximum %d", len(sig), s.alg.maxSigLen)
	}
	s.buf = append(s.buf, s.alg.identifier...)
	s.buf = appendHeader(s.buf, 0x03, len(sig)+1)
	s.buf = append(s.buf, 0) // no unused bits
	s.buf = append(s.buf, sig...)

	content := len(s.buf) - pos
	h = appendHeader(hdr[:0], 0x30, content)
	start := pos - len(h)
	copy(s.buf[start:], h)
	out := s.buf[start:len(s.buf):len(s.buf)]
	s.buf = nil
	return out, nil
}

// appendEntryBytes appends one revokedCertificates element: the serial
// (big-endian magnitude octets, a leading zero added when the top bit is
// set), the revocation date (UTC, whole seconds) and, unless the reason is
// unspecified, the reasonCode extension.
func appendEntryBytes(dst []byte, serial []byte, at time.Time, reason int) []byte {
	n := len(serial)
	if serial[0]&0x80 != 0 {
		n++
	}
	content := 2 + n + timeLen(at.Year())
	if reason != 0 {
		content += len(reasonExtPrefix) + 1
	}
	dst = append(dst, 0x30, byte(content), 0x02, byte(n))
	if n > len(serial) {
		dst = append(dst, 0)
	}
	dst = append(dst, serial...)
	dst = appendTime(dst, at)
	if reason != 0 {
		dst = append(dst, reasonExtPrefix...)
		dst = append(dst, byte(reason))
	}
	return dst
}
