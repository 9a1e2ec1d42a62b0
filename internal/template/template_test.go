package template_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

func each(t *testing.T, fn func(t *testing.T, f *apptest.OrderFixture)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			fn(t, apptest.NewOrderFixture(t, e, dns))
		})
	}
}

func errOf(r apptest.Response) (code, field, message string) {
	m, _ := r.Body["error"].(map[string]any)
	code, _ = m["code"].(string)
	field, _ = m["field"].(string)
	message, _ = m["message"].(string)
	return code, field, message
}

// body is a valid template request for f's account and organization.
func body(f *apptest.OrderFixture, names ...string) map[string]any {
	if len(names) == 0 {
		names = []string{"*.acme-widgets.com", "acme-widgets.com"}
	}
	return map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID, "dnsNames": names,
		"keyTypes": []string{"ecdsa-p256", "rsa-2048"}, "maxValidityDays": 90}
}

// create makes a template as tok and returns its id and hash.
func create(t *testing.T, f *apptest.OrderFixture, tok string, b map[string]any) (string, string) {
	t.Helper()
	r := f.Do("POST", "/api/v1/templates", tok, b)
	if r.Status != 201 || r.Body["status"] != "pending_approval" {
		t.Fatalf("create template: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string), r.Body["templateHash"].(string)
}

func approve(f *apptest.OrderFixture, tok, id, hash string) apptest.Response {
	return f.Do("POST", "/api/v1/templates/"+id+"/approve", tok, map[string]any{"templateHash": hash})
}

// approveBy has each token approve and fails on any refusal.
func approveBy(t *testing.T, f *apptest.OrderFixture, id, hash string, toks ...string) apptest.Response {
	t.Helper()
	var r apptest.Response
	for _, tok := range toks {
		if r = approve(f, tok, id, hash); r.Status != 200 {
			t.Fatalf("approve %s: %d %s", id, r.Status, r.Raw)
		}
	}
	return r
}

func status(t *testing.T, f *apptest.OrderFixture, id string) apptest.Response {
	t.Helper()
	g := f.Do("GET", "/api/v1/templates/"+id, f.Bob, nil)
	if g.Status != 200 {
		t.Fatalf("get template: %d %s", g.Status, g.Raw)
	}
	return g
}

// Every refused template request is 4xx naming the field, and writes
// nothing.
func TestTemplateInputRefusals(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		unverified := f.Do("POST", "/api/v1/organizations", f.Alice, map[string]any{"organizationName": "Beta Things Ltd",
			"countryName": "US", "stateOrProvinceName": "New York", "localityName": "New York"})
		if unverified.Status != 201 {
			t.Fatal(unverified.Raw)
		}
		unverifiedID := unverified.Body["id"].(string)
		other := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Other", "organizations": []string{unverifiedID}})
		with := func(k string, v any) map[string]any {
			b := body(f)
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		cases := []struct {
			name, rule string
			tok        string
			body       any
			status     int
			code       string
			field      string
		}{
			{"no accountId", "docs/api.md Templates: accountId is required", f.Alice, with("accountId", nil), 400, "missing_field", "accountId"},
			{"unknown account", "docs/api.md Templates: the account must exist", f.Alice, with("accountId", "acc_nosuchaccount00"), 404, "not_found", "accountId"},
			{"no organizationId", "docs/api.md Templates: organizationId is required", f.Alice, with("organizationId", nil), 400, "missing_field", "organizationId"},
			{"unknown organization", "docs/api.md Templates: the organization must exist", f.Alice, with("organizationId", "org_nosuchorg000000"), 404, "not_found", "organizationId"},
			{"organization not linked", "docs/api.md Templates: the organization must be linked to the account", f.Alice, with("organizationId", unverifiedID), 403, "organization_not_allowed", "organizationId"},
			{"organization not verified", "docs/api.md Templates: the organization must have a verified version", f.Alice,
				map[string]any{"accountId": other.Body["id"], "organizationId": unverifiedID, "dnsNames": []string{"beta.com"}, "keyTypes": []string{"rsa-2048"}, "maxValidityDays": 90},
				409, "organization_not_verified", "organizationId"},
			{"no dnsNames", "docs/api.md Templates: dnsNames needs a name", f.Alice, with("dnsNames", []string{}), 400, "missing_field", "dnsNames"},
			{"bad DNS name", "RFC 1034 §3.5 LDH labels (docs/api.md Templates: dnsNames must be valid DNS names)", f.Alice, with("dnsNames", []string{"shop_1.acme-widgets.com"}), 400, "invalid_domain", "dnsNames"},
			{"wildcard not leftmost", "docs/api.md Templates: a wildcard only as the leftmost label", f.Alice, with("dnsNames", []string{"a.*.acme-widgets.com"}), 400, "wildcard_refused", "dnsNames"},
			{"wildcard of a public suffix", "BR §3.2.2.6: no wildcard of a public suffix", f.Alice, with("dnsNames", []string{"*.com"}), 400, "public_suffix", "dnsNames"},
			{"IP address", "BR §3.2.2.5 not implemented: DNS names only", f.Alice, with("dnsNames", []string{"192.0.2.1"}), 400, "ip_address", "dnsNames"},
			{"internal name", "BR §7.1.4.2: no internal names", f.Alice, with("dnsNames", []string{"intranet.corp"}), 400, "reserved_name", "dnsNames"},
			{"no keyTypes", "docs/api.md Templates: keyTypes needs a key type", f.Alice, with("keyTypes", []string{}), 400, "missing_field", "keyTypes"},
			{"unknown key type", "docs/api.md Templates: keyTypes only from the list (BR §6.1.5)", f.Alice, with("keyTypes", []string{"ed25519"}), 400, "invalid_key_type", "keyTypes"},
			{"RSA 1024", "BR §6.1.5: RSA at least 2048 bits", f.Alice, with("keyTypes", []string{"rsa-1024"}), 400, "invalid_key_type", "keyTypes"},
			{"no maxValidityDays", "docs/api.md Templates: maxValidityDays is required", f.Alice, with("maxValidityDays", nil), 400, "missing_field", "maxValidityDays"},
			{"maxValidityDays 0", "docs/api.md Templates: maxValidityDays at least 1", f.Alice, with("maxValidityDays", 0), 400, "invalid_validity", "maxValidityDays"},
			{"maxValidityDays over the BR cap", "BR §6.3.2: 200 days from 2026-03-15", f.Alice, with("maxValidityDays", 201), 400, "validity_too_long", "maxValidityDays"},
			{"maxValidityDays not a number", "docs/api.md Errors: wrong type", f.Alice, with("maxValidityDays", "90"), 400, "invalid_type", "maxValidityDays"},
			{"unknown field", "docs/api.md Errors: unknown fields refused", f.Alice, with("validityDays", 90), 400, "unknown_field", "validityDays"},
			{"a subscriber", "docs/api.md Templates: verifiers create templates", f.AccTok, body(f), 403, "forbidden", ""},
			{"an auditor", "docs/api.md Templates: verifiers create templates", f.Auditor, body(f), 403, "forbidden", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := f.Do("POST", "/api/v1/templates", tc.tok, tc.body)
				code, field, _ := errOf(r)
				if r.Status != tc.status || code != tc.code || field != tc.field {
					t.Fatalf("%s: got %d %s field %q, want %d %s field %q: %s", tc.rule, r.Status, code, field, tc.status, tc.code, tc.field, r.Raw)
				}
			})
		}
		if l := f.Do("GET", "/api/v1/templates", f.Bob, nil); l.Status != 200 || len(l.Body["templates"].([]any)) != 0 {
			t.Fatalf("a refused request left a template: %d %s", l.Status, l.Raw)
		}
	})
}

