package br

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/iso3166"
)

// Reserved certificate policy identifiers (BR §7.1.6.1). An OV subscriber
// certificate MUST assert OVPolicyOID (BR §7.1.2.7.9).
const (
	DVPolicyOID = "2.23.140.1.2.1" // domain-validated
	OVPolicyOID = "2.23.140.1.2.2" // organization-validated
	IVPolicyOID = "2.23.140.1.2.3" // individual-validated
	EVPolicyOID = "2.23.140.1.1"   // extended-validation
)

// OVPolicy returns OVPolicyOID (BR §7.1.6.1) as an x509.OID, for
// x509.Certificate.Policies (Go 1.24+ ignores PolicyIdentifiers when
// signing).
func OVPolicy() x509.OID {
	oid, err := x509.ParseOID(OVPolicyOID)
	if err != nil {
		panic("br: OVPolicyOID does not parse: " + err.Error())
	}
	return oid
}

// Error codes of the subject rules.
const (
	CodeAttributeNotAllowed = apperr.CodeAttributeNotAllowed // not in the OV subject profile (e.g. organizationalUnitName)
	CodeAttributeMissing    = apperr.CodeAttributeMissing    // a MUST attribute is absent
	CodeAttributeOrder      = apperr.CodeAttributeOrder      // not in BR §7.1.4.2 order
	CodeAttributeRepeated   = apperr.CodeAttributeRepeated   // repeated without being allowed to
	CodeMultiValuedRDN      = apperr.CodeMultiValuedRDN      // an RDN with more than one attribute
	CodeAttributeEmpty      = apperr.CodeAttributeEmpty      // empty or blank
	CodeAttributeTooLong    = apperr.CodeAttributeTooLong    // over the BR §7.1.4.2 maximum
	CodeAttributeWhitespace = apperr.CodeAttributeWhitespace // leading or trailing white space
	CodeAttributeCharacter  = apperr.CodeAttributeCharacter  // control or invalid UTF-8 characters
	CodePlaceholderValue    = apperr.CodePlaceholderValue    // only metadata, or a known placeholder
	CodeInvalidCountry      = apperr.CodeInvalidCountry      // not an assigned ISO 3166-1 alpha-2 code
)

// Attribute describes one subject attribute of vetca's OV profile: the
// attributes BR §7.1.2.7.4 permits for Organization Validated certificates
// that vetca verifies, with their BR §7.1.4.2 encoding limits.
type Attribute struct {
	JSONName   string // the API's field name (docs/api.md), e.g. "countryName"
	ShortName  string // the RFC 4514 short name, e.g. "C"
	OID        string // dotted attribute type
	MaxLength  int    // maximum length in characters (BR §7.1.4.2)
	Repeatable bool   // may appear more than once (streetAddress only; BR §7.1.2.7.4)
}

// OVSubjectAttributes returns the attributes vetca's OV profile may put in a
// subject, in the order BR §7.1.4.2 requires them to be encoded: C, ST, L,
// postalCode, street, O, CN. (domainComponent, which the BR permits before C,
// is not used: vetca does not vet it.) Presence (BR §7.1.2.7.4):
// countryName and organizationName MUST be present; stateOrProvinceName MUST
// be present if localityName is absent and vice versa; postalCode and
// streetAddress are NOT RECOMMENDED; commonName is NOT RECOMMENDED and, if
// present, is one of the SAN dNSNames (§7.1.4.3).
func OVSubjectAttributes() []Attribute {
	return []Attribute{
		{"countryName", "C", "2.5.4.6", 2, false},
		{"stateOrProvinceName", "ST", "2.5.4.8", 128, false},
		{"localityName", "L", "2.5.4.7", 128, false},
		{"postalCode", "postalCode", "2.5.4.17", 40, false},
		{"streetAddress", "street", "2.5.4.9", 128, true},
		{"organizationName", "O", "2.5.4.10", 64, false},
		{"commonName", "CN", "2.5.4.3", 64, false},
	}
}

// AttributeByJSONName returns the OV attribute (BR §7.1.2.7.4) with the given
// API field name and its position in the BR §7.1.4.2 order.
func AttributeByJSONName(name string) (Attribute, int, bool) {
	for i, a := range OVSubjectAttributes() {
		if a.JSONName == name {
			return a, i, true
		}
	}
	return Attribute{}, -1, false
}

// AttributeByOID returns the OV attribute with the given dotted OID and its
// position in the BR §7.1.4.2 order.
func AttributeByOID(oid string) (Attribute, int, bool) {
	for i, a := range OVSubjectAttributes() {
		if a.OID == oid {
			return a, i, true
		}
	}
	return Attribute{}, -1, false
}

