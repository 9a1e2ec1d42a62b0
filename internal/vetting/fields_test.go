package vetting

import (
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

func valid() Fields {
	return Fields{OrganizationName: "Example Widgets Inc.", CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco"}
}

// Each case breaks one rule and names the field the error must point at.
func TestFieldValidation(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Fields)
		field string // "" means valid
		code  apperr.Code
	}{
		{"valid", func(f *Fields) {}, "", ""},
		{"BR §7.1.2.7.4 countryName required", func(f *Fields) { f.CountryName = "" }, "countryName", "missing_field"},
		{"seed 1559376: XX refused", func(f *Fields) { f.CountryName = "XX" }, "countryName", "invalid_country"},
		{"lower-case country", func(f *Fields) { f.CountryName = "us" }, "countryName", "invalid_country"},
		{"not an ISO 3166-1 code", func(f *Fields) { f.CountryName = "UK" }, "countryName", "invalid_country"},
		{"alpha-3 code", func(f *Fields) { f.CountryName = "USA" }, "countryName", "invalid_country"},
		{"sanctioned country is a real country", func(f *Fields) { f.CountryName, f.StateOrProvinceName, f.LocalityName = "MM", "Yangon", "Yangon" }, "", ""},
		{"organizationName required", func(f *Fields) { f.OrganizationName = "" }, "organizationName", "missing_field"},
		{"localityName required", func(f *Fields) { f.LocalityName = "" }, "localityName", "missing_field"},
		{"BR §7.1.4.2 O at most 64", func(f *Fields) { f.OrganizationName = string(make([]byte, 65)) }, "organizationName", ""},
		{"control character", func(f *Fields) { f.OrganizationName = "Evil\x00Corp" }, "organizationName", "control_character"},
		{"zero-width space", func(f *Fields) { f.LocalityName = "San\u200bFrancisco" }, "localityName", "control_character"},
		{"BR §7.1.4.2 DN fragment after a comma", func(f *Fields) { f.OrganizationName = "Example, C=US" }, "organizationName", "dn_fragment"},
		{"BR §7.1.4.2 DN fragment at the start", func(f *Fields) { f.OrganizationName = "O=Example" }, "organizationName", "dn_fragment"},
		{"BR §7.1.4.2 DN fragment after a plus", func(f *Fields) { f.LocalityName = "Paris+CN=evil.com" }, "localityName", "dn_fragment"},
		{"legal name with a comma", func(f *Fields) { f.OrganizationName = "Example, Inc." }, "", ""},
		{"locality with a plus and a semicolon", func(f *Fields) { f.LocalityName = "A+B; C" }, "", ""},
		{"leading space", func(f *Fields) { f.OrganizationName = " Example" }, "organizationName", "surrounding_space"},
		{"placeholder Some-State (OpenSSL default)", func(f *Fields) { f.StateOrProvinceName = "Some-State" }, "stateOrProvinceName", ""},
		{"placeholder Default City", func(f *Fields) { f.LocalityName = "Default City" }, "localityName", "placeholder_value"},
		{"placeholder N/A", func(f *Fields) { f.LocalityName = "N/A" }, "localityName", "placeholder_value"},
		{"placeholder NA", func(f *Fields) { f.OrganizationName = "NA" }, "organizationName", "placeholder_value"},
		{"placeholder dash (BR §7.1.2.7.4 metadata only)", func(f *Fields) { f.LocalityName = "-" }, "localityName", "placeholder_value"},
		{"placeholder dot", func(f *Fields) { f.OrganizationName = "." }, "organizationName", "placeholder_value"},
		{"ST not a subdivision of the country", func(f *Fields) { f.StateOrProvinceName = "Bavaria" }, "stateOrProvinceName", "invalid_subdivision"},
		{"ST of another country", func(f *Fields) { f.StateOrProvinceName = "Bayern" }, "stateOrProvinceName", "invalid_subdivision"},
		{"ST missing where the country has subdivisions", func(f *Fields) { f.StateOrProvinceName = "" }, "stateOrProvinceName", "missing_field"},
		{"postal code with symbols", func(f *Fields) { f.PostalCode = "94105!" }, "postalCode", "invalid_postal_code"},
		{"BR §7.1.4.2 postalCode at most 40", func(f *Fields) { f.PostalCode = "1234567890123456789012345678901234567890A" }, "postalCode", "too_long"},
		{"street may hold commas", func(f *Fields) { f.StreetAddress = "Suite 5, 1 Market Street" }, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := valid()
			tc.edit(&f)
			err := f.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Field != tc.field || e.Kind != apperr.KindInvalid {
				t.Fatalf("want 400 naming %s, got %v", tc.field, err)
			}
			if tc.code != "" && e.Code != tc.code {
				t.Fatalf("want code %s, got %s (%v)", tc.code, e.Code, err)
			}
		})
	}
}