// A template is approved by two distinct verifiers, each approving the
// hash they reviewed; a stale hash is 409 and approving twice is 409.
func TestTemplateApproval(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id, hash := create(t, f, f.Alice, body(f))
		if g := status(t, f, id); g.Body["templateHash"] != hash || g.Body["organizationVersion"] != float64(1) ||
			len(g.Body["approvals"].([]any)) != 0 || g.Body["approvalsRequired"] != float64(2) {
			t.Fatalf("new template: %s", g.Raw)
		}
		if r := f.Do("POST", "/api/v1/templates/"+id+"/approve", f.Bob, map[string]any{}); r.Status != 400 {
			t.Fatalf("approve without a hash: %d %s", r.Status, r.Raw)
		}
		r := approve(f, f.Bob, id, strings.Repeat("0", 64))
		if code, field, _ := errOf(r); r.Status != 409 || code != "template_mismatch" || field != "templateHash" {
			t.Fatalf("stale hash: %d %s", r.Status, r.Raw)
		}
		if r := approveBy(t, f, id, hash, f.Bob); r.Body["status"] != "pending_approval" {
			t.Fatalf("one approval approved it: %s", r.Raw)
		}
		if r := approve(f, f.Bob, id, hash); r.Status != 409 {
			t.Fatalf("second approval by the same verifier: %d %s", r.Status, r.Raw)
		} else if code, _, _ := errOf(r); code != "already_approved" {
			t.Fatalf("second approval: %s", r.Raw)
		}
		if r := approve(f, f.Auditor, id, hash); r.Status != 403 {
			t.Fatalf("an auditor approved: %d %s", r.Status, r.Raw)
		}
		r = approveBy(t, f, id, hash, f.Carol)
		if r.Body["status"] != "approved" || len(r.Body["approvals"].([]any)) != 2 {
			t.Fatalf("two approvals: %s", r.Raw)
		}
		// Staff list every account's templates; a subscriber only its own.
		if l := f.Do("GET", "/api/v1/templates?accountId="+f.AccountID, f.Auditor, nil); l.Status != 200 || len(l.Body["templates"].([]any)) != 1 {
			t.Fatalf("list: %d %s", l.Status, l.Raw)
		}
		if l := f.Do("GET", "/api/v1/templates", f.AccTok, nil); l.Status != 200 || len(l.Body["templates"].([]any)) != 1 {
			t.Fatalf("subscriber list: %d %s", l.Status, l.Raw)
		}
		other := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Other", "organizations": []string{f.OrgID}})
		otherTok := other.Body["token"].(string)
		if g := f.Do("GET", "/api/v1/templates/"+id, otherTok, nil); g.Status != 404 {
			t.Fatalf("another account's subscriber read the template: %d %s", g.Status, g.Raw)
		}
		if l := f.Do("GET", "/api/v1/templates?accountId="+f.AccountID, otherTok, nil); l.Status != 403 {
			t.Fatalf("another account's subscriber listed the templates: %d %s", l.Status, l.Raw)
		}
	})
}

