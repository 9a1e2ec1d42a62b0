package profile_test

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/profile"
)

// BR §7.1.4.2: one hand-assembled DER Name, so the encoder is checked
// against bytes, not against itself.
func TestEncodeSubjectExactBytes(t *testing.T) {
	der, err := profile.EncodeSubject(profile.Subject{CountryName: "DE", OrganizationName: "X"})
	if err != nil {
		t.Fatal(err)
	}
	// SEQUENCE { SET { SEQUENCE { 2.5.4.6, PrintableString "DE" } },
	//            SET { SEQUENCE { 2.5.4.10, UTF8String "X" } } }
	want := "3019" + "310b" + "3009" + "0603550406" + "13024445" + "310a" + "3008" + "060355040a" + "0c0158"
	if got := hex.EncodeToString(der); got != want {
		t.Fatalf("DER\n got %s\nwant %s", got, want)
	}
}

var fullSubject = profile.Subject{
	CommonName:          "www.example.com", // fields set out of order on purpose
	OrganizationName:    "Example Trading Co., Ltd.",
	StreetAddress:       "1 Strand Road",
	PostalCode:          "11181",
	LocalityName:        "Yangon",
	StateOrProvinceName: "Yangon",
	CountryName:         "MM",
}

// BR §7.1.4.2 order C, ST, L, postalCode, street, O, CN; one attribute per
// RDN (§7.1.4.1); countryName PrintableString, the rest UTF8String.
func TestEncodeSubjectOrderAndTypes(t *testing.T) {
	der, err := profile.EncodeSubject(fullSubject)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := profile.DecodeName(der)
	if err != nil {
		t.Fatal(err)
	}
	wantOIDs := []string{"2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.17", "2.5.4.9", "2.5.4.10", "2.5.4.3"}
	wantVals := []string{"MM", "Yangon", "Yangon", "11181", "1 Strand Road", "Example Trading Co., Ltd.", "www.example.com"}
	if len(attrs) != len(wantOIDs) {
		t.Fatalf("got %d attributes, want %d", len(attrs), len(wantOIDs))
	}
	for i, a := range attrs {
		if a.OID.String() != wantOIDs[i] || a.Value != wantVals[i] || a.RDN != i || a.RDNSize != 1 {
			t.Errorf("attribute %d = %v %q (RDN %d size %d), want %s %q alone in RDN %d",
				i, a.OID, a.Value, a.RDN, a.RDNSize, wantOIDs[i], wantVals[i], i)
		}
		wantTag := asn1.TagUTF8String
		if i == 0 {
			wantTag = asn1.TagPrintableString
		}
		if a.Tag != wantTag {
			t.Errorf("attribute %d tag %d, want %d", i, a.Tag, wantTag)
		}
	}
	// Go's own pkix.Name marshaling puts O before L; make sure the bytes
	// really differ from that order, i.e. the order is ours.
	idx := func(oid string) int {
		o := map[string][]byte{"O": {0x55, 0x04, 0x0a}, "L": {0x55, 0x04, 0x07}}[oid]
		return strings.Index(string(der), string(o))
	}
	if idx("L") > idx("O") {
		t.Error("localityName encoded after organizationName")
	}
}

// BR §7.1.4.2 maximum lengths and string rules; each bad value is refused
// with an *apperr.Error naming the JSON field.
func TestEncodeSubjectRefuses(t *testing.T) {
	base := profile.Subject{CountryName: "DE", LocalityName: "Berlin", OrganizationName: "Example GmbH"}
	with := func(f func(*profile.Subject)) profile.Subject { s := base; f(&s); return s }
	tests := []struct {
		name  string
		s     profile.Subject
		field string
	}{
		{"§7.1.4.2 countryName lower case", with(func(s *profile.Subject) { s.CountryName = "de" }), "countryName"},
		{"§7.1.4.2 countryName 3 letters", with(func(s *profile.Subject) { s.CountryName = "DEU" }), "countryName"},
		{"§7.1.4.2 countryName digits", with(func(s *profile.Subject) { s.CountryName = "D1" }), "countryName"},
		{"§7.1.4.2 O over 64", with(func(s *profile.Subject) { s.OrganizationName = strings.Repeat("a", 65) }), "organizationName"},
		{"§7.1.4.2 CN over 64", with(func(s *profile.Subject) { s.CommonName = strings.Repeat("a", 65) }), "commonName"},
		{"§7.1.4.2 L over 128", with(func(s *profile.Subject) { s.LocalityName = strings.Repeat("é", 129) }), "localityName"},
		{"§7.1.4.2 ST over 128", with(func(s *profile.Subject) { s.StateOrProvinceName = strings.Repeat("a", 129) }), "stateOrProvinceName"},
		{"§7.1.4.2 street over 128", with(func(s *profile.Subject) { s.StreetAddress = strings.Repeat("a", 129) }), "streetAddress"},
		{"§7.1.4.2 postalCode over 40", with(func(s *profile.Subject) { s.PostalCode = strings.Repeat("1", 41) }), "postalCode"},
		{"invalid UTF-8", with(func(s *profile.Subject) { s.OrganizationName = "Ex\xffample" }), "organizationName"},
		{"control character", with(func(s *profile.Subject) { s.OrganizationName = "Example\x00 GmbH" }), "organizationName"},
		{"trailing space", with(func(s *profile.Subject) { s.LocalityName = "Berlin " }), "localityName"},
		{"empty subject", profile.Subject{}, "subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := profile.EncodeSubject(tc.s)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Field != tc.field {
				t.Fatalf("err = %v, want 400 naming %s", err, tc.field)
			}
		})
	}
	// Limits are in characters, not octets: 64 two-octet characters fit.
	if _, err := profile.EncodeSubject(with(func(s *profile.Subject) { s.OrganizationName = strings.Repeat("é", 64) })); err != nil {
		t.Errorf("64 characters refused: %v", err)
	}
}

func TestDecodeNameSeesMultiValuedRDN(t *testing.T) {
	// SEQUENCE { SET { C=DE, O=X } }: two attributes in one RDN.
	der, _ := hex.DecodeString("3017" + "3115" + "3009" + "0603550406" + "13024445" + "3008" + "060355040a" + "0c0158")
	attrs, err := profile.DecodeName(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 2 || attrs[0].RDNSize != 2 || attrs[1].RDN != 0 {
		t.Fatalf("attrs = %+v, want two attributes in RDN 0", attrs)
	}
	if _, err := profile.DecodeName(append(der, 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
}