func TestSubdivisionIsCanonicalized(t *testing.T) {
	f := valid()
	f.StateOrProvinceName = "US-CA"
	if err := f.Validate(); err != nil || f.StateOrProvinceName != "California" {
		t.Fatalf("got %q, %v", f.StateOrProvinceName, err)
	}
}

func TestIsSubjectField(t *testing.T) {
	for _, n := range []string{"organizationName", "countryName", "OrganizationName", "commonName", "organizationalUnitName"} {
		if !IsSubjectField(n) {
			t.Errorf("%s should be a subject field", n)
		}
	}
	for _, n := range []string{"name", "email", "phone", "role"} {
		if IsSubjectField(n) {
			t.Errorf("%s is contact data", n)
		}
	}
}

// BR §7.1.4.2: the subject holds only verified information, and (BR
// §7.1.2.7.4) no metadata that could mislead. A value that carries another
// attribute of a distinguished name ("Acme Ltd, C=US") is refused in every
// field a person types, naming that field; real legal names keep their
// commas, periods, ampersands, apostrophes, hyphens and parentheses.
func TestDNFragmentRule(t *testing.T) {
	set := map[string]func(*Fields, string){
		"organizationName":    func(f *Fields, v string) { f.OrganizationName = v },
		"localityName":        func(f *Fields, v string) { f.LocalityName = v },
		"stateOrProvinceName": func(f *Fields, v string) { f.StateOrProvinceName = v },
		"streetAddress":       func(f *Fields, v string) { f.StreetAddress = v },
		"postalCode":          func(f *Fields, v string) { f.PostalCode = v },
		"registrationNumber":  func(f *Fields, v string) { f.RegistrationNumber = v },
	}
	refused := []struct{ field, value string }{
		{"organizationName", "Acme Ltd, C=US"},
		{"organizationName", "O=Acme"},
		{"organizationName", "CN=evil.com"},
		{"organizationName", "Acme/OU=x"},
		{"organizationName", "Acme+serialNumber=1"},
		{"organizationName", "Acme Ltd , c = US"},
		{"organizationName", "Acme; cn=evil.com"},
		{"organizationName", "Acme, STREET=1 Main St"},
		{"organizationName", "Acme, SERIALNUMBER=1"},
		{"organizationName", "Acme, DC=com"},
		{"organizationName", "Acme, UID=x"},
		{"organizationName", "Acme, E=admin@evil.com"},
		{"organizationName", "Acme, emailAddress=admin@evil.com"},
		{"organizationName", "Acme, postalCode=94105"},
		{"organizationName", "Acme, businessCategory=Private Organization"},
		{"organizationName", "Acme, jurisdictionC=US"},
		{"organizationName", "Acme, jurisdictionST=Delaware"},
		{"organizationName", "Acme, jurisdictionL=Dover"},
		{"organizationName", "Acme, organizationIdentifier=NTRUS-1"},
		{"organizationName", "Acme, 2.5.4.3=evil.com"},
		{"organizationName", "Acme, OID.2.5.4.6=US"},
		{"localityName", "San Francisco, ST=California"},
		{"localityName", "L=San Francisco"},
		{"stateOrProvinceName", "California, C=US"},
		{"streetAddress", "1 Market Street, O=Other Corp"},
		{"postalCode", "postalCode=94105"},
		{"registrationNumber", "C3456, serialNumber=1"},
	}
	for _, c := range refused {
		t.Run("refused "+c.field+" "+c.value, func(t *testing.T) {
			f := valid()
			set[c.field](&f, c.value)
			e, ok := apperr.As(f.Validate())
			if !ok || e.Kind != apperr.KindInvalid || e.Field != c.field || e.Code != "dn_fragment" {
				t.Fatalf("want 400 dn_fragment naming %s, got %v", c.field, e)
			}
		})
	}
	accepted := []struct{ field, value string }{
		{"organizationName", "Example, Inc."},
		{"organizationName", "Smith & Sons, LLC"},
		{"organizationName", "O'Brien (UK) Ltd."},
		{"organizationName", "AT&T Inc."},
		{"organizationName", "Ben & Jerry's Homemade, Inc."},
		{"organizationName", "Müller & Söhne GmbH & Co. KG"},
		{"organizationName", "1-800-Flowers.com, Inc."},
		{"organizationName", "E.ON SE"},
		{"localityName", "Stratford-upon-Avon"},
		{"localityName", "Washington, D.C."},
		{"streetAddress", "Suite 5, 1 Market Street"},
		{"streetAddress", "c/o Acme, P.O. Box 12"},
		{"postalCode", "94105-1234"},
		{"registrationNumber", "HRB 12345 B"},
	}
	for _, c := range accepted {
		t.Run("accepted "+c.field+" "+c.value, func(t *testing.T) {
			f := valid()
			set[c.field](&f, c.value)
			if err := f.Validate(); err != nil {
				t.Fatalf("a real name was refused: %v", err)
			}
		})
	}
}
