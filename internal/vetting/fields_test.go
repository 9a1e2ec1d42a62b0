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
		code  string
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
		{"DN fragment comma", func(f *Fields) { f.OrganizationName = "Example, C=US" }, "organizationName", "dn_fragment"},
		{"DN fragment equals", func(f *Fields) { f.OrganizationName = "O=Example" }, "organizationName", "dn_fragment"},
		{"DN fragment plus", func(f *Fields) { f.LocalityName = "A+B" }, "localityName", "dn_fragment"},
		{"DN fragment semicolon", func(f *Fields) { f.OrganizationName = "A;B" }, "organizationName", "dn_fragment"},
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
