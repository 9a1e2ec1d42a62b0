package scan_test

import (
	"context"
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/scan"
)

// templateFixture is an order fixture for good whose account has one
// template covering good.
func templateFixture(t *testing.T, backend string) *apptest.OrderFixture {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	return apptest.NewOrderFixture(t, e, dns, good)
}

// newTemplate has creator create a template of f's account covering good
// and each of approvers approve it; it returns the template's id and hash.
func newTemplate(t *testing.T, f *apptest.OrderFixture, creator string, approvers ...string) (string, string) {
	t.Helper()
	r := f.Do("POST", "/api/v1/templates", creator, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
		"dnsNames": []string{good}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
	if r.Status != 201 {
		t.Fatalf("create template: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["templateHash"].(string)
	for _, tok := range approvers {
		if a := f.Do("POST", "/api/v1/templates/"+id+"/approve", tok, map[string]any{"templateHash": hash}); a.Status != 200 {
			t.Fatalf("approve template: %d %s", a.Status, a.Raw)
		}
	}
	return id, hash
}

// issueUnderTemplate issues a certificate for good under template id as
// the ACME server does: order.PlaceUnderTemplate, then Finalize.
func issueUnderTemplate(t *testing.T, f *apptest.OrderFixture, id, hash string) string {
	t.Helper()
	ctx := context.Background()
	// The account itself, as the ACME server places orders for one (an
	// ACME actor would name an ACME account, which the order service
	// asks about as the certificate is stored; none is registered here).
	by := actor.Actor{Kind: actor.Subscriber, ID: f.AccountID, Name: f.AccountID, AccountID: f.AccountID}
	days := 30
	o, err := f.App.Orders.PlaceUnderTemplate(ctx, by, order.CreateInput{AccountID: f.AccountID, OrganizationID: f.OrgID,
		DNSNames: []string{good}, CSR: apptest.CSR(t, apptest.Key(t), pkix.Name{}, good), ValidityDays: &days}, id, hash)
	if err != nil {
		t.Fatalf("place under template: %v", err)
	}
	iss, err := f.App.Orders.Finalize(ctx, by, o.ID)
	if err != nil {
		t.Fatalf("finalize under template: %v", err)
	}
	return iss.Serial
}

// chainFindings runs a fresh scan and returns its audit chain findings.
func chainFindings(t *testing.T, f *apptest.OrderFixture) []scan.Finding {
	t.Helper()
	res, err := f.App.Scanner(nil).Run(context.Background(), scan.Options{Restart: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []scan.Finding
	for _, fd := range res.Findings {
		if fd.Lint == scan.CheckAuditChain {
			out = append(out, fd)
		}
	}
	return out
}

// TestTemplateIssuanceJudgedAsOfIssuance: a certificate issued under a
// template is judged by its audit chain as of its issuance
// (docs/design.md §5): what happens to the template after the certificate
// was issued — it is disabled, an approver acts for the account, a new
// organization version rebinds it, it is changed — does not make the
// chain incomplete. Before, scan judged the template as it is now and
// reported every such certificate.
func TestTemplateIssuanceJudgedAsOfIssuance(t *testing.T) {
	cases := []struct {
		name, rule string
		after      func(t *testing.T, f *apptest.OrderFixture, id string)
	}{
		{"template disabled", "one person may disable a template; it never matches again, but what it approved stands", func(t *testing.T, f *apptest.OrderFixture, id string) {
			if r := f.Do("POST", "/api/v1/templates/"+id+"/disable", f.Dave, map[string]any{"reason": "customer left"}); r.Status != 200 {
				t.Fatalf("disable: %d %s", r.Status, r.Raw)
			}
		}},
		{"an approver rotates the account's token", "BR §5.2.2: an act for the account after issuance breaks no dual control already met", func(t *testing.T, f *apptest.OrderFixture, _ string) {
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", f.Bob, nil); r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
		}},
		{"an approver creates an EAB key", "BR §5.2.2: an act for the account after issuance breaks no dual control already met", func(t *testing.T, f *apptest.OrderFixture, _ string) {
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", f.Bob, nil); r.Status != 201 {
				t.Fatalf("eab key: %d %s", r.Status, r.Raw)
			}
		}},
		{"a new organization version rebinds it", "docs/design.md §14: a new verified version voids the template's approvals from then on", func(t *testing.T, f *apptest.OrderFixture, _ string) {
			if r := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); r.Status != 201 {
				t.Fatalf("propose: %d %s", r.Status, r.Raw)
			}
			f.VerifyVersion(2, f.Bob, f.Dave)
		}},
		{"an approver changes it", "docs/design.md §14: a change voids the approvals from then on", func(t *testing.T, f *apptest.OrderFixture, id string) {
			if r := f.Do("PUT", "/api/v1/templates/"+id, f.Carol, map[string]any{"organizationId": f.OrgID,
				"dnsNames": []string{good, "www." + good}, "keyTypes": []string{"ecdsa-p256", "rsa-2048"}, "maxValidityDays": 60}); r.Status != 200 {
				t.Fatalf("change: %d %s", r.Status, r.Raw)
			}
		}},
	}
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f := templateFixture(t, b)
					id, hash := newTemplate(t, f, f.Alice, f.Bob, f.Carol)
					serial := issueUnderTemplate(t, f, id, hash)
					if got := chainFindings(t, f); len(got) != 0 {
						t.Fatalf("right after issuance: %+v", got)
					}
					f.Clock.Advance(time.Hour)
					tc.after(t, f, id)
					for _, fd := range chainFindings(t, f) {
						if fd.Serial == serial {
							t.Fatalf("%s: %s reported after the certificate was issued: %s", tc.rule, tc.name, fd.Message)
						}
					}
				})
			}
		})
	}
}

// TestTemplateApproverActingBeforeIssuanceIsReported: a verifier who
// issued the account's token hides that token's row from the template
// approval's read (moved to another account by SQL), approves the
// template, a second verifier approves, a certificate is issued under it
// and the row is put back. The scan still reports the certificate's audit
// chain as incomplete, naming the approver and what they did before the
// issuance (BR §5.2.2, docs/design.md §5).
func TestTemplateApproverActingBeforeIssuanceIsReported(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f := templateFixture(t, b)
			ctx := context.Background()
			alice := f.Actor(f.Alice)
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", f.Alice, nil); r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
			if _, err := f.App.DB.Exec(ctx, `UPDATE api_tokens SET account_id = 'acc_elsewhere' WHERE issued_by = ? AND account_id = ?`, alice.ID, f.AccountID); err != nil {
				t.Fatal(err)
			}
			id, hash := newTemplate(t, f, f.Carol, f.Alice, f.Dave)
			serial := issueUnderTemplate(t, f, id, hash)
			if _, err := f.App.DB.Exec(ctx, `UPDATE api_tokens SET account_id = ? WHERE issued_by = ? AND account_id = 'acc_elsewhere'`, f.AccountID, alice.ID); err != nil {
				t.Fatal(err)
			}
			f.Clock.Advance(time.Hour)
			got := chainFindings(t, f)
			var serials []string
			for _, fd := range got {
				serials = append(serials, fd.Serial)
			}
			if !slices.Equal(serials, []string{serial}) {
				t.Fatalf("findings %+v, want %s's audit chain only", got, serial)
			}
			for _, want := range []string{id, alice.ID, "issued subscriber token"} {
				if !strings.Contains(got[0].Message, want) {
					t.Fatalf("finding %q does not name %q", got[0].Message, want)
				}
			}
		})
	}
}
