package serial

import (
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
)

// FuzzParse: serials arrive in URL paths (GET /certificates/{serial}) and
// in what people paste. Parse accepts exactly the canonical form Hex
// produces, of a valid BR serial (BR §7.1); Normalize accepts more, but
// always yields what Parse accepts and is idempotent. Every refusal is a
// 400 naming "serial".
func FuzzParse(f *testing.F) {
	for _, s := range []string{"7f3a9c0d11e2b4a5", "0a", "00ff", "0x7F:3A:9C", "AB CD", "80" + "00000000000000000000000000000000000000", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			wantSerialError(t, s, err)
		} else {
			if br.CheckSerial(n) != nil || Hex(n) != s {
				t.Fatalf("Parse(%q) = %x, whose canonical form is %q", s, n, Hex(n))
			}
		}
		norm, err := Normalize(s)
		if err != nil {
			wantSerialError(t, s, err)
			if n != nil {
				t.Fatalf("Normalize refused %q, which Parse accepts", s)
			}
			return
		}
		m, err := Parse(norm)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, which Parse refuses: %v", s, norm, err)
		}
		if n != nil && m.Cmp(n) != 0 {
			t.Fatalf("Normalize(%q) = %q changes the value", s, norm)
		}
		if again, err := Normalize(norm); err != nil || again != norm {
			t.Fatalf("Normalize is not idempotent: %q -> %q -> %q, %v", s, norm, again, err)
		}
	})
}

func wantSerialError(t *testing.T, s string, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || e.Field != Field || e.Code != CodeInvalidSerial {
		t.Fatalf("%q: want a 400 naming %q, got %#v", s, Field, err)
	}
}
