package br

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

func TestOVPolicy(t *testing.T) {
	// BR §7.1.6.1.
	if got := OVPolicy().String(); got != "2.23.140.1.2.2" {
		t.Fatalf("OV policy OID = %s", got)
	}
}

func TestOVSubjectAttributeOrder(t *testing.T) {
	// BR §7.1.4.2 order restricted to what the OV profile uses.
	var got []string
	for _, a := range OVSubjectAttributes() {
		got = append(got, a.ShortName)
	}
	if strings.Join(got, ",") != "C,ST,L,postalCode,street,O,CN" {
		t.Fatalf("order %v", got)
	}
	// BR §7.1.4.2 maximum lengths.
	want := map[string]int{"countryName": 2, "stateOrProvinceName": 128, "localityName": 128,
		"postalCode": 40, "streetAddress": 128, "organizationName": 64, "commonName": 64}
	for name, n := range want {
		a, _, ok := AttributeByJSONName(name)
		if !ok || a.MaxLength != n {
			t.Errorf("%s: max length %d, want %d", name, a.MaxLength, n)
		}
	}
}

func TestIsPlaceholder(t *testing.T) {
	// BR §7.1.2.7.4: metadata only, or any indication that the value is
	// absent, incomplete or not applicable.
	yes := []string{
		"", " ", ".", "-", "--", " - ", "...", "_", "*", "?", "N/A", "n/a", "NA", "n.a.", "Not Applicable",
		"Some-State", "some state", "SOME-STATE", "Default City", "Default Company Ltd", "Internet Widgits Pty Ltd",
		"unknown", "None", "null", "NULL", "test", "TBD", "XX", "xx", " none ", "Please select", "-- select --",
	}
	no := []string{
		"Bavaria", "Berlin", "Example Holdings GmbH", "Test Labs Inc.", "Nairobi", "NASA", "Nan", "3M",
		"Ünterföhring", "Île-de-France", "東京都", "St. Gallen", "Co. Clare", "Unknown Pleasures Ltd",
	}
	for _, v := range yes {
		if !IsPlaceholder(v) {
			t.Errorf("IsPlaceholder(%q) = false", v)
		}
	}
	for _, v := range no {
		if IsPlaceholder(v) {
			t.Errorf("IsPlaceholder(%q) = true", v)
		}
	}
}

func TestCheckOVSubjectValue(t *testing.T) {
	cases := []struct {
		field, value string
		code         apperr.Code
	}{
		{"organizationName", "Example Holdings GmbH", ""},
		{"organizationName", strings.Repeat("a", 64), ""},
		{"organizationName", strings.Repeat("é", 64), ""}, // characters, not bytes
		{"organizationName", strings.Repeat("a", 65), CodeAttributeTooLong},
		{"postalCode", strings.Repeat("1", 40), ""},
		{"postalCode", strings.Repeat("1", 41), CodeAttributeTooLong},
		{"localityName", strings.Repeat("x", 129), CodeAttributeTooLong},
		{"stateOrProvinceName", "Some-State", CodePlaceholderValue},
		{"localityName", "Default City", CodePlaceholderValue},
		{"organizationName", "-", CodePlaceholderValue},
		{"organizationName", "", CodeAttributeEmpty},
		{"organizationName", "   ", CodeAttributeEmpty},
		{"organizationName", " Example", CodeAttributeWhitespace},
		{"organizationName", "Exa\x00mple", CodeAttributeCharacter},
		{"organizationName", "Exa\nmple", CodeAttributeCharacter},
		{"organizationName", "bad \xff utf8", CodeAttributeCharacter},
		{"organizationalUnitName", "IT", CodeAttributeNotAllowed},
		{"countryName", "DE", ""},
		{"countryName", "NA", ""}, // Namibia, not "not applicable"
		{"countryName", "MM", ""},
		{"countryName", "XX", CodeInvalidCountry},
		{"countryName", "de", CodeInvalidCountry},
		{"countryName", "DEU", CodeAttributeTooLong},
		{"countryName", "ZZ", CodeInvalidCountry},
		{"countryName", "D1", CodeInvalidCountry},
	}
	for _, c := range cases {
		err := CheckOVSubjectValue(c.field, c.value)
		if c.code == "" {
			if err != nil {
				t.Errorf("%s=%q: %v", c.field, c.value, err)
			}
			continue
		}
		wantAppErr(t, err, apperr.KindInvalid, c.field, c.code)
	}
}

