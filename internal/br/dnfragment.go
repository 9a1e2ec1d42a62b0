package br

import (
	"strings"
	"unicode"

	"github.com/vetca/vetca/internal/apperr"
)

// CodeDNFragment is the error code of a subject value that carries another
// attribute (DNFragment).
const CodeDNFragment = apperr.CodeDNFragment

// isAttributeName reports whether lower is an attribute type name that a
// distinguished-name string may use, in lower case: the RFC 4514 §3 short
// names, the RFC 4519 and PKCS #9 names, the names OpenSSL and Windows print
// (S, G, I, T, E, SN, GN, DNQ, emailAddress, ...), and the EV jurisdiction
// names of BR §7.1.4.2 / EV Guidelines §9.2.4 in their short and long
// forms. An attribute type may also be written as a dotted OID ("2.5.4.3",
// "OID.2.5.4.3"); attributeTypeSuffix recognizes those without a table.
func isAttributeName(lower string) bool {
	switch lower {
	case "c", "countryname",
		"st", "s", "stateorprovincename",
		"l", "localityname",
		"o", "organizationname",
		"ou", "organizationalunitname",
		"cn", "commonname",
		"street", "streetaddress", "postaladdress", "postofficebox", "postalcode",
		"serialnumber",
		"sn", "surname", "gn", "g", "givenname", "i", "initials", "t", "title",
		"name", "pseudonym", "generationqualifier", "dnq", "dnqualifier",
		"uid", "userid", "uniqueidentifier", "x500uniqueidentifier",
		"dc", "domaincomponent",
		"e", "email", "emailaddress", "mail",
		"businesscategory", "organizationidentifier",
		"description", "telephonenumber", "unstructuredname", "unstructuredaddress",
		"jurisdictionc", "jurisdictionst", "jurisdictionl",
		"jurisdictioncountryname", "jurisdictionstateorprovincename", "jurisdictionlocalityname",
		"jurisdictionofincorporationcountryname", "jurisdictionofincorporationstateorprovincename",
		"jurisdictionofincorporationlocalityname":
		return true
	}
	return false
}

// DNFragment reports whether a subject attribute value carries another
// attribute: an attribute-type-and-value fragment of a distinguished name
// such as "Acme Ltd, C=US", "O=Acme", "CN=evil.com", "Acme/OU=x",
// "Acme+serialNumber=1" or "Acme, 2.5.4.3=evil.com". Such a value is not
// verified subject information and misleads whoever reads the subject as a
// string (BR §7.1.4.2: every subject attribute is verified information;
// BR §7.1.2.7.4: no metadata that could mislead). It returns the attribute
// type as written in value.
//
// A fragment is an attribute type name (any case; see isAttributeName) or
// a dotted OID, optionally prefixed "OID.", that begins the value or follows
// a character that is not a letter or digit, followed by optional white
// space and an equals sign. Full-width forms count as their ASCII
// counterparts, the equals-sign look-alikes (U+FF1D, U+FE66, U+207C, U+208C,
// U+A78A) count as '=', and so do the RFC 4514 escapes "\=" and "\3D".
//
// Real legal names keep their punctuation: "Example, Inc.", "Smith & Sons,
// LLC", "O'Brien (UK) Ltd." and "AT&T Inc." carry no fragment.
func DNFragment(value string) (string, bool) {
	return dnFragment(value, nil)
}

