package web_test

import (
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// docs/api.md: invalid_country "countryName is not an upper-case, assigned
// ISO 3166-1 alpha-2 code (XX included)", and refusals name the field. A
// proposed version that changes countryName to a placeholder or non-ISO
// code without a stateOrProvinceName is refused as missing_field naming
// stateOrProvinceName ("a new countryName needs a stateOrProvinceName of
// that country"): the verifier is told to pick a subdivision of "XX".
func TestProposedPlaceholderCountryNamesCountry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		r := e.Do("POST", "/api/v1/organizations", alice, apptest.Acme)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		for _, cc := range []string{"XX", "ZZ", "UK", "EU", "YU", "us", ""} {
			p := e.Do("POST", "/api/v1/organizations/"+id+"/versions", alice, map[string]any{"countryName": cc})
			field, code := p.ErrField()
			if p.Status != 400 || field != "countryName" {
				t.Errorf("countryName %q: %d %s %s, want 400 naming countryName (invalid_country / missing_field)", cc, p.Status, code, field)
			}
		}
	})
}
