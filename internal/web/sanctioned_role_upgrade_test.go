package web_test

import (
	"net/http"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// The compliance verification a sanctioned country's version needs is
// one given by a compliance user: a verification given by a plain
// verifier does not become one because its giver is granted compliance
// afterwards. (Issuance reads the roles recorded with each verification,
// so such a version would be verified, supersede the current one, and
// then be refused for every order as sanctions_not_cleared.)
func TestSanctionedVersionNeedsComplianceAtVerification(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		pat, v1, v2, v3 := e.User("pat", actor.Verifier), e.User("vic", actor.Verifier), e.User("val", actor.Verifier), e.User("vera", actor.Verifier)
		adam := e.User("adam", actor.Admin)
		r := e.Do("POST", "/api/v1/organizations", pat, map[string]any{
			"organizationName": "Shwe Taung Trading Co. Ltd", "countryName": "MM", "stateOrProvinceName": "Yangon", "localityName": "Yangon",
			"sanctionsReview": map[string]any{"reference": "LEGAL-7", "decision": "approved", "notes": "screened"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		verify := "/api/v1/organizations/" + r.Body["id"].(string) + "/versions/1/verify"
		for _, tok := range []string{v1, v2} {
			if r := e.Do("POST", verify, tok, nil); r.Status != http.StatusOK || r.Body["status"] != "pending" {
				t.Fatalf("verify by a plain verifier: %d %s", r.Status, r.Raw)
			}
		}
		// vic, who verified as a plain verifier, is granted compliance.
		vic := "/api/v1/users/" + e.Actor(v1).ID
		if r := e.Do("POST", vic+"/roles", e.AdminToken, map[string]any{"roles": []string{"compliance"}}); r.Status != http.StatusOK {
			t.Fatalf("grant: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("POST", vic+"/approve", adam, nil); r.Status != http.StatusOK {
			t.Fatalf("approve grant: %d %s", r.Status, r.Raw)
		}
		r = e.Do("POST", verify, v3, nil)
		if r.Status != http.StatusOK || r.Body["status"] != "pending" {
			t.Fatalf("a third plain verifier's verification: %d %s; want the version still pending, with no verification given as compliance", r.Status, r.Raw)
		}
	})
}
