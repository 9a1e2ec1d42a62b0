// Package iso3166 holds the ISO 3166-1 alpha-2 country codes and ISO 3166-2
// subdivisions, generated from Debian's iso-codes data set (see
// SourceVersion). Nothing here is typed by hand: regenerate with
// `go generate ./internal/iso3166` after updating the iso-codes package.
package iso3166

//go:generate go run ./gen -in /usr/share/iso-codes/json -out data.go

import (
	"sort"
	"strings"
)

// Country is an ISO 3166-1 entry.
type Country struct {
	Alpha2 string
	Name   string
}

// Subdivision is an ISO 3166-2 entry. Code is "CC-XXX"; Parent, when set, is
// the code of the enclosing subdivision.
type Subdivision struct {
	Code   string
	Name   string
	Type   string
	Parent string
}

// LookupCountry returns the country with the given upper-case alpha-2 code.
// User-assigned codes such as XX are not in the data set and are not found.
func LookupCountry(alpha2 string) (Country, bool) {
	i := sort.Search(len(countries), func(i int) bool { return countries[i].Alpha2 >= alpha2 })
	if i < len(countries) && countries[i].Alpha2 == alpha2 {
		return countries[i], true
	}
	return Country{}, false
}

// Countries returns every country, sorted by code.
func Countries() []Country {
	return append([]Country(nil), countries...)
}

// Subdivisions returns the subdivisions of a country, sorted by code.
func Subdivisions(alpha2 string) []Subdivision {
	prefix := alpha2 + "-"
	i := sort.Search(len(subdivisions), func(i int) bool { return subdivisions[i].Code >= prefix })
	var out []Subdivision
	for ; i < len(subdivisions) && strings.HasPrefix(subdivisions[i].Code, prefix); i++ {
		out = append(out, subdivisions[i])
	}
	return out
}

// HasSubdivisions reports whether ISO 3166-2 lists any subdivision for the country.
func HasSubdivisions(alpha2 string) bool { return len(Subdivisions(alpha2)) > 0 }

// LookupSubdivision finds a subdivision of country by its ISO 3166-2 name
// (compared case-insensitively), by its full code ("US-CA") or by the part
// of the code after the hyphen ("CA"). It returns the canonical entry.
func LookupSubdivision(alpha2, value string) (Subdivision, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return Subdivision{}, false
	}
	for _, s := range Subdivisions(alpha2) {
		if strings.EqualFold(s.Name, v) || strings.EqualFold(s.Code, v) || strings.EqualFold(s.Code[len(alpha2)+1:], v) {
			return s, true
		}
	}
	return Subdivision{}, false
}

// IsSubdivisionName reports whether name is exactly (case-sensitively) the
// ISO 3166-2 name of a subdivision of country. Certificates carry the
// canonical name, so lints use this strict form.
func IsSubdivisionName(alpha2, name string) bool {
	for _, s := range Subdivisions(alpha2) {
		if s.Name == name {
			return true
		}
	}
	return false
}