// No one person completes a dual control (docs/design.md §5): whoever
// created the template, or acted for its account — created it, linked the
// organization, issued one of its tokens, created one of its EAB keys — is
// refused with 403 self_approval.
func TestTemplateSelfApproval(t *testing.T) {
	cases := []struct {
		name, rule string
		// act makes the verifier tok act for a fresh account of the
		// organization (or not), and returns that account's id.
		act  func(t *testing.T, f *apptest.OrderFixture, tok string) string
		what string
	}{
		{"created the template", "docs/design.md §5: the requester may not approve", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			return f.AccountID
		}, "created or changed template"},
		{"created the account", "docs/design.md §5: the account's creator acted for it", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			r := f.Do("POST", "/api/v1/accounts", tok, map[string]any{"name": "Acme Shell", "organizations": []string{f.OrgID}})
			if r.Status != 201 {
				t.Fatalf("account: %d %s", r.Status, r.Raw)
			}
			return r.Body["id"].(string)
		}, "created account"},
		{"linked the organization", "docs/design.md §5: who linked the organization acted for the account", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			r := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Acme Other"})
			id := r.Body["id"].(string)
			if r := f.Do("POST", "/api/v1/accounts/"+id+"/organizations", tok, map[string]any{"organizationId": f.OrgID}); r.Status >= 300 {
				t.Fatalf("link: %d %s", r.Status, r.Raw)
			}
			return id
		}, "linked organization"},
		{"issued the account's token", "docs/design.md §5: a token issuer acted for the account", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", tok, nil); r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
			return f.AccountID
		}, "issued subscriber token"},
		{"created an EAB key of the account", "docs/design.md §5: an EAB key's creator acted for the account", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", tok, nil); r.Status != 201 {
				t.Fatalf("eab key: %d %s", r.Status, r.Raw)
			}
			return f.AccountID
		}, "created EAB key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, f *apptest.OrderFixture) {
				erin := f.User("erin", actor.Verifier)
				accountID := tc.act(t, f, erin)
				creator := f.Alice
				if tc.name == "created the template" {
					creator = erin
				}
				b := body(f)
				b["accountId"] = accountID
				id, hash := create(t, f, creator, b)
				r := approve(f, erin, id, hash)
				if code, _, msg := errOf(r); r.Status != 403 || code != "self_approval" || !strings.Contains(msg, tc.what) {
					t.Fatalf("%s: a verifier who %s approved: %d %s", tc.rule, tc.name, r.Status, r.Raw)
				}
				if r := approveBy(t, f, id, hash, f.Bob, f.Carol); r.Body["status"] != "approved" {
					t.Fatalf("two independent verifiers: %s", r.Raw)
				}
			})
		})
	}
}

