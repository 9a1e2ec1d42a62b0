// Package serial generates certificate serial numbers and gives them their
// one text form (docs/api.md: lower-case hex, no colons, no leading "00").
//
// A serial is the byte 0x10 followed by 128 bits read from a CSPRNG: twice
// the 64 bits BR §7.1 requires ("at least 64 bits of output from a CSPRNG"),
// greater than zero and far below 2^159 (BR §7.1), 17 octets in DER (RFC
// 5280 §4.1.2.2 allows 20). The fixed first byte makes every serial the same
// length (34 hex digits), never zero, and never in need of a DER sign octet,
// so its hex form is the same whether it is printed from the integer or from
// the DER content octets. Uniqueness comes from the 128 random bits; the
// database's unique index on issuer and serial (MRSP §5.2) is the backstop.
package serial

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
)

// RandomBits is the number of CSPRNG bits in every serial (BR §7.1 requires
// at least br.SerialMinEntropyBits).
const RandomBits = 128

// prefix is the fixed first octet. Its top bit is clear (no DER sign octet)
// and its top nibble is not zero (no odd-length hex).
const prefix = 0x10

// Field is the JSON field serial errors name.
const Field = "serial"

// CodeInvalidSerial is the apperr code for a serial that is not in the
// canonical form or not a valid BR serial.
const CodeInvalidSerial = apperr.CodeInvalidSerial

// New returns a fresh serial number built from RandomBits bits read from
// rand, which must be a CSPRNG (crypto/rand.Reader). It fails only if rand
// does.
func New(rand io.Reader) (*big.Int, error) {
	if rand == nil {
		return nil, errors.New("serial: no randomness source")
	}
	var b [1 + RandomBits/8]byte
	b[0] = prefix
	if _, err := io.ReadFull(rand, b[1:]); err != nil {
		return nil, fmt.Errorf("serial: reading randomness: %w", err)
	}
	return new(big.Int).SetBytes(b[:]), nil
}

// Hex returns the canonical text form of a positive serial: the big-endian
// octets of its value in lower-case hex, with no colons and no leading "00"
// (docs/api.md). It is the form used in the API, in URLs, in the database
// and in reports. A nil serial gives ""; zero and negative values (never
// valid, but found in foreign certificates) give big.Int's own base-16 text,
// which Parse refuses.
func Hex(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() <= 0 {
		return n.Text(16)
	}
	return hex.EncodeToString(n.Bytes())
}

// Parse reads a serial in exactly the canonical form Hex produces and checks
// it is a valid BR serial (greater than zero, less than 2^159; BR §7.1).
// Anything else, including upper case, colons, odd length and a leading
// "00", is an apperr.Invalid error naming "serial" (use Normalize first to
// accept what people paste).
func Parse(s string) (*big.Int, error) {
	bad := func(why string) (*big.Int, error) {
		return nil, apperr.Invalid(CodeInvalidSerial, Field,
			"%q is not a serial number in vetca's form (lower-case hex, no colons, no leading 00): %s", s, why)
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s)%2 != 0:
		return bad("odd number of hex digits")
	case len(s) > 2*br.SerialMaxOctets:
		return bad("longer than 20 octets")
	case strings.HasPrefix(s, "00"):
		return bad("leading 00")
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return bad("not lower-case hex")
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return bad(err.Error())
	}
	n := new(big.Int).SetBytes(b)
	if err := br.CheckSerial(n); err != nil {
		return bad(err.Error())
	}
	return n, nil
}

// Normalize turns a serial as people and tools write it into the canonical
// form: it accepts upper case, an optional "0x", colons and spaces between
// octets, leading zeros and an odd number of digits ("0A:BC:01" and
// "abc01" both give "0abc01"). The value must still be a valid BR serial;
// otherwise the error is as for Parse.
func Normalize(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	t = strings.Map(func(r rune) rune {
		switch r {
		case ':', ' ':
			return -1
		}
		return r
	}, strings.ToLower(t))
	t = strings.TrimLeft(t, "0")
	if len(t)%2 != 0 {
		t = "0" + t
	}
	if t == "" {
		return "", apperr.Invalid(CodeInvalidSerial, Field, "%q is not a serial number: it is zero or empty (BR §7.1)", s)
	}
	if _, err := Parse(t); err != nil {
		return "", apperr.Invalid(CodeInvalidSerial, Field, "%q is not a valid serial number", s)
	}
	return t, nil
}
