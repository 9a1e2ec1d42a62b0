package app

import "testing"

// docs/design.md §3: countries are real ISO 3166-1 codes. An operator who
// sanctions "UK" (meaning GB), or a withdrawn or placeholder code, sanctions
// nothing, and vetca accepts the list without a word.
func TestSanctionedCountriesMustBeISO(t *testing.T) {
	for _, cc := range []string{"UK", "XX", "ZZ", "YU", "EU"} {
		var c Config
		c.Defaults()
		c.SanctionedCountries = []string{"CU", cc}
		if err := c.Validate(); err == nil {
			t.Errorf("--sanctioned-countries CU,%s accepted: %q is not an ISO 3166-1 code, so it sanctions no organization vetca can hold", cc, cc)
		}
	}
}
