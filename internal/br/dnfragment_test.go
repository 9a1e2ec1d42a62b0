package br

import (
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

// BR §7.1.4.2: every subject attribute is verified information, and
// BR §7.1.2.7.4: no metadata that could mislead. A value that carries
// another attribute is refused; a real legal name keeps its punctuation.
func TestDNFragment(t *testing.T) {
	refused := []struct{ value, attr string }{
		{"Acme Ltd, C=US", "C"},
		{"O=Acme", "O"},
		{"CN=evil.com", "CN"},
		{"Acme/OU=x", "OU"},
		{"Acme+serialNumber=1", "serialNumber"},
		{"Acme Ltd,C=US", "C"},
		{"Acme Ltd , c = US", "c"},
		{"Acme Ltd; cn =evil.com", "cn"},
		{"Acme Ltd C=US", "C"},
		{"acme, St=California", "St"},
		{"Acme, STREET=1 Main St", "STREET"},
		{"Acme, SERIALNUMBER=HRB 1", "SERIALNUMBER"},
		{"Acme, DC=com", "DC"},
		{"Acme, UID=root", "UID"},
		{"Acme, E=admin@evil.com", "E"},
		{"Acme, emailAddress=admin@evil.com", "emailAddress"},
		{"Acme, postalCode=12345", "postalCode"},
		{"Acme, businessCategory=Private Organization", "businessCategory"},
		{"Acme, jurisdictionC=US", "jurisdictionC"},
		{"Acme, jurisdictionST=Delaware", "jurisdictionST"},
		{"Acme, jurisdictionL=Dover", "jurisdictionL"},
		{"Acme, jurisdictionCountryName=US", "jurisdictionCountryName"},
		{"Acme, organizationIdentifier=NTRUS-1", "organizationIdentifier"},
		{"Acme, organizationName=Other", "organizationName"},
		{"Acme, commonName=evil.com", "commonName"},
		{"Acme, localityName=Paris", "localityName"},
		{"Acme, stateOrProvinceName=Texas", "stateOrProvinceName"},
		{"Acme, countryName=US", "countryName"},
		{"Acme, organizationalUnitName=IT", "organizationalUnitName"},
		{"Acme, streetAddress=1 Main St", "streetAddress"},
		{"Acme, 2.5.4.3=evil.com", "2.5.4.3"},
		{"2.5.4.10=Acme", "2.5.4.10"},
		{"Acme, OID.2.5.4.6=US", "OID.2.5.4.6"},
		{"Acme, 1.3.6.1.4.1.311.60.2.1.3=US", "1.3.6.1.4.1.311.60.2.1.3"},
		{"Example Inc.CN=evil.com", "CN"},
		{"Acme-OU=x", "OU"},
		{"Acme, C=", "C"},
		{"Acme, Ｃ＝US", "C"},       // full-width letters and equals sign
		{"Acme, CN\uFE66x", "CN"}, // small equals sign
		{`Acme\, C\=US`, "C"},     // RFC 4514 escapes
		{`Acme\2C C\3DUS`, "C"},
		{"Acme\u00a0C=US", "C"}, // no-break space
	}
	for _, c := range refused {
		attr, ok := DNFragment(c.value)
		if !ok || attr != c.attr {
			t.Errorf("DNFragment(%q) = %q, %v; want %q, true", c.value, attr, ok, c.attr)
		}
		wantAppErr(t, CheckNoDNFragment("organizationName", c.value), apperr.KindInvalid, "organizationName", CodeDNFragment)
	}
	accepted := []string{
		"Example, Inc.", "Smith & Sons, LLC", "O'Brien (UK) Ltd.", "AT&T Inc.",
		"Acme Widgets Inc.", "Müller & Söhne GmbH & Co. KG", "Procter & Gamble Co.",
		"L'Oréal S.A.", "Ben & Jerry's Homemade, Inc.", "Yahoo!", "1-800-Flowers.com, Inc.",
		"C&A Mode GmbH & Co. KG", "E.ON SE", "Société Générale S.A.", "3M Company",
		"St. Gallen", "Co. Clare", "Suite 5, 1 Market Street", "PO Box 12; Main Road",
		"A+B Engineering", "Plus+Minus Ltd", `Back\Slash Ltd`, "X=Y Holdings",
		"Comma, Semicolon; Plus+ Ltd", "東京都", "株式会社 例", "HRB 12345", "SW1A 1AA",
	}
	for _, v := range accepted {
		if attr, ok := DNFragment(v); ok {
			t.Errorf("DNFragment(%q) = %q; a legal name must be accepted", v, attr)
		}
		if err := CheckNoDNFragment("organizationName", v); err != nil {
			t.Errorf("CheckNoDNFragment(%q): %v", v, err)
		}
	}
}

// The attribute type names that DNFragment must know, each in a fragment
// appended to a real name, in any case.
func TestDNFragmentKnowsTheUsualNames(t *testing.T) {
	for _, n := range []string{"C", "ST", "L", "O", "OU", "CN", "STREET", "SERIALNUMBER", "DC", "UID", "E",
		"emailAddress", "postalCode", "businessCategory", "jurisdictionC", "jurisdictionST", "jurisdictionL",
		"jurisdictionCountryName", "jurisdictionStateOrProvinceName", "jurisdictionLocalityName",
		"organizationIdentifier", "SN", "GN", "givenName", "surname", "title", "pseudonym", "S", "2.5.4.3"} {
		for _, form := range []string{n, strings.ToLower(n), strings.ToUpper(n)} {
			for _, sep := range []string{", ", ",", " ; ", "/", "+", " ", ""} {
				v := "Example, Inc." + sep + form + "=x"
				if sep == "" {
					v = form + " = x"
				}
				if _, ok := DNFragment(v); !ok {
					t.Errorf("DNFragment(%q) = false", v)
				}
			}
		}
	}
}

func TestCheckOVSubjectValueRefusesDNFragment(t *testing.T) {
	wantAppErr(t, CheckOVSubjectValue("organizationName", "Acme Ltd, C=US"), apperr.KindInvalid, "organizationName", CodeDNFragment)
	wantAppErr(t, CheckOVSubjectValue("localityName", "Paris, CN=evil.com"), apperr.KindInvalid, "localityName", CodeDNFragment)
	if err := CheckOVSubjectValue("organizationName", "Example, Inc."); err != nil {
		t.Fatal(err)
	}
}

// FuzzDNFragment: subject values are typed by people. Whatever the value,
// appending or prepending an attribute fragment is refused, ASCII case
// never changes the verdict, and a value without any equals sign (or its
// escape or look-alike) is never refused.
func FuzzDNFragment(f *testing.F) {
	for _, s := range []string{"Example, Inc.", "Acme Ltd, C=US", "O=Acme", "Acme/OU=x", "Acme+serialNumber=1",
		"OID.2.5.4.3=x", `C\3DUS`, "Ｃ＝US", "Smith & Sons, LLC", "a.b.c-d_e=f", "=", "\\", "1.2=", "X=Y"} {
		f.Add(s, "CN")
	}
	f.Add("O'Brien (UK) Ltd.", "jurisdictionST")
	f.Add("", "2.5.4.97")
	f.Fuzz(func(t *testing.T, v, name string) {
		attr, ok := DNFragment(v)
		if ok {
			if attr == "" || !isAttributeType(foldWidth(attr)) {
				t.Fatalf("DNFragment(%q) named %q", v, attr)
			}
			if !strings.ContainsFunc(v, isEquals) && !strings.Contains(strings.ToLower(v), `\3d`) {
				t.Fatalf("DNFragment(%q) = %q without an equals sign", v, attr)
			}
			if err := CheckNoDNFragment("localityName", v); err == nil {
				t.Fatalf("CheckNoDNFragment(%q) = nil", v)
			} else if e, isApp := apperr.As(err); !isApp || e.Kind != apperr.KindInvalid || e.Field != "localityName" || e.Code != CodeDNFragment {
				t.Fatalf("CheckNoDNFragment(%q) = %v", v, err)
			}
		} else if err := CheckNoDNFragment("localityName", v); err != nil {
			t.Fatalf("CheckNoDNFragment(%q) = %v, DNFragment said no", v, err)
		}
		if _, ok2 := DNFragment(swapASCIICase(v)); ok2 != ok {
			t.Fatalf("DNFragment(%q) = %v but %v for %q", v, ok, ok2, swapASCIICase(v))
		}
		if !isAttributeType(name) {
			name = "CN"
		}
		for _, frag := range []string{v + ", " + name + "=x", v + "/" + name + "=x", v + "+" + name + " = x", name + "=" + v} {
			if _, ok := DNFragment(frag); !ok {
				t.Fatalf("DNFragment(%q) = false", frag)
			}
		}
	})
}

func swapASCIICase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 32
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

func foldWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E {
			return r - 0xFEE0
		}
		return r
	}, s)
}

