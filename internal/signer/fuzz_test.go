package signer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/signer"
)

// Whatever ParsePKCS11URI accepts, its canonical String() parses back to
// the same token and key selection and never carries the PIN value.
func FuzzParsePKCS11URI(f *testing.F) {
	f.Add("pkcs11:token=vetca;object=issuer;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234")
	f.Add("pkcs11:slot-id=0;id=%FF")
	f.Add("pkcs11:serial=abc;object=a%20b?pin-source=file:/etc/pin")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := signer.ParsePKCS11URI(s)
		if err != nil {
			return
		}
		c := u.String()
		if u.PINValue != "" && strings.Contains(c, "pin-value") {
			t.Fatalf("String() carries the PIN: %s", c)
		}
		v, err := signer.ParsePKCS11URI(c)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", c, err)
		}
		if v.Token != u.Token || v.Serial != u.Serial || v.Object != u.Object || !bytes.Equal(v.ID, u.ID) ||
			v.ModulePath != u.ModulePath || v.PINSource != u.PINSource || v.Type != u.Type ||
			(v.SlotID == nil) != (u.SlotID == nil) || (v.SlotID != nil && *v.SlotID != *u.SlotID) {
			t.Fatalf("round trip changed %+v into %+v", u, v)
		}
	})
}
