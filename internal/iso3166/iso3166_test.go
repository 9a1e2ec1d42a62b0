package iso3166

import "testing"

func TestCountries(t *testing.T) {
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{"US", true}, {"MM", true}, {"AD", true}, {"LR", true}, {"KP", true},
		{"XX", false}, // user-assigned: never a real country (docs/design.md §3)
		{"us", false}, {"UK", false}, {"ZZ", false}, {"", false}, {"USA", false},
	} {
		if _, got := LookupCountry(tc.code); got != tc.ok {
			t.Errorf("LookupCountry(%q) = %v, want %v", tc.code, got, tc.ok)
		}
	}
	if len(Countries()) < 249 {
		t.Fatalf("only %d countries", len(Countries()))
	}
}

func TestSubdivisions(t *testing.T) {
	for _, tc := range []struct {
		country, value, want string
	}{
		{"US", "California", "California"},
		{"US", "california", "California"},
		{"US", "US-CA", "California"},
		{"US", "CA", "California"},
		{"MM", "Yangon", "Yangon"},
		{"ES", "Madrid, Comunidad de", "Madrid, Comunidad de"},
		{"US", "Some-State", ""},
		{"US", "Bavaria", ""},
		{"DE", "Bayern", "Bayern"},
	} {
		s, ok := LookupSubdivision(tc.country, tc.value)
		if ok != (tc.want != "") || s.Name != tc.want {
			t.Errorf("LookupSubdivision(%q,%q) = %q,%v want %q", tc.country, tc.value, s.Name, ok, tc.want)
		}
	}
	if !IsSubdivisionName("US", "California") || IsSubdivisionName("US", "california") {
		t.Error("IsSubdivisionName must be exact")
	}
}
