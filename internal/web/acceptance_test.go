package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
)

// Bugzilla 1535735 (docs/design.md §1): updating a contact with a subject
// field is refused naming it; the organization's current version and
// pending list are unchanged; the audit log has no organization event for
// that request.
func TestContactCannotChangeIdentity(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		ctx := context.Background()
		before := e.Do("GET", "/api/v1/organizations/"+f.orgID, f.alice, nil)
		evBefore, err := audit.List(ctx, e.App.DB, audit.Filter{Limit: 1000})
		if err != nil || len(evBefore) == 0 {
			t.Fatalf("events before: %v %d", err, len(evBefore))
		}
		for _, tok := range []string{f.accToken, f.alice, e.AdminToken} {
			for _, field := range []string{"organizationName", "countryName", "stateOrProvinceName", "localityName", "commonName", "organizationalUnitName"} {
				r := e.Do("PATCH", "/api/v1/accounts/"+f.accID+"/contacts/"+f.conID, tok, map[string]any{"name": "Jane Doe (subcontractor)", field: "Subcontractor Services LLC"})
				if gotField, code := r.ErrField(); r.Status != 400 || gotField != field || code != "subject_field_not_allowed" {
					t.Fatalf("PATCH with %s: %d %s", field, r.Status, r.Raw)
				}
			}
		}
		after := e.Do("GET", "/api/v1/organizations/"+f.orgID, f.alice, nil)
		if string(before.Raw) != string(after.Raw) {
			t.Fatalf("organization changed:\nbefore %s\nafter  %s", before.Raw, after.Raw)
		}
		evAfter, err := audit.List(ctx, e.App.DB, audit.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evAfter) != len(evBefore) {
			t.Fatalf("refused requests wrote %d events", len(evAfter)-len(evBefore))
		}
		// The same contact edit without subject fields works and touches only the contact.
		r := e.Do("PATCH", "/api/v1/accounts/"+f.accID+"/contacts/"+f.conID, f.accToken, map[string]any{"name": "Jane Doe (subcontractor)", "email": "jane@subcontractor.vetca-test.com"})
		if r.Status != 200 || r.Body["email"] != "jane@subcontractor.vetca-test.com" {
			t.Fatalf("plain contact update: %d %s", r.Status, r.Raw)
		}
		evs, err := audit.List(ctx, e.App.DB, audit.Filter{After: evAfter[len(evAfter)-1].Seq})
		if err != nil || len(evs) != 1 || evs[0].EntityType != "contacts" {
			t.Fatalf("contact update wrote %+v", evs)
		}
		if again := e.Do("GET", "/api/v1/organizations/"+f.orgID, f.alice, nil); string(again.Raw) != string(before.Raw) {
			t.Fatal("a contact update changed the organization")
		}
	})
}

// docs/design.md §2: a proposed identity change stays pending; its
// proposer's verification is refused with self_verification; after two
// other verifiers verify it, current shows the new values, and the
// account's contacts have each received a mail containing the diff.
func TestIdentityChangeFlow(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		org := "/api/v1/organizations/" + f.orgID
		e.Do("POST", "/api/v1/accounts/"+f.accID+"/contacts", f.accToken, map[string]any{"name": "Sam Patel", "email": "sam@acme.vetca-test.com", "role": "technical"})
		r := e.Do("POST", org+"/versions", f.alice, map[string]any{"localityName": "Oakland", "streetAddress": "1 Broadway"})
		if r.Status != 201 || r.Body["status"] != "pending" || r.Body["version"].(float64) != 2 {
			t.Fatalf("propose: %d %s", r.Status, r.Raw)
		}
		view := e.Do("GET", org, f.bob, nil)
		cur := view.Body["current"].(map[string]any)
		if cur["localityName"] != "San Francisco" || len(view.Body["pending"].([]any)) != 1 {
			t.Fatalf("pending change leaked into current: %s", view.Raw)
		}
		if r := e.Do("POST", org+"/versions/2/verify", f.alice, nil); r.Status != 403 {
			t.Fatalf("self verification: %d %s", r.Status, r.Raw)
		} else if _, code := r.ErrField(); code != "self_verification" {
			t.Fatalf("code %s", code)
		}
		if r := e.Do("POST", org+"/versions/2/verify", f.bob, nil); r.Body["status"] != "pending" {
			t.Fatalf("after one verifier: %s", r.Raw)
		}
		if r := e.Do("POST", org+"/versions/2/verify", f.bob, nil); r.Status != 409 {
			t.Fatalf("same verifier twice: %d", r.Status)
		}
		if r := e.Do("POST", org+"/versions/2/verify", f.carol, nil); r.Body["status"] != "verified" {
			t.Fatalf("after two verifiers: %s", r.Raw)
		}
		view = e.Do("GET", org, f.accToken, nil) // the subscriber may read its own organization
		cur = view.Body["current"].(map[string]any)
		if view.Status != 200 || cur["localityName"] != "Oakland" || cur["streetAddress"] != "1 Broadway" || cur["version"].(float64) != 2 {
			t.Fatalf("current after verification: %s", view.Raw)
		}
		e.Deliver()
		for _, addr := range []string{"jane@acme.vetca-test.com", "sam@acme.vetca-test.com", "compliance@ca.vetca-test.com"} {
			var proposed, verified bool
			for _, m := range e.SMTP.To(addr) {
				if !strings.Contains(m.Body, `localityName: "San Francisco" -> "Oakland"`) || !strings.Contains(m.Body, `streetAddress: "" -> "1 Broadway"`) {
					continue
				}
				proposed = proposed || strings.Contains(m.Subject, "version 2 proposed")
				verified = verified || strings.Contains(m.Subject, "version 2 verified")
			}
			if !proposed || !verified {
				t.Errorf("%s did not get both mails with the diff (got %d mails)", addr, len(e.SMTP.To(addr)))
			}
		}
	})
}