// dnFragment is DNFragment; when scanned is not nil it adds the number of
// characters each equals sign's backward scan examined (attributeTypeSuffix
// is linear in the part scanned), so that a test can hold the total to the
// input's length without timing it.
func dnFragment(value string, scanned *int) (string, bool) {
	if !strings.ContainsFunc(value, mayBeEquals) {
		return "", false
	}
	rs := []rune(value)
	for i, r := range rs {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			rs[i] = r - 0xFEE0
		}
	}
	for i := range rs {
		if !isEquals(rs[i]) && !isEscapedEquals(rs, i) {
			continue
		}
		j := i - 1
		for j >= 0 && (unicode.IsSpace(rs[j]) || unicode.Is(unicode.Cf, rs[j]) || rs[j] == '\\') {
			j--
		}
		end := j + 1
		for j >= 0 && isKeyChar(rs[j]) {
			j--
		}
		if scanned != nil {
			*scanned += i - (j + 1)
		}
		if attr, ok := attributeTypeSuffix(rs[j+1 : end]); ok {
			return attr, true
		}
	}
	return "", false
}

// maxNameLength is the length of the longest name isAttributeName knows.
const maxNameLength = len("jurisdictionofincorporationstateorprovincename")

// attributeTypeSuffix returns the longest suffix of token that begins the
// token or follows a separator ("Inc.CN", "Acme-OU") and is an attribute
// type name or a dotted OID. It runs in time linear in len(token), however
// hostile the token.
func attributeTypeSuffix(token []rune) (string, bool) {
	// The numeric OIDs among the suffixes all lie within the run of digits
	// and dots that ends the token: note where it begins, where its last
	// dot and its last empty arc are.
	digitsFrom, lastDot, lastEmpty := len(token), -1, -1
	for digitsFrom > 0 && (isDigit(token[digitsFrom-1]) || token[digitsFrom-1] == '.') {
		digitsFrom--
	}
	for i := digitsFrom; i < len(token); i++ {
		if token[i] == '.' {
			lastDot = max(lastDot, i)
			if i+1 == len(token) || token[i+1] == '.' {
				lastEmpty = i
			}
		}
	}
	// token[start:] is a numericoid (RFC 4512 §1.4: number 1*( DOT number ))
	// when it lies in that run, starts with a digit, has a dot and no empty
	// arc.
	numericOID := func(start int) bool {
		return start >= digitsFrom && start < len(token) && isDigit(token[start]) && start < lastDot && start > lastEmpty
	}
	for k := range token {
		if k > 0 && !isKeySeparator(token[k-1]) {
			continue
		}
		rest := token[k:]
		if len(rest) <= maxNameLength && isAttributeName(strings.ToLower(string(rest))) {
			return string(rest), true
		}
		start := k
		if len(rest) > 4 && strings.EqualFold(string(rest[:4]), "oid.") {
			start += 4
		}
		if numericOID(start) {
			return string(rest), true
		}
	}
	return "", false
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// CheckNoDNFragment returns a 400 naming field when value carries another
// attribute (DNFragment).
func CheckNoDNFragment(field, value string) error {
	if attr, ok := DNFragment(value); ok {
		return apperr.Invalid(CodeDNFragment, field,
			"%s %q carries another attribute (%s=...) of a distinguished name; enter only the verified %s (BR §7.1.4.2)",
			field, value, attr, field)
	}
	return nil
}

// mayBeEquals is a fast filter: every fragment holds one of these.
func mayBeEquals(r rune) bool { return isEquals(r) || r == '\\' }

func isEquals(r rune) bool {
	switch r {
	case '=', '\uFF1D', '\uFE66', '\u207C', '\u208C', '\uA78A':
		return true
	}
	return false
}

// isEscapedEquals reports whether rs[i:] begins with the RFC 4514 §2.4 hex
// escape of '=' ("\3D").
func isEscapedEquals(rs []rune, i int) bool {
	return rs[i] == '\\' && i+2 < len(rs) && rs[i+1] == '3' && (rs[i+2] == 'd' || rs[i+2] == 'D')
}

// isKeyChar: the characters of an attribute type name or dotted OID, and
// of the words they may be glued to.
func isKeyChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'
}

// isKeySeparator: inside a run of key characters, where a new attribute
// type may begin ("Inc.CN", "Acme-OU").
func isKeySeparator(r rune) bool { return r == '.' || r == '-' || r == '_' }
