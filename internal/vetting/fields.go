package vetting

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/iso3166"
)

// Fields are an organization's subject identity information: the only
// source of certificate subject attributes (docs/design.md §1). JSON names
// are the API's field names (docs/api.md, Identity).
type Fields struct {
	OrganizationName    string `db:"organization_name" json:"organizationName"`
	CountryName         string `db:"country_name" json:"countryName"`
	StateOrProvinceName string `db:"state_or_province_name" json:"stateOrProvinceName"`
	LocalityName        string `db:"locality_name" json:"localityName"`
	StreetAddress       string `db:"street_address" json:"streetAddress"`
	PostalCode          string `db:"postal_code" json:"postalCode"`
	RegistrationNumber  string `db:"registration_number" json:"registrationNumber"`
}

// SubjectFieldNames are the JSON names of every identity field. A request
// that edits something else (a contact, say) and carries one of these is
// refused (docs/design.md §1; Bugzilla 1535735).
var SubjectFieldNames = []string{
	"organizationName", "countryName", "stateOrProvinceName", "localityName",
	"streetAddress", "postalCode", "registrationNumber",
	// Other subject attribute names a client might try to slip in.
	"commonName", "organizationalUnitName", "serialNumber", "jurisdictionCountryName",
	"jurisdictionStateOrProvinceName", "jurisdictionLocalityName", "businessCategory",
	"subject", "organization", "country",
}

// IsSubjectField reports whether a JSON field name names subject identity data.
func IsSubjectField(name string) bool {
	for _, n := range SubjectFieldNames {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// get returns a field's value by JSON name.
func (f *Fields) get(name string) string {
	switch name {
	case "organizationName":
		return f.OrganizationName
	case "countryName":
		return f.CountryName
	case "stateOrProvinceName":
		return f.StateOrProvinceName
	case "localityName":
		return f.LocalityName
	case "streetAddress":
		return f.StreetAddress
	case "postalCode":
		return f.PostalCode
	case "registrationNumber":
		return f.RegistrationNumber
	}
	return ""
}

// fieldOrder is the order fields are checked and diffed in.
var fieldOrder = []string{"organizationName", "countryName", "stateOrProvinceName", "localityName", "streetAddress", "postalCode", "registrationNumber"}

// maxLen are the BR §7.1.4.2 upper bounds (registrationNumber is not a
// subject attribute of an OV certificate; 64 is vetca's own bound).
var maxLen = map[string]int{
	"organizationName":    64,
	"stateOrProvinceName": 128,
	"localityName":        128,
	"streetAddress":       128,
	"postalCode":          40,
	"registrationNumber":  64,
}

// Validate checks every field and normalizes stateOrProvinceName to the
// ISO 3166-2 name. It returns the first problem as a 400 naming the field.
// Nothing is stored by the caller unless this passes.
func (f *Fields) Validate() error {
	// countryName (BR §7.1.2.7.4; docs/design.md §3).
	c := f.CountryName
	switch {
	case c == "":
		return apperr.Invalid(apperr.CodeMissingField, "countryName", "countryName is required")
	case strings.EqualFold(c, "XX"):
		return apperr.Invalid(apperr.CodeInvalidCountry, "countryName", "XX is refused: vetca accepts only a real ISO 3166-1 alpha-2 code, sanctioned countries included")
	case len(c) != 2 || c != strings.ToUpper(c):
		return apperr.Invalid(apperr.CodeInvalidCountry, "countryName", "countryName %q must be an upper-case ISO 3166-1 alpha-2 code", c)
	}
	if _, ok := iso3166.LookupCountry(c); !ok {
		return apperr.Invalid(apperr.CodeInvalidCountry, "countryName", "countryName %q is not an ISO 3166-1 alpha-2 code", c)
	}

	if f.OrganizationName == "" {
		return apperr.Invalid(apperr.CodeMissingField, "organizationName", "organizationName is required")
	}
	if f.LocalityName == "" {
		return apperr.Invalid(apperr.CodeMissingField, "localityName", "localityName is required")
	}
	for _, name := range fieldOrder {
		if name == "countryName" {
			continue
		}
		if err := checkText(name, f.get(name)); err != nil {
			return err
		}
		// A value may hold commas and periods ("Example, Inc."), but not
		// another attribute ("Acme Ltd, C=US"): BR §7.1.4.2.
		if err := br.CheckNoDNFragment(name, f.get(name)); err != nil {
			return err
		}
	}
	if f.PostalCode != "" {
		for _, r := range f.PostalCode {
			if !(r == ' ' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return apperr.Invalid(apperr.CodeInvalidPostalCode, "postalCode", "postalCode %q may hold only letters, digits, spaces and hyphens", f.PostalCode)
			}
		}
	}

	// stateOrProvinceName must name a real subdivision of the country.
	if iso3166.HasSubdivisions(c) {
		if f.StateOrProvinceName == "" {
			return apperr.Invalid(apperr.CodeMissingField, "stateOrProvinceName", "stateOrProvinceName is required for %s; give the ISO 3166-2 name or code of the subdivision", c)
		}
		s, ok := iso3166.LookupSubdivision(c, f.StateOrProvinceName)
		if !ok {
			return apperr.Invalid(apperr.CodeInvalidSubdivision, "stateOrProvinceName", "stateOrProvinceName %q is not an ISO 3166-2 subdivision of %s", f.StateOrProvinceName, c)
		}
		f.StateOrProvinceName = s.Name
	} else if f.StateOrProvinceName != "" {
		return apperr.Invalid(apperr.CodeInvalidSubdivision, "stateOrProvinceName", "ISO 3166-2 lists no subdivisions for %s; leave stateOrProvinceName empty", c)
	}
	return nil
}

// checkText applies the rules every free-text identity value obeys.
func checkText(field, v string) error {
	if v == "" {
		return nil
	}
	if !utf8.ValidString(v) {
		return apperr.Invalid(apperr.CodeInvalidText, field, "%s is not valid UTF-8", field)
	}
	if max := maxLen[field]; max > 0 && utf8.RuneCountInString(v) > max {
		return apperr.Invalid(apperr.CodeTooLong, field, "%s is longer than %d characters (BR §7.1.4.2)", field, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return apperr.Invalid(apperr.CodeControlCharacter, field, "%s contains a control or invisible formatting character (U+%04X)", field, r)
		}
	}
	if strings.TrimSpace(v) != v {
		return apperr.Invalid(apperr.CodeSurroundingSpace, field, "%s has leading or trailing white space", field)
	}
	if strings.Contains(v, "  ") {
		return apperr.Invalid(apperr.CodeDoubleSpace, field, "%s contains consecutive spaces", field)
	}
	if br.IsPlaceholder(v) {
		return apperr.Invalid(apperr.CodePlaceholderValue, field, "%s %q is a placeholder, not verified information (BR §7.1.2.7.4)", field, v)
	}
	return nil
}

// Change is one field of a version diff.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Diff lists the fields that differ between two versions' fields and
// sanctions reviews, in a fixed order.
func Diff(from, to Fields, fromReview, toReview *SanctionsReview) []Change {
	var out []Change
	for _, name := range fieldOrder {
		if a, b := from.get(name), to.get(name); a != b {
			out = append(out, Change{Field: name, From: a, To: b})
		}
	}
	if a, b := fromReview.String(), toReview.String(); a != b {
		out = append(out, Change{Field: "sanctionsReview", From: a, To: b})
	}
	return out
}