// AttributeName returns the JSON name errors use for an attribute type:
// the OV names above, the usual names of attributes the OV profile refuses
// (organizationalUnitName, which BR §7.1.2.7.4 says MUST NOT be present,
// givenName, surname, serialNumber, emailAddress, ...), or the dotted OID.
func AttributeName(oid string) string {
	if a, _, ok := AttributeByOID(oid); ok {
		return a.JSONName
	}
	switch oid {
	case "2.5.4.11":
		return "organizationalUnitName"
	case "2.5.4.4":
		return "surname"
	case "2.5.4.42":
		return "givenName"
	case "2.5.4.5":
		return "serialNumber"
	case "2.5.4.12":
		return "title"
	case "2.5.4.15":
		return "businessCategory"
	case "2.5.4.97":
		return "organizationIdentifier"
	case "2.5.4.65":
		return "pseudonym"
	case "1.2.840.113549.1.9.1":
		return "emailAddress"
	case "0.9.2342.19200300.100.1.25":
		return "domainComponent"
	case "1.3.6.1.4.1.311.60.2.1.1":
		return "jurisdictionLocalityName"
	case "1.3.6.1.4.1.311.60.2.1.2":
		return "jurisdictionStateOrProvinceName"
	case "1.3.6.1.4.1.311.60.2.1.3":
		return "jurisdictionCountryName"
	}
	return oid
}

// CheckOVSubjectValue checks one attribute value of an OV subject and returns
// an apperr.Invalid error naming the attribute's JSON name:
//
//   - the attribute is one of OVSubjectAttributes (BR §7.1.2.7.4);
//   - the value is not empty and has no leading or trailing white space and
//     no control characters (zlint warns on the former);
//   - it fits the BR §7.1.4.2 maximum length, counted in characters;
//   - countryName is an assigned ISO 3166-1 alpha-2 code in upper case; the
//     user-assigned XX of BR §7.1.2.7.4 is refused (docs/design.md §3);
//   - other values are not placeholders (IsPlaceholder; BR §7.1.2.7.4: no
//     value that "contain[s] only metadata ... and/or any other indication
//     that the value is absent, incomplete, or not applicable");
//   - and carry no other attribute ("Acme Ltd, C=US"; DNFragment).
func CheckOVSubjectValue(jsonName, value string) error {
	a, _, ok := AttributeByJSONName(jsonName)
	if !ok {
		return apperr.Invalid(CodeAttributeNotAllowed, jsonName,
			"%s is not allowed in an OV certificate subject (BR §7.1.2.7.4)", jsonName)
	}
	if !utf8.ValidString(value) {
		return apperr.Invalid(CodeAttributeCharacter, jsonName, "%s is not valid UTF-8", jsonName)
	}
	if strings.TrimSpace(value) == "" {
		return apperr.Invalid(CodeAttributeEmpty, jsonName, "%s is empty", jsonName)
	}
	if strings.TrimSpace(value) != value {
		return apperr.Invalid(CodeAttributeWhitespace, jsonName, "%s has leading or trailing white space", jsonName)
	}
	for _, r := range value {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return apperr.Invalid(CodeAttributeCharacter, jsonName, "%s contains a control character (%U)", jsonName, r)
		}
	}
	if n := utf8.RuneCountInString(value); n > a.MaxLength {
		return apperr.Invalid(CodeAttributeTooLong, jsonName,
			"%s has %d characters; BR §7.1.4.2 allows at most %d", jsonName, n, a.MaxLength)
	}
	if jsonName == "countryName" {
		return checkCountry(value)
	}
	if IsPlaceholder(value) {
		return apperr.Invalid(CodePlaceholderValue, jsonName,
			"%s %q is a placeholder, not verified information (BR §7.1.2.7.4)", jsonName, value)
	}
	return CheckNoDNFragment(jsonName, value)
}

func checkCountry(c string) error {
	if c == "XX" {
		return apperr.Invalid(CodeInvalidCountry, "countryName",
			"XX is not accepted: every country must be a real ISO 3166-1 code")
	}
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return apperr.Invalid(CodeInvalidCountry, "countryName",
			"countryName %q is not an upper-case ISO 3166-1 alpha-2 code (BR §7.1.4.2: PrintableString, 2 characters)", c)
	}
	if _, ok := iso3166.LookupCountry(c); !ok {
		return apperr.Invalid(CodeInvalidCountry, "countryName", "countryName %q is not an assigned ISO 3166-1 code", c)
	}
	return nil
}

