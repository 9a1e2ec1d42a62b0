package serial

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
)

// TestTenThousand: 10,000 serials are unique and
// positive, fit in 20 octets, and no bit among the lowest 64 is constant
// (BR §7.1: positive, below 2^159, at least 64 CSPRNG bits; RFC 5280
// §4.1.2.2: at most 20 octets; the API's text form).
func TestTenThousand(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	and := new(big.Int).Set(mask) // bits set in every serial
	or := new(big.Int)            // bits set in some serial
	for i := 0; i < n; i++ {
		s, err := New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := br.CheckSerial(s); err != nil {
			t.Fatalf("BR §7.1: %v", err)
		}
		der, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		// INTEGER tag, short-form length, content.
		if der[0] != 0x02 || int(der[1]) != len(der)-2 || len(der)-2 > br.SerialMaxOctets {
			t.Fatalf("RFC 5280 §4.1.2.2: %x is %d content octets", der, len(der)-2)
		}
		h := Hex(s)
		if seen[h] {
			t.Fatalf("duplicate serial %s after %d", h, i)
		}
		seen[h] = true
		if len(h) != 34 || h != strings.ToLower(h) || strings.HasPrefix(h, "00") || strings.Contains(h, ":") {
			t.Fatalf("not the API's serial form: %q", h)
		}
		if h != s.Text(16) || h != hexLower(der[2:]) {
			t.Fatalf("text forms disagree: %s, %s, %x", h, s.Text(16), der[2:])
		}
		back, err := Parse(h)
		if err != nil || back.Cmp(s) != 0 {
			t.Fatalf("Parse(Hex(s)) = %v, %v", back, err)
		}
		low := new(big.Int).And(s, mask)
		and.And(and, low)
		or.Or(or, low)
	}
	for bit := 0; bit < 64; bit++ {
		if and.Bit(bit) == 1 || or.Bit(bit) == 0 {
			t.Errorf("bit %d is constant across %d serials", bit, n)
		}
	}
}

func hexLower(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestNewUsesTheReader(t *testing.T) {
	// All RandomBits come straight from the reader, after the fixed octet.
	src := bytes.Repeat([]byte{0xff, 0x00, 0xa5, 0x5a}, 8)
	s, err := New(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Hex(s), "10"+hexLower(src[:16]); got != want {
		t.Fatalf("serial %s, want %s", got, want)
	}
	// An all-zero reader still gives a positive serial (never zero).
	z, err := New(bytes.NewReader(make([]byte, 16)))
	if err != nil || z.Sign() <= 0 {
		t.Fatalf("zero reader: %v %v", z, err)
	}
	// A reader that runs dry is an error, never a short serial.
	if _, err := New(bytes.NewReader(make([]byte, 15))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short read: %v", err)
	}
	if _, err := New(nil); err == nil {
		t.Fatal("nil reader accepted")
	}
}

func TestParse(t *testing.T) {
	max159 := strings.Repeat("7f", 1) + strings.Repeat("ff", 19) // 2^159 - 1
	cases := []struct {
		in string
		ok bool
	}{
		{"10" + strings.Repeat("ab", 16), true},
		{"01", true},
		{"0abc", true},
		{"7f", true},
		{max159, true},                           // BR §7.1: below 2^159
		{"80" + strings.Repeat("00", 19), false}, // 2^159
		{"01" + strings.Repeat("00", 20), false}, // 21 octets
		{"", false},                              // BR §7.1: greater than zero
		{"00", false},                            // zero, and a leading 00
		{"0", false},                             // odd
		{"00ab", false},                          // the API's form: no leading 00
		{"abc", false},                           // odd length
		{"AB", false},                            // upper case
		{"ab:cd", false},                         // colons
		{"0xab", false},                          // prefix
		{" ab", false},                           // spaces
		{"gh", false},                            // not hex
		{"-1", false},                            // sign
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		if c.ok {
			if err != nil {
				t.Errorf("Parse(%q): %v", c.in, err)
			}
			continue
		}
		e, isApp := apperr.As(err)
		if !isApp || e.Kind != apperr.KindInvalid || e.Field != "serial" || e.Code != CodeInvalidSerial {
			t.Errorf("Parse(%q) = %v, want 400 serial %s", c.in, err, CodeInvalidSerial)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"0A:BC:01", "0abc01"},
		{"abc01", "0abc01"},
		{"0x0ABC01", "0abc01"},
		{"00 0a bc 01", "0abc01"},
		{"0a-bc-01", ""},
		{" 10ABCDEF ", "10abcdef"},
		{"7F" + strings.Repeat("FF", 19), "7f" + strings.Repeat("ff", 19)},
		{"", ""},
		{"00:00", ""},
		{"80" + strings.Repeat("00", 19), ""},
		{"zz", ""},
		{"-5", ""},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q) = %q, want an error", c.in, got)
			} else if e, ok := apperr.As(err); !ok || e.Field != "serial" {
				t.Errorf("Normalize(%q): %v", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestHexEdges(t *testing.T) {
	if Hex(nil) != "" {
		t.Error("nil")
	}
	if Hex(big.NewInt(0)) != "0" || Hex(big.NewInt(-26)) != "-1a" {
		t.Error("non-positive values keep big.Int's text, which Parse refuses")
	}
	if Hex(big.NewInt(0x0abc)) != "0abc" {
		t.Errorf("byte-aligned: %s", Hex(big.NewInt(0x0abc)))
	}
	if Hex(big.NewInt(0x80)) != "80" {
		t.Error("no sign octet in the text form")
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}