func rdns(pairs ...string) pkix.RDNSequence {
	oids := map[string]asn1.ObjectIdentifier{
		"C": {2, 5, 4, 6}, "ST": {2, 5, 4, 8}, "L": {2, 5, 4, 7}, "postalCode": {2, 5, 4, 17},
		"street": {2, 5, 4, 9}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "CN": {2, 5, 4, 3},
		"serialNumber": {2, 5, 4, 5}, "x": {1, 2, 3, 4},
	}
	var seq pkix.RDNSequence
	for i := 0; i+1 < len(pairs); i += 2 {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oids[pairs[i]], Value: pairs[i+1]}})
	}
	return seq
}

func TestCheckOVSubject(t *testing.T) {
	multi := rdns("C", "DE", "O", "Example GmbH")
	multi = append(multi, pkix.RelativeDistinguishedNameSET{
		{Type: asn1.ObjectIdentifier{2, 5, 4, 7}, Value: "Berlin"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 8}, Value: "Berlin"},
	})
	cases := []struct {
		name  string
		seq   pkix.RDNSequence
		field string
		code  apperr.Code
	}{
		{"BR §7.1.4.2 full OV subject in order",
			rdns("C", "DE", "ST", "Bayern", "L", "München", "postalCode", "80331", "street", "Marienplatz 1", "street", "Rathaus", "O", "Example GmbH", "CN", "www.example.com"), "", ""},
		{"BR §7.1.2.7.4 minimal: C, L, O", rdns("C", "DE", "L", "Berlin", "O", "Example GmbH"), "", ""},
		{"BR §7.1.2.7.4 minimal: C, ST, O", rdns("C", "DE", "ST", "Berlin", "O", "Example GmbH"), "", ""},
		{"BR §7.1.4.2 O before C", rdns("O", "Example GmbH", "C", "DE", "L", "Berlin"), "countryName", CodeAttributeOrder},
		{"BR §7.1.4.2 CN before O", rdns("C", "DE", "L", "Berlin", "CN", "www.example.com", "O", "Example GmbH"), "organizationName", CodeAttributeOrder},
		{"BR §7.1.4.2 L before ST", rdns("C", "DE", "L", "Berlin", "ST", "Berlin", "O", "Example GmbH"), "stateOrProvinceName", CodeAttributeOrder},
		{"BR §7.1.2.7.4 OU MUST NOT", rdns("C", "DE", "L", "Berlin", "O", "Example GmbH", "OU", "IT"), "organizationalUnitName", CodeAttributeNotAllowed},
		{"BR §7.1.2.7.4 serialNumber not in the OV profile", rdns("C", "DE", "L", "Berlin", "O", "Example GmbH", "serialNumber", "HRB 1"), "serialNumber", CodeAttributeNotAllowed},
		{"unknown attribute named by OID", rdns("C", "DE", "x", "y"), "1.2.3.4", CodeAttributeNotAllowed},
		{"BR §7.1.4.1 O twice", rdns("C", "DE", "L", "Berlin", "O", "Example GmbH", "O", "Other AG"), "organizationName", CodeAttributeRepeated},
		{"BR §7.1.2.7.4 countryName MUST", rdns("L", "Berlin", "O", "Example GmbH"), "countryName", CodeAttributeMissing},
		{"BR §7.1.2.7.4 organizationName MUST", rdns("C", "DE", "L", "Berlin"), "organizationName", CodeAttributeMissing},
		{"BR §7.1.2.7.4 ST or L MUST", rdns("C", "DE", "O", "Example GmbH"), "localityName", CodeAttributeMissing},
		{"BR §7.1.2.7.4 placeholder state", rdns("C", "DE", "ST", "Some-State", "O", "Example GmbH"), "stateOrProvinceName", CodePlaceholderValue},
		{"seed 2: XX country", rdns("C", "XX", "L", "Yangon", "O", "Example Ltd"), "countryName", CodeInvalidCountry},
		{"BR §7.1.4.2 multi-valued RDN", multi, "localityName", CodeMultiValuedRDN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckOVSubject(c.seq)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantAppErr(t, err, apperr.KindInvalid, c.field, c.code)
		})
	}
}
