package order_test

import (
	"crypto/x509/pkix"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/atonce"
)

// call is one API request of a burst.
type call struct {
	method, path, tok string
	body              any
}

// burst sends calls at once and returns their statuses in order. On
// PostgreSQL they run concurrently (on SQLite its one writer orders them).
func burst(f *apptest.OrderFixture, calls ...call) ([]int, []string) {
	codes, raws := make([]int, len(calls)), make([]string, len(calls))
	atonce.Each(len(calls), func(i int) {
		r := f.Do(calls[i].method, calls[i].path, calls[i].tok, calls[i].body)
		codes[i], raws[i] = r.Status, string(r.Raw)
	})
	return codes, raws
}

// Requests that race for one thing (a name, a link, a version number, a
// contact, a key, a case, a decision) are answered as if they had come in
// turn, whatever order they commit in: never a server error from a lost
// insert race, and with a deterministic answer where one exists (the
// statuses, in any order). Each burst runs several times, and the audit
// trail verifies at the end.
func TestConcurrentRequestsAreAnsweredAsInTurn(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		admin2, admin3 := f.User("admin2", actor.Admin), f.User("admin3", actor.Admin)
		check := func(t *testing.T, what string, want []int, codes []int, raws []string) {
			t.Helper()
			for i, c := range codes {
				if c >= 500 || c == 0 {
					t.Fatalf("%s: request %d answered %d: %s", what, i, c, raws[i])
				}
			}
			if want != nil {
				got := slices.Clone(codes)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: statuses %v, want %v in any order (%v)", what, codes, want, raws)
				}
			}
		}
		var serials []string
		for round := 0; round < 3; round++ {
			serial, _ := f.Issue(site)
			serials = append(serials, serial)
			// Two verifiers propose a version each: both are kept, numbered apart.
			b1, b2 := maps.Clone(apptest.Acme), maps.Clone(apptest.Acme)
			b1["streetAddress"], b2["streetAddress"] = fmt.Sprintf("%d A Street", round), fmt.Sprintf("%d B Street", round)
			vp := "/api/v1/organizations/" + f.OrgID + "/versions"
			codes, raws := burst(f, call{"POST", vp, f.Alice, b1}, call{"POST", vp, f.Bob, b2})
			check(t, "two proposals", []int{201, 201}, codes, raws)

			// One staff name, twice.
			u := map[string]any{"name": fmt.Sprintf("victor%d", round), "roles": []string{"verifier"}}
			codes, raws = burst(f, call{"POST", "/api/v1/users", f.AdminToken, u}, call{"POST", "/api/v1/users", f.AdminToken, u})
			check(t, "one user name twice", []int{201, 409}, codes, raws)

			// One user approved by two admins.
			r := f.Do("POST", "/api/v1/users", f.AdminToken, map[string]any{"name": fmt.Sprintf("wendy%d", round), "roles": []string{"verifier"}})
			up := "/api/v1/users/" + r.Body["id"].(string) + "/approve"
			codes, raws = burst(f, call{"POST", up, admin2, nil}, call{"POST", up, admin3, nil})
			check(t, "one user approved twice", []int{200, 409}, codes, raws)

			// One organization linked to an account twice.
			r = f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": fmt.Sprintf("Acme %d", round)})
			lp := "/api/v1/accounts/" + r.Body["id"].(string) + "/organizations"
			codes, raws = burst(f, call{"POST", lp, f.AdminToken, map[string]any{"organizationId": f.OrgID}}, call{"POST", lp, f.Alice, map[string]any{"organizationId": f.OrgID}})
			check(t, "one link twice", []int{200, 409}, codes, raws)

			// One contact changed in two fields by two requests: both changes stay.
			r = f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/contacts", f.AccTok, map[string]any{"name": "Kim", "email": "kim@acme-widgets.com", "role": "technical"})
			kimp := "/api/v1/accounts/" + f.AccountID + "/contacts/" + r.Body["id"].(string)
			codes, raws = burst(f, call{"PATCH", kimp, f.AccTok, map[string]any{"name": "Kim Lee"}}, call{"PATCH", kimp, f.Alice, map[string]any{"email": "kim.lee@acme-widgets.com"}})
			check(t, "one contact changed twice", []int{200, 200}, codes, raws)
			kimID := r.Body["id"].(string)
			acc := f.Do("GET", "/api/v1/accounts/"+f.AccountID, f.AccTok, nil)
			contacts, _ := acc.Body["contacts"].([]any)
			kept := false
			for _, c := range contacts {
				if c := c.(map[string]any); c["id"] == kimID {
					kept = c["name"] == "Kim Lee" && c["email"] == "kim.lee@acme-widgets.com"
				}
			}
			if !kept {
				t.Fatalf("a change of the contact was lost: %s", acc.Raw)
			}

			// One staff token rotated twice with itself: the second finds it revoked.
			mine := f.User(fmt.Sprintf("rotor%d", round), actor.Verifier)
			codes, raws = burst(f, call{"POST", "/api/v1/me/token", mine, nil}, call{"POST", "/api/v1/me/token", mine, nil})
			check(t, "one token rotated twice", []int{200, 401}, codes, raws)

			// One contact deleted twice.
			r = f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/contacts", f.AccTok, map[string]any{"name": "Jo", "email": "jo@acme-widgets.com", "role": "technical"})
			cp := "/api/v1/accounts/" + f.AccountID + "/contacts/" + r.Body["id"].(string)
			codes, raws = burst(f, call{"DELETE", cp, f.AccTok, nil}, call{"DELETE", cp, f.AccTok, nil})
			check(t, "one contact deleted twice", []int{204, 404}, codes, raws)

			// One EAB key revoked three times.
			r = f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", f.Alice, nil)
			kp := "/api/v1/accounts/" + f.AccountID + "/eab-keys/" + r.Body["kid"].(string)
			codes, raws = burst(f, call{"POST", kp + "/revoke", f.Alice, nil}, call{"DELETE", kp, f.Bob, nil}, call{"POST", kp + "/revoke", f.AccTok, nil})
			check(t, "one EAB key revoked thrice", []int{200, 409, 409}, codes, raws)

			// One problem report: decided three times, closed twice.
			r = f.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "r@example.org", "category": "misissuance", "description": "wrong", "serials": []string{serial}})
			pp := "/api/v1/problem-reports/" + r.Body["id"].(string)
			dec := map[string]any{"decision": "revoke", "trigger": "4.9.1.1#9", "reason": "misissued"}
			codes, raws = burst(f, call{"POST", pp + "/decide", f.Carol, dec}, call{"POST", pp + "/decide", f.AdminToken, dec}, call{"POST", pp + "/decide", admin2, map[string]any{"decision": "no_action", "reason": "fine"}})
			check(t, "one report decided thrice", []int{200, 409, 409}, codes, raws)
			codes, raws = burst(f, call{"POST", pp + "/close", f.Carol, map[string]any{"reasons": "done"}}, call{"POST", pp + "/close", admin2, map[string]any{"reasons": "done"}})
			check(t, "one report closed twice", []int{200, 409}, codes, raws)

			// An order approved and rejected at once: either order is right.
			o := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
			op := "/api/v1/orders/" + o.Body["id"].(string)
			codes, raws = burst(f, call{"POST", op + "/approve", f.Bob, map[string]any{"snapshotHash": o.Body["snapshotHash"]}}, call{"POST", op + "/reject", f.Carol, map[string]any{"reason": "no"}})
			check(t, "an order approved and rejected", nil, codes, raws)
		}
		// One incident revoked twice at once, beside its subscriber.
		inc := f.Do("POST", "/api/v1/incidents", f.Carol, map[string]any{"title": "vetca Test: misissued certificates", "source": "self", "trigger": "4.9.1.1#9", "awareAt": f.Clock.Now(), "serials": serials})
		ip := "/api/v1/incidents/" + inc.Body["id"].(string) + "/revoke"
		codes, raws := burst(f, call{"POST", ip, f.Carol, nil}, call{"POST", ip, admin2, nil}, call{"POST", "/api/v1/certificates/" + serials[0] + "/revoke", f.AccTok, map[string]any{"reason": "superseded"}})
		check(t, "one incident revoked twice", nil, codes, raws)

		if rep, err := f.App.VerifyAudit(t.Context(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}
