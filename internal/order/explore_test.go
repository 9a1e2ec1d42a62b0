package order_test

import (
	"crypto/x509/pkix"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

type req struct {
	method, path, tok string
	body              any
}

func fire(t *testing.T, f *apptest.OrderFixture, what string, rs ...req) []apptest.Response {
	t.Helper()
	out := make([]apptest.Response, len(rs))
	var start, wg sync.WaitGroup
	start.Add(1)
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			out[i] = f.Do(r.method, r.path, r.tok, r.body)
		}()
	}
	start.Done()
	wg.Wait()
	for i, r := range out {
		if r.Status >= 500 || r.Status == 0 {
			t.Errorf("%s: request %d (%s %s): %d %s", what, i, rs[i].method, rs[i].path, r.Status, r.Raw)
		}
	}
	return out
}

func TestExploreConcurrency(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ev := map[string]any{"evidence": []map[string]string{{"source": "registry", "reference": "C1"}}}
		for round := 0; round < 4; round++ {
			// A: org version verified by two at once.
			body := maps.Clone(apptest.Acme)
			body["streetAddress"] = fmt.Sprintf("%d Market Street", round+2)
			r := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, body)
			if r.Status >= 300 {
				t.Fatalf("propose: %d %s", r.Status, r.Raw)
			}
			n := fmt.Sprint(r.Body["version"])
			fire(t, f, "verify version", req{"POST", "/api/v1/organizations/" + f.OrgID + "/versions/" + n + "/verify", f.Bob, ev}, req{"POST", "/api/v1/organizations/" + f.OrgID + "/versions/" + n + "/verify", f.Dave, ev})
			g := f.Do("GET", "/api/v1/organizations/"+f.OrgID+"/versions/"+n, f.Bob, nil)
			t.Logf("version %s after two verifies: %v", n, g.Body["status"])

			// C: contact patched and deleted twice at once.
			c := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/contacts", f.AccTok, map[string]any{"name": "Jo", "email": "jo@acme-widgets.com", "role": "technical"})
			if c.Status >= 300 {
				t.Fatalf("contact: %d %s", c.Status, c.Raw)
			}
			cid := c.Body["id"].(string)
			cp := "/api/v1/accounts/" + f.AccountID + "/contacts/" + cid
			fire(t, f, "patch contact", req{"PATCH", cp, f.AccTok, map[string]any{"name": "Jo A"}}, req{"PATCH", cp, f.AccTok, map[string]any{"name": "Jo B"}})
			fire(t, f, "delete contact", req{"DELETE", cp, f.AccTok, nil}, req{"DELETE", cp, f.AccTok, nil})

			// D: token rotation at once.
			if round == 3 {
				fire(t, f, "rotate", req{"POST", "/api/v1/accounts/" + f.AccountID + "/token", f.Alice, nil}, req{"POST", "/api/v1/accounts/" + f.AccountID + "/token", f.AdminToken, nil})
			}
		}
	})
}

func TestExploreOrders(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		for round := 0; round < 4; round++ {
			r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
			id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
			op := "/api/v1/orders/" + id
			fire(t, f, "approve+reject", req{"POST", op + "/approve", f.Bob, map[string]any{"snapshotHash": hash}}, req{"POST", op + "/reject", f.Carol, map[string]any{"reason": "no"}})
			r = f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
			id, hash = r.Body["id"].(string), r.Body["snapshotHash"].(string)
			op = "/api/v1/orders/" + id
			f.Do("POST", op+"/approve", f.Bob, map[string]any{"snapshotHash": hash})
			fire(t, f, "approve+finalize+reject", req{"POST", op + "/approve", f.Carol, map[string]any{"snapshotHash": hash}}, req{"POST", op + "/finalize", f.AccTok, nil}, req{"POST", op + "/reject", f.Dave, map[string]any{"reason": "no"}})
		}
		// users approved by two admins at once
		a2, a3 := f.User("admin2", actor.Admin), f.User("admin3", actor.Admin)
		for round := 0; round < 4; round++ {
			u := f.Do("POST", "/api/v1/users", f.AdminToken, map[string]any{"name": fmt.Sprintf("victor%d", round), "roles": []string{"verifier"}})
			uid := u.Body["id"].(string)
			fire(t, f, "approve user", req{"POST", "/api/v1/users/" + uid + "/approve", a2, nil}, req{"POST", "/api/v1/users/" + uid + "/approve", a3, nil})
			fire(t, f, "grant roles", req{"POST", "/api/v1/users/" + uid + "/roles", a2, map[string]any{"roles": []string{"compliance"}}}, req{"POST", "/api/v1/users/" + uid + "/roles", a3, map[string]any{"roles": []string{"auditor"}}})
		}
	})
}