// CheckOVSubject checks a whole subject against vetca's OV profile and
// returns an apperr.Invalid error naming the first offending attribute:
//
//   - each RDN holds exactly one attribute (BR §7.1.4.2);
//   - only OVSubjectAttributes appear (BR §7.1.2.7.4; e.g.
//     organizationalUnitName MUST NOT);
//   - they appear in BR §7.1.4.2 order (C, ST, L, postalCode, street, O, CN)
//     and none repeats except streetAddress (BR §7.1.4.1, §7.1.2.7.4);
//   - every value passes CheckOVSubjectValue;
//   - countryName and organizationName are present, and stateOrProvinceName
//     or localityName (BR §7.1.2.7.4).
//
// It does not check the string encodings (PrintableString, UTF8String);
// zlint's e_subject_dn_* lints do. It does not compare values with the
// vetted organization; that is the issuer's own lint.
func CheckOVSubject(rdns pkix.RDNSequence) error {
	last := -1
	seen := map[string]bool{}
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			name := "subject"
			if len(rdn) > 0 {
				name = AttributeName(rdn[0].Type.String())
			}
			return apperr.Invalid(CodeMultiValuedRDN, name,
				"each RDN must hold exactly one attribute (BR §7.1.4.2); found %d", len(rdn))
		}
		atv := rdn[0]
		oid := atv.Type.String()
		a, pos, ok := AttributeByOID(oid)
		if !ok {
			n := AttributeName(oid)
			return apperr.Invalid(CodeAttributeNotAllowed, n,
				"%s is not allowed in an OV certificate subject (BR §7.1.2.7.4)", n)
		}
		if pos < last {
			return apperr.Invalid(CodeAttributeOrder, a.JSONName,
				"%s is out of order; BR §7.1.4.2 requires C, ST, L, postalCode, street, O, CN", a.JSONName)
		}
		if seen[a.JSONName] && !a.Repeatable {
			return apperr.Invalid(CodeAttributeRepeated, a.JSONName,
				"%s appears more than once (BR §7.1.4.1)", a.JSONName)
		}
		last, seen[a.JSONName] = pos, true
		v, ok := atv.Value.(string)
		if !ok {
			return apperr.Invalid(CodeAttributeCharacter, a.JSONName, "%s is not a string", a.JSONName)
		}
		if err := CheckOVSubjectValue(a.JSONName, v); err != nil {
			return err
		}
	}
	for _, must := range []string{"countryName", "organizationName"} {
		if !seen[must] {
			return apperr.Invalid(CodeAttributeMissing, must, "%s MUST be present in an OV subject (BR §7.1.2.7.4)", must)
		}
	}
	if !seen["stateOrProvinceName"] && !seen["localityName"] {
		return apperr.Invalid(CodeAttributeMissing, "localityName",
			"an OV subject needs localityName or stateOrProvinceName (BR §7.1.2.7.4)")
	}
	return nil
}

// IsPlaceholder reports whether a subject attribute value says nothing: it
// is empty or consists only of metadata such as '.', '-' and ' ' (BR
// §7.1.2.7.4: "subject Attributes MUST NOT contain only metadata such as
// '.', '-', and ' ' (i.e. space) characters, and/or any other indication that
// the value is absent, incomplete, or not applicable"), or it is one of the
// values CAs were caught issuing with (KnownPlaceholders). The comparison
// trims, ignores case, and ignores punctuation and spacing, so "N/A", "n.a."
// and "NA" are the same, as are "Some-State" and "some state".
//
// countryName is checked against ISO 3166 instead (CheckOVSubjectValue),
// because "NA" is Namibia there.
func IsPlaceholder(value string) bool {
	k := placeholderKey(value)
	if k == "" {
		return true // nothing but metadata
	}
	for _, p := range KnownPlaceholders() {
		if placeholderKey(p) == k {
			return true
		}
	}
	return false
}

// placeholderKey folds a value to its letters and digits, lower-cased.
func placeholderKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// KnownPlaceholders lists subject values that mean "absent" (BR
// §7.1.2.7.4) and that CAs were caught putting into certificates: the
// OpenSSL defaults (Some-State, Internet Widgits Pty Ltd), the Red Hat
// defaults (XX, Default City, Default Company Ltd), form placeholders
// (Select, Please select) and the usual words for "nothing" that CA incident
// reports list. Entries compare as IsPlaceholder describes.
func KnownPlaceholders() []string {
	return []string{
		"Some-State", "Some-City", "Some City", "Some-Organization", "Some Company",
		"Internet Widgits Pty Ltd",
		"XX", "Default City", "Default Company Ltd", "Default",
		"NA", "N/A", "n.a.", "not applicable", "not available", "no state", "no city",
		"none", "null", "nil", "unknown", "unspecified", "not specified", "not set",
		"empty", "blank", "placeholder", "TBD", "TBA", "to be determined", "test",
		"example", "sample", "other", "select", "please select", "select one", "choose",
		"state", "province", "city", "locality", "organization", "organisation", "company",
		"your company", "your company name", "company name", "my company",
		"your city", "your state", "your organization", "your organisation",
		"not provided", "not a", "void", "undefined", "missing", "TBC", "X", "XXX", "changeme",
	}
}