// isAttributeType reports whether s as a whole is an attribute type.
func isAttributeType(s string) bool {
	got, ok := attributeTypeSuffix([]rune(s))
	return ok && got == s
}

func TestAttributeTypeSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"CN": "CN", "Inc.CN": "CN", "Acme-OU": "OU", "2.5.4.3": "2.5.4.3", "OID.2.5.4.3": "OID.2.5.4.3",
		"x.2.5.4.3": "2.5.4.3", "v1.0": "", "Inc": "", "ABC": "", "1": "", "1.": "", "1..2": "",
		".1.2": "1.2", "a1.2": "", "OID.": "", "oid.1": "", "1.2.": "", "jurisdictionST": "jurisdictionST",
	} {
		got, ok := attributeTypeSuffix([]rune(in))
		if got != want || ok != (want != "") {
			t.Errorf("attributeTypeSuffix(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// DNFragment reads outside input: a hostile value must not make it
// quadratic. Each equals sign scans back over what precedes it; the scans
// together must examine no more characters than the input holds (a scan
// that ran past the previous equals sign would make these minutes long).
// Counted, not timed.
func TestDNFragmentLinearTime(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a.", 50000) + "=",
		strings.Repeat("1.", 50000) + "1=",
		strings.Repeat("1.", 50000) + ".=",
		strings.Repeat("a=", 50000),
		strings.Repeat("\\ ", 50000) + "=",
		strings.Repeat("\\3d", 50000),
		strings.Repeat("oid.", 50000) + "=",
		strings.Repeat("ＡＢ", 50000) + "=",
		strings.Repeat("a\\3d", 50000),
		strings.Repeat(" =", 50000),
	} {
		scanned := 0
		dnFragment(s, &scanned)
		if n := len([]rune(s)); scanned > n || scanned == 0 {
			t.Errorf("DNFragment(%q...) examined %d characters in its backward scans for an input of %d", s[:12], scanned, n)
		}
	}
}
