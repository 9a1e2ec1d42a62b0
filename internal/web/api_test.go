package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

var acme = map[string]any{"organizationName": "Acme Widgets Inc.", "countryName": "US", "stateOrProvinceName": "California", "localityName": "San Francisco"}

type fixture struct {
	*apptest.Env
	alice, bob, carol, dave, auditor string
	orgID, accID, accToken, conID    string
}

func setup(t *testing.T, e *apptest.Env) *fixture {
	f := &fixture{Env: e}
	f.alice = e.User("alice", actor.Verifier)
	f.bob = e.User("bob", actor.Verifier)
	f.carol = e.User("carol", actor.Verifier, actor.Compliance)
	f.dave = e.User("dave", actor.Verifier)
	f.auditor = e.User("audrey", actor.Auditor)
	r := e.Do("POST", "/api/v1/organizations", f.alice, acme)
	if r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	f.orgID = r.Body["id"].(string)
	for _, tok := range []string{f.bob, f.dave} {
		if r := e.Do("POST", "/api/v1/organizations/"+f.orgID+"/versions/1/verify", tok, map[string]any{"evidence": []map[string]string{{"source": "registry", "reference": "C1"}}}); r.Status != 200 {
			t.Fatalf("verify: %d %s", r.Status, r.Raw)
		}
	}
	r = e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme", "organizations": []string{f.orgID}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	f.accID, f.accToken = r.Body["id"].(string), r.Body["token"].(string)
	r = e.Do("POST", "/api/v1/accounts/"+f.accID+"/contacts", f.accToken, map[string]any{"name": "Jane Doe", "email": "jane@acme.vetca-test.com", "role": "administrative"})
	if r.Status != 201 {
		t.Fatalf("contact: %d %s", r.Status, r.Raw)
	}
	f.conID = r.Body["id"].(string)
	return f
}