// Any change to a template voids its approvals (docs/design.md §4): it is
// pending again under a new hash, the old hash is 409 template_mismatch,
// and whoever changed it may not approve it. A change that changes
// nothing writes nothing.
func TestTemplateChangeVoidsApprovals(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id, hash := create(t, f, f.Alice, body(f))
		approveBy(t, f, id, hash, f.Bob, f.Carol)
		same := f.Do("PUT", "/api/v1/templates/"+id, f.Dave, body(f, "acme-widgets.com", "*.acme-widgets.com", "ACME-WIDGETS.COM"))
		if same.Status != 200 || same.Body["templateHash"] != hash || same.Body["status"] != "approved" {
			t.Fatalf("an update that changes nothing: %d %s", same.Status, same.Raw)
		}
		b := body(f)
		b["keyTypes"] = []string{"ecdsa-p384"}
		delete(b, "accountId")
		r := f.Do("PUT", "/api/v1/templates/"+id, f.Dave, b)
		if r.Status != 200 || r.Body["status"] != "pending_approval" || r.Body["templateHash"] == hash || len(r.Body["approvals"].([]any)) != 0 {
			t.Fatalf("change: %d %s", r.Status, r.Raw)
		}
		newHash := r.Body["templateHash"].(string)
		if a := approve(f, f.Bob, id, hash); a.Status != 409 {
			t.Fatalf("old hash after a change: %d %s", a.Status, a.Raw)
		} else if code, _, _ := errOf(a); code != "template_mismatch" {
			t.Fatalf("old hash: %s", a.Raw)
		}
		if a := approve(f, f.Dave, id, newHash); a.Status != 403 {
			t.Fatalf("the verifier who changed it approved: %d %s", a.Status, a.Raw)
		}
		b["accountId"] = "acc_another0000000"
		if a := f.Do("PUT", "/api/v1/templates/"+id, f.Dave, b); a.Status != 400 {
			t.Fatalf("moving a template to another account: %d %s", a.Status, a.Raw)
		} else if _, field, _ := errOf(a); field != "accountId" {
			t.Fatalf("moving a template: %s", a.Raw)
		}
		if r := approveBy(t, f, id, newHash, f.Bob, f.Carol); r.Body["status"] != "approved" {
			t.Fatalf("approved again: %s", r.Raw)
		}
		ev := f.Do("GET", "/api/v1/audit/events?entityType=template_approvals&action=template.approval_voided", f.AdminToken, nil)
		if ev.Status != 200 || len(ev.Body["events"].([]any)) != 2 {
			t.Fatalf("voided approvals in the audit trail: %d %s", ev.Status, ev.Raw)
		}
	})
}

// A disabled template is 409 template_disabled to approve or change, and
// never matches.
func TestTemplateDisable(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id, hash := create(t, f, f.Alice, body(f))
		approveBy(t, f, id, hash, f.Bob, f.Carol)
		if r := f.Do("POST", "/api/v1/templates/"+id+"/disable", f.Carol, map[string]any{}); r.Status != 400 {
			t.Fatalf("disable without a reason: %d %s", r.Status, r.Raw)
		}
		if r := f.Do("POST", "/api/v1/templates/"+id+"/disable", f.AccTok, map[string]any{"reason": "x"}); r.Status != 403 {
			t.Fatalf("a subscriber disabled: %d %s", r.Status, r.Raw)
		}
		r := f.Do("POST", "/api/v1/templates/"+id+"/disable", f.Carol, map[string]any{"reason": "the customer left"})
		if r.Status != 200 || r.Body["status"] != "disabled" || r.Body["disableReason"] != "the customer left" || len(r.Body["approvals"].([]any)) != 0 {
			t.Fatalf("disable: %d %s", r.Status, r.Raw)
		}
		for _, a := range []apptest.Response{approve(f, f.Dave, id, hash), f.Do("PUT", "/api/v1/templates/"+id, f.Dave, body(f)),
			f.Do("POST", "/api/v1/templates/"+id+"/disable", f.Carol, map[string]any{"reason": "again"})} {
			if code, _, _ := errOf(a); a.Status != 409 || code != "template_disabled" {
				t.Fatalf("a disabled template: %d %s", a.Status, a.Raw)
			}
		}
		_, err := f.App.Templates.Match(context.Background(), f.AccountID, []string{"www.acme-widgets.com"}, "ecdsa-p256", 90)
		if err == nil {
			t.Fatal("a disabled template matched")
		}
	})
}