// docs/design.md §3: sanctioned countries need a review, and a compliance
// verifier among the verifiers.
func TestSanctionedCountryOverHTTP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		body := map[string]any{"organizationName": "Shwe Taung Trading Co. Ltd", "countryName": "MM", "stateOrProvinceName": "Yangon", "localityName": "Yangon",
			"sanctionsReview": map[string]any{"reference": "LEGAL-2026-1", "decision": "approved", "notes": "not a listed person"}}
		r := e.Do("POST", "/api/v1/organizations", f.alice, body)
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		p := "/api/v1/organizations/" + r.Body["id"].(string) + "/versions/1/verify"
		e.Do("POST", p, f.bob, nil)
		if r := e.Do("POST", p, f.dave, nil); r.Body["status"] != "pending" {
			t.Fatalf("verified by two verifiers without compliance: %s", r.Raw)
		}
		if r := e.Do("POST", p, f.carol, nil); r.Body["status"] != "verified" {
			t.Fatalf("compliance verifier: %s", r.Raw)
		}
	})
}

// docs/design.md §7: a change request applies only after two distinct
// approvers, neither of them the requester, and audit verify is clean
// afterwards.
func TestChangeRequestRestoresTamperedRow(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		ctx := context.Background()
		// Out-of-band SQL: the "fix" script of Bugzilla 1559376.
		if _, err := e.App.DB.Exec(ctx, `UPDATE organization_versions SET country_name = 'AD' WHERE organization_id = ?`, f.orgID); err != nil {
			t.Fatal(err)
		}
		r := e.Do("GET", "/api/v1/organizations/"+f.orgID, f.alice, nil)
		if r.Status != 500 || !strings.Contains(r.Body["error"].(map[string]any)["message"].(string), "organization_versions row") {
			t.Fatalf("tampered organization served: %d %s", r.Status, r.Raw)
		}
		rep, err := e.App.VerifyAudit(ctx, "")
		if err != nil || rep.OK || rep.Findings[0].Field != "country_name" {
			t.Fatalf("verify: %+v", rep)
		}
		rowID := rep.Findings[0].RowID
		r = e.Do("POST", "/api/v1/change-requests", f.alice, map[string]any{"kind": "restore", "table": "organization_versions", "rowId": rowID, "reason": "audit verify flagged an out-of-band edit of country_name"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		if r := e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.alice, nil); r.Status != 403 {
			t.Fatalf("requester approved: %d", r.Status)
		}
		e.Clock.Advance(time.Minute)
		if r := e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.bob, nil); r.Status != 200 || r.Body["status"] != "pending" {
			t.Fatalf("first approval: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.bob, nil); r.Status != 409 {
			t.Fatalf("same approver twice: %d", r.Status)
		}
		if rep, err := e.App.VerifyAudit(ctx, ""); err != nil || rep.OK {
			t.Fatalf("applied after one approval (%v)", err)
		}
		r = e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.carol, nil)
		if r.Status != 200 || r.Body["status"] != "applied" {
			t.Fatalf("second approval: %d %s", r.Status, r.Raw)
		}
		if rep, err := e.App.VerifyAudit(ctx, ""); err != nil || !rep.OK {
			t.Fatalf("audit after restore: %v %+v", err, rep.Findings)
		}
		r = e.Do("GET", "/api/v1/organizations/"+f.orgID, f.alice, nil)
		if r.Status != 200 || r.Body["current"].(map[string]any)["countryName"] != "US" {
			t.Fatalf("after restore: %d %s", r.Status, r.Raw)
		}
		evs, err := audit.List(ctx, e.App.DB, audit.Filter{EntityType: "organization_versions", EntityID: rowID})
		if err != nil || len(evs) == 0 {
			t.Fatalf("events of %s: %v", rowID, err)
		}
		last := evs[len(evs)-1]
		if !strings.HasPrefix(last.Action, "change_request.applied:"+id) || last.Actor != "user:carol" {
			t.Fatalf("restore event: %+v", last)
		}
	})
}

func TestAuditEventsAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		r := e.Do("GET", "/api/v1/audit/events?entityType=organization_verifications&actor=user:bob", f.auditor, nil)
		evs := r.Body["events"].([]any)
		if r.Status != 200 || len(evs) != 1 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		ev := evs[0].(map[string]any)
		for _, k := range []string{"seq", "at", "actor", "action", "entityType", "entityId", "hash"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("event lacks %s", k)
			}
		}
		r = e.Do("GET", "/api/v1/audit/events?after=1&limit=2", f.auditor, nil)
		if evs := r.Body["events"].([]any); len(evs) != 2 || evs[0].(map[string]any)["seq"].(float64) != 2 {
			t.Fatalf("paging: %s", r.Raw)
		}
		r = e.Do("GET", "/api/v1/audit/verify", f.auditor, nil)
		if r.Body["ok"] != true {
			t.Fatalf("verify: %s", r.Raw)
		}
		r = e.Do("GET", "/api/v1/audit/export", f.auditor, nil)
		if lines := strings.Count(string(r.Raw), "\n"); r.Status != 200 || lines < 10 {
			t.Fatalf("export: %d lines", lines)
		}
	})
}