func (f *fixture) eventCount(t *testing.T) int64 {
	rep, err := f.App.VerifyAudit(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	return rep.Events
}

// Every refused request returns the docs/api.md error shape naming the
// field, and leaves nothing behind (the audit chain does not grow).
func TestBadInputEverywhere(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		org := "/api/v1/organizations/" + f.orgID
		acc := "/api/v1/accounts/" + f.accID
		big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			field, code               string
		}{
			{"missing auth", "POST", "/api/v1/organizations", "", acme, 401, "", "unauthenticated"},
			{"bad token", "GET", org, "vetca_nope", nil, 401, "", "unauthenticated"},
			{"wrong role", "POST", "/api/v1/organizations", f.auditor, acme, 403, "", "forbidden"},
			{"subscriber cannot create orgs", "POST", "/api/v1/organizations", f.accToken, acme, 403, "", "forbidden"},
			{"unknown field", "POST", "/api/v1/organizations", f.alice, merge(acme, "organisationName", "x"), 400, "organisationName", "unknown_field"},
			{"field name case differs", "POST", "/api/v1/organizations", f.alice, merge(acme, "OrganizationName", "x"), 400, "OrganizationName", "unknown_field"},
			{"nested field name case differs", "POST", "/api/v1/organizations", f.alice, merge(acme, "sanctionsReview", map[string]any{"reference": "R-1", "Decision": "approved"}), 400, "sanctionsReview.Decision", "unknown_field"},
			{"field with an empty name", "POST", "/api/v1/organizations", f.alice, merge(acme, "", "x"), 400, "body", "unknown_field"},
			{"wrong type", "POST", "/api/v1/organizations", f.alice, merge(acme, "organizationName", 5), 400, "organizationName", "invalid_type"},
			{"nested wrong type", "POST", "/api/v1/organizations", f.alice, merge(acme, "sanctionsReview", map[string]any{"reference": 1}), 400, "sanctionsReview.reference", "invalid_type"},
			{"not JSON", "POST", "/api/v1/organizations", f.alice, "{not json", 400, "body", "invalid_json"},
			{"array body", "POST", "/api/v1/organizations", f.alice, "[]", 400, "body", "invalid_json"},
			{"empty body", "POST", "/api/v1/organizations", f.alice, "", 400, "body", "invalid_json"},
			{"oversize body", "POST", acc + "/contacts", f.accToken, big, 413, "body", "body_too_large"},
			{"XX country", "POST", "/api/v1/organizations", f.alice, merge(acme, "countryName", "XX"), 400, "countryName", "invalid_country"},
			{"lower-case country", "POST", "/api/v1/organizations", f.alice, merge(acme, "countryName", "us"), 400, "countryName", "invalid_country"},
			{"sanctioned without review", "POST", "/api/v1/organizations", f.alice, map[string]any{"organizationName": "Shwe Taung Trading Co. Ltd", "countryName": "MM", "stateOrProvinceName": "Yangon", "localityName": "Yangon"}, 400, "sanctionsReview", "sanctions_review_required"},
			{"placeholder state", "POST", "/api/v1/organizations", f.alice, merge(acme, "stateOrProvinceName", "Some-State"), 400, "stateOrProvinceName", ""},
			{"BR §7.1.4.2 organizationName carries another attribute", "POST", "/api/v1/organizations", f.alice, merge(acme, "organizationName", "Acme Ltd, C=US"), 400, "organizationName", "dn_fragment"},
			{"BR §7.1.4.2 localityName carries another attribute", "POST", "/api/v1/organizations", f.alice, merge(acme, "localityName", "San Francisco/CN=evil.com"), 400, "localityName", "dn_fragment"},
			{"version: BR §7.1.4.2 organizationName carries another attribute", "POST", org + "/versions", f.alice, map[string]any{"organizationName": "Acme Widgets Inc., O=Other"}, 400, "organizationName", "dn_fragment"},
			{"version: unknown field", "POST", org + "/versions", f.alice, map[string]any{"organization": "x"}, 400, "organization", "unknown_field"},
			{"version: no change", "POST", org + "/versions", f.alice, map[string]any{"localityName": "San Francisco"}, 400, "", "no_change"},
			{"verify: unknown version", "POST", org + "/versions/9/verify", f.bob, nil, 404, "version", "not_found"},
			{"verify: not pending", "POST", org + "/versions/1/verify", f.carol, nil, 409, "version", "version_not_pending"},
			{"verify: bad evidence", "POST", org + "/versions/1/verify", f.carol, map[string]any{"evidence": []map[string]string{{"source": "x"}}}, 400, "evidence", "invalid_evidence"},
			{"account: unknown org", "POST", "/api/v1/accounts", f.alice, map[string]any{"name": "X", "organizations": []string{"org_nope"}}, 400, "organizations", "unknown_organization"},
			{"account: no name", "POST", "/api/v1/accounts", f.alice, map[string]any{"organizations": []string{}}, 400, "name", "missing_field"},
			{"contact: subject field", "PATCH", acc + "/contacts/" + f.conID, f.accToken, map[string]any{"organizationName": "Subcontractor LLC"}, 400, "organizationName", "subject_field_not_allowed"},
			{"contact: countryName", "POST", acc + "/contacts", f.accToken, map[string]any{"name": "X", "email": "x@acme.vetca-test.com", "countryName": "AD"}, 400, "countryName", "subject_field_not_allowed"},
			{"contact: bad email", "POST", acc + "/contacts", f.accToken, map[string]any{"name": "X", "email": "not-an-address"}, 400, "email", "invalid_email"},
			{"contact: bad role", "POST", acc + "/contacts", f.accToken, map[string]any{"name": "X", "email": "x@acme.vetca-test.com", "role": "ceo"}, 400, "role", "invalid_role"},
			{"contact: other account", "POST", "/api/v1/accounts/acc_other/contacts", f.accToken, map[string]any{"name": "X", "email": "x@acme.vetca-test.com"}, 403, "", "forbidden"},
			{"contact: form body", "POST", acc + "/contacts", f.accToken, []byte("name=x"), 400, "body", "invalid_json"},
			{"users: not admin", "POST", "/api/v1/users", f.alice, map[string]any{"name": "eve", "roles": []string{"admin"}}, 403, "", "forbidden"},
			{"users: bad role", "POST", "/api/v1/users", e.AdminToken, map[string]any{"name": "eve", "roles": []string{"root"}}, 400, "roles", "invalid_role"},
			{"audit: not auditor", "GET", "/api/v1/audit/events", f.alice, nil, 403, "", "forbidden"},
			{"audit: bad time", "GET", "/api/v1/audit/events?since=yesterday", f.auditor, nil, 400, "since", "invalid_time"},
			{"change: amend identity", "POST", "/api/v1/change-requests", f.alice, map[string]any{"kind": "amend", "table": "organization_versions", "rowId": "x", "field": "country_name", "value": "MM", "reason": "fix"}, 400, "table", "identity_change"},
			{"change: no reason", "POST", "/api/v1/change-requests", f.alice, map[string]any{"kind": "restore", "table": "accounts", "rowId": f.accID}, 400, "reason", "missing_field"},
			{"change: unknown table", "POST", "/api/v1/change-requests", f.alice, map[string]any{"kind": "restore", "table": "audit_events", "rowId": "1", "reason": "x"}, 400, "table", "invalid_table"},
			{"unknown endpoint", "GET", "/api/v1/nope", f.alice, nil, 404, "", "not_found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := f.eventCount(t)
				r := f.Do(tc.method, tc.path, tc.token, tc.body)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
				field, code := r.ErrField()
				if _, ok := r.Body["error"].(map[string]any)["message"].(string); !ok {
					t.Fatalf("no error.message: %s", r.Raw)
				}
				if field != tc.field || (tc.code != "" && code != tc.code) {
					t.Fatalf("field %q code %q, want %q %q: %s", field, code, tc.field, tc.code, r.Raw)
				}
				if after := f.eventCount(t); after != before {
					t.Fatalf("a refused request wrote %d audit events", after-before)
				}
			})
		}
	})
}

// A legal name with commas and periods is not a fragment of a DN (BR
// §7.1.4.2 refuses only values that carry another attribute): it is stored
// and shown exactly as typed.
func TestLegalNamesWithPunctuationAccepted(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		for _, name := range []string{"Example, Inc.", "Smith & Sons, LLC", "O'Brien (UK) Ltd.", "AT&T Inc."} {
			r := e.Do("POST", "/api/v1/organizations", alice, merge(acme, "organizationName", name))
			if r.Status != 201 {
				t.Fatalf("%q: %d %s", name, r.Status, r.Raw)
			}
			r = e.Do("GET", "/api/v1/organizations/"+r.Body["id"].(string), alice, nil)
			pending, _ := r.Body["pending"].([]any)
			if r.Status != 200 || len(pending) != 1 || pending[0].(map[string]any)["organizationName"] != name {
				t.Fatalf("%q not stored as typed: %d %s", name, r.Status, r.Raw)
			}
		}
	})
}

func merge(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}
