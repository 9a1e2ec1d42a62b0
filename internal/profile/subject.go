package profile

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
)

// Subject is the identity that goes into an OV certificate's subject. It is
// built from a verified organization version (and, for commonName, from one
// of the order's DNS names); the profile never takes free text from a CSR.
// An empty string means the attribute is absent.
type Subject struct {
	CountryName         string `json:"countryName,omitempty"`
	StateOrProvinceName string `json:"stateOrProvinceName,omitempty"`
	LocalityName        string `json:"localityName,omitempty"`
	PostalCode          string `json:"postalCode,omitempty"`
	StreetAddress       string `json:"streetAddress,omitempty"`
	OrganizationName    string `json:"organizationName,omitempty"`
	CommonName          string `json:"commonName,omitempty"`
}

// Attribute type OIDs of the subject attributes vetca issues (X.520, RFC 5280
// Appendix A). They are functions so that no caller can mutate a shared slice.
func oidCountryName() asn1.ObjectIdentifier         { return asn1.ObjectIdentifier{2, 5, 4, 6} }
func oidStateOrProvinceName() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 4, 8} }
func oidLocalityName() asn1.ObjectIdentifier        { return asn1.ObjectIdentifier{2, 5, 4, 7} }
func oidPostalCode() asn1.ObjectIdentifier          { return asn1.ObjectIdentifier{2, 5, 4, 17} }
func oidStreetAddress() asn1.ObjectIdentifier       { return asn1.ObjectIdentifier{2, 5, 4, 9} }
func oidOrganizationName() asn1.ObjectIdentifier    { return asn1.ObjectIdentifier{2, 5, 4, 10} }
func oidCommonName() asn1.ObjectIdentifier          { return asn1.ObjectIdentifier{2, 5, 4, 3} }

// AttributeSpec describes one subject attribute of the profile: its JSON
// field name in the API, its OID, and the BR §7.1.4.2 upper bound on its
// length in characters.
type AttributeSpec struct {
	Field  string
	OID    asn1.ObjectIdentifier
	MaxLen int
}

// AttributeOrder returns the subject attributes vetca issues, in the order
// BR §7.1.4.2 requires them to appear (C, ST, L, postalCode, street, O, CN;
// domainComponent, serialNumber, givenName, surname and OU are never issued by
// this profile). MaxLen is the §7.1.4.2 limit: countryName 2, ST/L/street 128,
// postalCode 40, O and CN 64. A fresh slice is returned on every call.
func AttributeOrder() []AttributeSpec {
	return []AttributeSpec{
		{Field: "countryName", OID: oidCountryName(), MaxLen: 2},
		{Field: "stateOrProvinceName", OID: oidStateOrProvinceName(), MaxLen: 128},
		{Field: "localityName", OID: oidLocalityName(), MaxLen: 128},
		{Field: "postalCode", OID: oidPostalCode(), MaxLen: 40},
		{Field: "streetAddress", OID: oidStreetAddress(), MaxLen: 128},
		{Field: "organizationName", OID: oidOrganizationName(), MaxLen: 64},
		{Field: "commonName", OID: oidCommonName(), MaxLen: 64},
	}
}

// LookupAttribute returns the spec of the attribute with the given OID, if
// the profile knows it.
func LookupAttribute(oid asn1.ObjectIdentifier) (AttributeSpec, bool) {
	for _, a := range AttributeOrder() {
		if a.OID.Equal(oid) {
			return a, true
		}
	}
	return AttributeSpec{}, false
}

// Attribute is one present subject attribute: its JSON field name, OID and
// value. Tag is the ASN.1 string type it is (or will be) encoded with.
type Attribute struct {
	Field string
	OID   asn1.ObjectIdentifier
	Value string
	Tag   int
}

// Attributes returns the present attributes of s in BR §7.1.4.2 order, with
// the string type EncodeSubject uses for each (PrintableString for
// countryName, UTF8String otherwise).
func (s Subject) Attributes() []Attribute {
	vals := []string{s.CountryName, s.StateOrProvinceName, s.LocalityName, s.PostalCode,
		s.StreetAddress, s.OrganizationName, s.CommonName}
	var out []Attribute
	for i, spec := range AttributeOrder() {
		if vals[i] == "" {
			continue
		}
		tag := asn1.TagUTF8String
		if i == 0 {
			tag = asn1.TagPrintableString
		}
		out = append(out, Attribute{Field: spec.Field, OID: spec.OID, Value: vals[i], Tag: tag})
	}
	return out
}

// Get returns the value of the attribute named by its JSON field name.
func (s Subject) Get(field string) (string, bool) {
	switch field {
	case "countryName":
		return s.CountryName, true
	case "stateOrProvinceName":
		return s.StateOrProvinceName, true
	case "localityName":
		return s.LocalityName, true
	case "postalCode":
		return s.PostalCode, true
	case "streetAddress":
		return s.StreetAddress, true
	case "organizationName":
		return s.OrganizationName, true
	case "commonName":
		return s.CommonName, true
	}
	return "", false
}

