package profile_test

import (
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/profile"
)

// DecodeName reads subjects of certificates vetca did not make (scans,
// uploads): it must never panic, and a subject it encodes itself must
// decode to the same attributes.
func FuzzDecodeName(f *testing.F) {
	full, _ := profile.EncodeSubject(fullSubject)
	f.Add(full)
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x03, 0x31, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		attrs, err := profile.DecodeName(der)
		if err != nil {
			return
		}
		for _, a := range attrs {
			if a.RDNSize < 1 || a.RDN < 0 {
				t.Fatalf("bad attribute %+v", a)
			}
		}
	})
}

// EncodeSubject either refuses a subject with a 400 naming an attribute or
// produces a Name that decodes back to the same values, in BR order.
func FuzzEncodeSubject(f *testing.F) {
	f.Add("MM", "Yangon", "Yangon", "11181", "1 Strand Road", "Example Trading Co., Ltd.", "www.example.com")
	f.Add("de", "", "", "", "", "x", "")
	f.Fuzz(func(t *testing.T, c, st, l, pc, street, o, cn string) {
		s := profile.Subject{CountryName: c, StateOrProvinceName: st, LocalityName: l, PostalCode: pc,
			StreetAddress: street, OrganizationName: o, CommonName: cn}
		der, err := profile.EncodeSubject(s)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Code == "" || e.Field == "" {
				t.Fatalf("EncodeSubject(%+v) refused with %#v; want a 400 naming a field", s, err)
			}
			return
		}
		attrs, err := profile.DecodeName(der)
		if err != nil {
			t.Fatal(err)
		}
		want := s.Attributes()
		if len(attrs) != len(want) {
			t.Fatalf("%d attributes, want %d", len(attrs), len(want))
		}
		for i := range want {
			if !attrs[i].OID.Equal(want[i].OID) || attrs[i].Value != want[i].Value || attrs[i].Tag != want[i].Tag {
				t.Fatalf("attribute %d = %+v, want %+v", i, attrs[i], want[i])
			}
		}
	})
}