func TestExploreDesk(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		admin2 := f.User("admin2", actor.Admin)
		comp2 := f.User("comp2", actor.Compliance)
		var serials []string
		for i := 0; i < 4; i++ {
			s, _ := f.Issue(site)
			serials = append(serials, s)
		}
		for round := 0; round < 3; round++ {
			p := f.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "r@example.org", "category": "misissuance", "description": "bad", "serials": []string{serials[round]}})
			if p.Status != 202 {
				t.Fatalf("report: %d %s", p.Status, p.Raw)
			}
			pid := p.Body["id"].(string)
			pp := "/api/v1/problem-reports/" + pid
			fire(t, f, "assign", req{"POST", pp + "/assign", f.Carol, map[string]any{"assignee": "carol"}}, req{"POST", pp + "/assign", admin2, map[string]any{"assignee": "admin2"}})
			fire(t, f, "notes", req{"POST", pp + "/notes", f.Carol, map[string]any{"text": "a"}}, req{"POST", pp + "/notes", admin2, map[string]any{"text": "b"}})
			fire(t, f, "prelim", req{"POST", pp + "/preliminary-report", f.Carol, map[string]any{"findings": "x", "to": "all"}}, req{"POST", pp + "/preliminary-report", admin2, map[string]any{"findings": "y", "to": "all"}})
			dec := map[string]any{"decision": "revoke", "trigger": "4.9.1.1#9", "reason": "misissued"}
			fire(t, f, "decide", req{"POST", pp + "/decide", f.Carol, dec}, req{"POST", pp + "/decide", admin2, dec}, req{"POST", pp + "/decide", comp2, map[string]any{"decision": "no_action", "reason": "fine"}})
			fire(t, f, "close", req{"POST", pp + "/close", f.Carol, map[string]any{"reasons": "done"}}, req{"POST", pp + "/close", admin2, map[string]any{"reasons": "done"}})
		}
		inc := f.Do("POST", "/api/v1/incidents", f.Carol, map[string]any{"title": "vetca Test: misissued certificates", "source": "self", "trigger": "4.9.1.1#9", "awareAt": f.Clock.Now(), "serials": serials})
		if inc.Status != 201 {
			t.Fatalf("incident: %d %s", inc.Status, inc.Raw)
		}
		ip := "/api/v1/incidents/" + inc.Body["id"].(string)
		fire(t, f, "incident revoke", req{"POST", ip + "/revoke", f.Carol, nil}, req{"POST", ip + "/revoke", admin2, nil}, req{"POST", "/api/v1/certificates/" + serials[3] + "/revoke", f.AccTok, map[string]any{"reason": "superseded"}})
		fire(t, f, "disclosures", req{"POST", ip + "/disclosures", f.Carol, map[string]any{"kind": "preliminary", "postedAt": f.Clock.Now()}}, req{"POST", ip + "/disclosures", admin2, map[string]any{"kind": "preliminary", "postedAt": f.Clock.Now()}})
		fire(t, f, "analysis", req{"POST", ip + "/analysis", f.Carol, map[string]any{"wentWell": "a"}}, req{"POST", ip + "/analysis", admin2, map[string]any{"wentWell": "b"}})
		fire(t, f, "actions", req{"POST", ip + "/action-items", f.Carol, map[string]any{"actionItem": "a", "kind": "Prevent", "rootCauses": []string{"x"}, "evaluationCriteria": "c", "dueDate": "2027-01-01", "status": "Ongoing"}}, req{"POST", ip + "/action-items", admin2, map[string]any{"actionItem": "b", "kind": "Detect", "rootCauses": []string{"x"}, "evaluationCriteria": "c", "dueDate": "2027-01-01", "status": "Ongoing"}})
		// change requests approved by two at once
		cr := f.Do("POST", "/api/v1/change-requests", f.Alice, map[string]any{"kind": "restore", "table": "accounts", "rowId": f.AccountID, "reason": "r"})
		if cr.Status >= 300 {
			t.Logf("change request: %d %s", cr.Status, cr.Raw)
		} else {
			cp := "/api/v1/change-requests/" + cr.Body["id"].(string)
			fire(t, f, "change approve", req{"POST", cp + "/approve", f.Bob, nil}, req{"POST", cp + "/approve", f.Carol, nil}, req{"POST", cp + "/approve", f.Dave, nil})
		}
		if rep, err := f.App.VerifyAudit(t.Context(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}
