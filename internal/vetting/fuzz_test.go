package vetting

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
)

// FuzzFieldsValidate: identity fields are typed by people. Validate either
// refuses them with a 400 that names one of the fields, or accepts values
// that carry no other attribute (BR §7.1.4.2) and that validate again
// unchanged; appending an attribute to an accepted organizationName is
// always refused.
func FuzzFieldsValidate(f *testing.F) {
	f.Add("Example, Inc.", "US", "California", "San Francisco", "Suite 5, 1 Market Street", "94105", "C3456789")
	f.Add("Smith & Sons, LLC", "US", "US-NY", "New York", "", "", "")
	f.Add("O'Brien (UK) Ltd.", "GB", "ENG", "London", "", "SW1A 1AA", "")
	f.Add("Acme Ltd, C=US", "US", "California", "San Francisco", "", "", "")
	f.Add("Acme", "DE", "Bayern", "München, CN=evil.com", "", "", "")
	f.Add("Shwe Taung Trading Co. Ltd", "MM", "Yangon", "Yangon", "", "", "")
	f.Fuzz(func(t *testing.T, o, c, st, l, street, pc, reg string) {
		in := Fields{OrganizationName: o, CountryName: c, StateOrProvinceName: st, LocalityName: l,
			StreetAddress: street, PostalCode: pc, RegistrationNumber: reg}
		got := in
		err := got.Validate()
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Code == "" || !slices.Contains(fieldOrder, e.Field) {
				t.Fatalf("Validate(%+v) = %#v; want a 400 naming a field", in, err)
			}
			return
		}
		for _, name := range fieldOrder {
			v := got.get(name)
			if !utf8.ValidString(v) {
				t.Fatalf("accepted invalid UTF-8 in %s: %q", name, v)
			}
			if max := maxLen[name]; max > 0 && utf8.RuneCountInString(v) > max {
				t.Fatalf("accepted %s of %d characters", name, utf8.RuneCountInString(v))
			}
			if attr, frag := br.DNFragment(v); frag {
				t.Fatalf("accepted %s %q, which carries %s=", name, v, attr)
			}
		}
		again := got
		if err := again.Validate(); err != nil || again != got {
			t.Fatalf("not idempotent: %+v -> %+v -> %+v, %v", in, got, again, err)
		}
		forged := got
		forged.OrganizationName += ", C=US"
		e, ok := apperr.As(forged.Validate())
		if !ok || e.Field != "organizationName" || (e.Code != br.CodeDNFragment && e.Code != "too_long") {
			t.Fatalf("organizationName %q was not refused: %v", forged.OrganizationName, e)
		}
	})
}