// String renders s as a one-line DN in issuance order, for logs and messages.
func (s Subject) String() string {
	short := map[string]string{"countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
		"postalCode": "postalCode", "streetAddress": "street", "organizationName": "O", "commonName": "CN"}
	var parts []string
	for _, a := range s.Attributes() {
		parts = append(parts, short[a.Field]+"="+a.Value)
	}
	return strings.Join(parts, ", ")
}

// Validate checks the encoding rules of BR §7.1.4.2 for every present
// attribute: countryName is two upper-case letters (PrintableString), the
// others are valid UTF-8 within their maximum length and hold no control
// characters and no leading or trailing white space. The error is an
// *apperr.Error naming the attribute's JSON field.
func (s Subject) Validate() error {
	specs := AttributeOrder()
	vals := []string{s.CountryName, s.StateOrProvinceName, s.LocalityName, s.PostalCode,
		s.StreetAddress, s.OrganizationName, s.CommonName}
	for i, v := range vals {
		if v == "" {
			continue
		}
		spec := specs[i]
		if i == 0 {
			if len(v) != 2 || !isUpperAlpha(v[0]) || !isUpperAlpha(v[1]) {
				return apperr.Invalid(apperr.CodeInvalidCountry, spec.Field,
					"countryName must be an upper-case ISO 3166-1 alpha-2 code (BR §7.1.4.2), got %q", v)
			}
			continue
		}
		if !utf8.ValidString(v) {
			return apperr.Invalid(apperr.CodeInvalidEncoding, spec.Field, "%s is not valid UTF-8", spec.Field)
		}
		if n := utf8.RuneCountInString(v); n > spec.MaxLen {
			return apperr.Invalid(apperr.CodeTooLong, spec.Field,
				"%s is %d characters; BR §7.1.4.2 allows at most %d", spec.Field, n, spec.MaxLen)
		}
		for _, r := range v {
			if unicode.IsControl(r) || r == utf8.RuneError {
				return apperr.Invalid(apperr.CodeInvalidCharacter, spec.Field,
					"%s contains the control character %U", spec.Field, r)
			}
		}
		if strings.TrimSpace(v) != v {
			return apperr.Invalid(apperr.CodeInvalidWhitespace, spec.Field,
				"%s has leading or trailing white space", spec.Field)
		}
	}
	return nil
}

func isUpperAlpha(b byte) bool { return b >= 'A' && b <= 'Z' }

// EncodeSubject returns the DER encoding of s as an X.501 Name in the order
// BR §7.1.4.2 requires: C, ST, L, postalCode, street, O, CN, each in its own
// RelativeDistinguishedName with exactly one AttributeTypeAndValue (§7.1.4.1).
// countryName is a PrintableString and every other attribute a UTF8String.
// Absent (empty) attributes are left out. Go's pkix.Name cannot be used for
// this: it marshals its attributes in its own fixed order.
func EncodeSubject(s Subject) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	attrs := s.Attributes()
	if len(attrs) == 0 {
		return nil, apperr.Invalid(apperr.CodeEmptySubject, "subject", "the subject has no attributes")
	}
	seq := make(pkix.RDNSequence, 0, len(attrs))
	for _, a := range attrs {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{
			Type:  a.OID,
			Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.Tag, Bytes: []byte(a.Value)},
		}})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("profile: encoding subject: %w", err)
	}
	return der, nil
}

// NameAttribute is one AttributeTypeAndValue of a decoded Name, with the
// position of its RDN, the number of attributes in that RDN, and the ASN.1
// tag its value was encoded with.
type NameAttribute struct {
	RDN     int
	RDNSize int
	OID     asn1.ObjectIdentifier
	Tag     int
	Value   string
}

// DecodeName parses a DER X.501 Name (for example a certificate's
// RawSubject) into its attributes in encoded order, keeping the RDN
// structure and string types that pkix.Name throws away. Values that are not
// strings are returned with their raw content bytes as Value.
func DecodeName(der []byte) ([]NameAttribute, error) {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, fmt.Errorf("profile: decoding name: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("profile: decoding name: %d trailing bytes", len(rest))
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence || !raw.IsCompound {
		return nil, fmt.Errorf("profile: decoding name: not a SEQUENCE")
	}
	var out []NameAttribute
	body := raw.Bytes
	for rdn := 0; len(body) > 0; rdn++ {
		var set asn1.RawValue
		body, err = asn1.Unmarshal(body, &set)
		if err != nil {
			return nil, fmt.Errorf("profile: decoding RDN %d: %w", rdn, err)
		}
		if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet {
			return nil, fmt.Errorf("profile: decoding RDN %d: not a SET", rdn)
		}
		var atvs []NameAttribute
		inner := set.Bytes
		for len(inner) > 0 {
			var atv struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}
			inner, err = asn1.Unmarshal(inner, &atv)
			if err != nil {
				return nil, fmt.Errorf("profile: decoding RDN %d: %w", rdn, err)
			}
			atvs = append(atvs, NameAttribute{RDN: rdn, OID: atv.Type, Tag: atv.Value.Tag, Value: string(atv.Value.Bytes)})
		}
		if len(atvs) == 0 {
			return nil, fmt.Errorf("profile: decoding RDN %d: empty SET", rdn)
		}
		for i := range atvs {
			atvs[i].RDNSize = len(atvs)
		}
		out = append(out, atvs...)
	}
	return out, nil
}
