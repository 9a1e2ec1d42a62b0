package acme_test

import (
	"context"
	"crypto/x509/pkix"
	"database/sql"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/vetting"
)

// A template approver disabled since (left the CA) no longer completes
// the template's dual control: ACME issued on bob's approval, while a
// manual order with bob's approval was refused at finalize
// (TestDisabledApproverNoLongerCounts); both refuse now.
func TestDisabledTemplateApproverNoLongerCounts(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		f.DisableUser(f.Actor(f.Bob).ID)
		o := f.newOrder(t, "www.acme-widgets.com")
		if o.Status == 201 {
			fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
			t.Fatalf("template approved by a disabled verifier (bob) still issues: newOrder %d, finalize %d %s", o.Status, fin.Status, fin.Raw)
		}
	})
}

// setupWithOpen is setup on an app opened with the test-only options.
func setupWithOpen(t *testing.T, backend string, open app.Options) *fixture {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	return setupOn(t, apptest.NewWithOpen(t, backend, open, opt), dns)
}

// finalizeWithdrawing registers an ACME account on backend, orders a name
// and finalizes it, running withdraw once the issuance's intent is
// recorded (the certificate being signed), and returns the fixture and
// finalize's answer. withdraw must succeed.
func finalizeWithdrawing(t *testing.T, backend string, withdraw func(f *fixture) error) (*fixture, acmetest.Response) {
	t.Helper()
	var hook func()
	f := setupWithOpen(t, backend, app.Options{IssuanceHooks: &issuance.Hooks{AfterIntent: func() {
		if hook != nil {
			h := hook
			hook = nil
			h()
		}
	}}})
	f.register(t)
	o := f.newOrder(t, "www.acme-widgets.com")
	if o.Status != 201 || o.Body["status"] != "ready" {
		t.Fatalf("new order: %d %s", o.Status, o.Raw)
	}
	ran := false
	hook = func() {
		if err := withdraw(f); err != nil {
			t.Errorf("withdraw while signing: %v", err)
			return
		}
		ran = true
	}
	fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
	if !ran {
		t.Fatalf("the hook did not run: %d %s", fin.Status, fin.Raw)
	}
	return f, fin
}

// A template disabled while a certificate placed under it is being signed
// (its intent recorded) stands, as a reject of an order does then: the
// certificate is not delivered and its serial is answered as revoked
// (order.storeOnce, template.Withdrawn). Before, it was stored and
// delivered to the ACME client after the disable committed.
func TestTemplateDisabledWhileSigningIsNotDelivered(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, fin := finalizeWithdrawing(t, b, func(f *fixture) error {
				_, err := f.App.Templates.Disable(context.Background(), f.Staff("cleo", actor.Compliance), f.tmplID, "the subscriber's domain was sold")
				return err
			})
			if fin.Status == 200 && fin.Body["status"] == "valid" {
				cr := f.c.Post(fin.Body["certificate"].(string), nil, acmetest.Opts{})
				t.Fatalf("the template was disabled (200) while the certificate was signed, yet it was delivered: finalize %d %s; certificate %d (%d bytes)", fin.Status, fin.Raw, cr.Status, len(cr.Raw))
			}
		})
	}
}

// The EAB key that bound an ACME account revoked while the account's
// finalize is signing (its intent recorded): the certificate is not
// delivered, its serial is answered as revoked, as for a template disabled
// then. Before, the account was checked only when the request was
// authenticated, and the certificate was issued after the revocation
// committed.
func TestEABRevokedWhileSigningIsNotDelivered(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, fin := finalizeWithdrawing(t, b, func(f *fixture) error {
				_, err := f.App.EAB.Revoke(context.Background(), f.Staff("cleo", actor.Compliance), f.AccountID, f.kid)
				return err
			})
			var certs int
			if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM certificates`).Scan(&certs); err != nil {
				t.Fatal(err)
			}
			if fin.Status == 200 || certs != 0 {
				t.Fatalf("the EAB key was revoked while the certificate was signed, yet %d certificate(s) were stored: finalize %d %s", certs, fin.Status, fin.Raw)
			}
		})
	}
}

// An account deactivated while its finalize is signing (its intent
// recorded) is stopped as an account whose EAB key was revoked then: RFC
// 8555 §7.3.6 has the server accept no further request of a deactivated
// account and cancel its pending operations, and a subscriber deactivates
// an account precisely when its key is in the wrong hands. Before,
// AccountUsable asked only the key and the binding, so the certificate was
// stored and delivered after the deactivation committed.
func TestAccountDeactivatedWhileSigningIsNotDelivered(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, fin := finalizeWithdrawing(t, b, func(f *fixture) error {
				if r := deactivate(f.c, f.c.KID); r.Status != 200 || r.Body["status"] != "deactivated" {
					t.Errorf("deactivate: %d %s", r.Status, r.Raw)
				}
				return nil
			})
			var certs int
			if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM certificates`).Scan(&certs); err != nil {
				t.Fatal(err)
			}
			if fin.Status == 200 || certs != 0 {
				t.Fatalf("the account was deactivated while the certificate was signed, yet %d certificate(s) were stored: finalize %d %s", certs, fin.Status, fin.Raw)
			}
		})
	}
}

// On SQLite, retyping an EAB key row's account_id as a BLOB (which keeps
// its row hash) hid its creator from the template's dual-control check:
// eab.CreatorsBefore's "account_id = ?" no longer found it, so carol, who
// created an EAB key of the account (a credential she could hand to an
// ACME client of her own), approved its template. The lookup now matches
// the retyped value and fails closed on it (store.TextIs), as the token
// and link lookups do (TestRetypedTokenDoesNotHideWhoActedForTheAccount).
func TestRetypedEABKeyDoesNotHideItsCreator(t *testing.T) {
	f := setup(t, apptest.SQLite)
	r := f.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
		"dnsNames": []string{"shop.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
	if r.Status != 201 {
		t.Fatalf("template: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["templateHash"].(string)
	// Before: carol created f.kid, so she may not approve.
	if a := f.Do("POST", "/api/v1/templates/"+id+"/approve", f.Carol, map[string]any{"templateHash": hash}); a.Status != 403 {
		t.Fatalf("setup: carol, who created an EAB key of the account, approves: %d %s", a.Status, a.Raw)
	}
	// An insider with the database file, on a connection of their own
	// (foreign keys are a per-connection pragma on SQLite).
	raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(f.Cfg.DB, "sqlite:")+"?_pragma=busy_timeout(30000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE eab_keys SET account_id = CAST(account_id AS BLOB) WHERE id = ?`, f.kid); err != nil {
		t.Fatal(err)
	}
	a := f.Do("POST", "/api/v1/templates/"+id+"/approve", f.Carol, map[string]any{"templateHash": hash})
	if a.Status == 200 {
		t.Fatalf("BR §5.2.2: carol, who created EAB key %s of the account, approves its template once the key's account_id is retyped: %d %s", f.kid, a.Status, a.Raw)
	}
}

// One template whose organization can no longer be issued for (its
// country put on the sanctions list) stopped every ACME order of the
// account, for its other organizations too: Match failed the whole
// request on the first template whose hash could not be recomputed (409
// sanctions_not_cleared). That template is now set aside, and named only
// if it alone would cover the request.
func TestOneSanctionedOrganizationLeavesOtherTemplates(t *testing.T) {
	f := setup(t, apptest.SQLite)
	f.register(t)
	// A second organization of the account, in Germany, with a template.
	de := map[string]any{"organizationName": "Acme Widgets GmbH", "countryName": "DE", "stateOrProvinceName": "Berlin",
		"localityName": "Berlin", "streetAddress": "Unter den Linden 1", "postalCode": "10117"}
	r := f.Do("POST", "/api/v1/organizations", f.Alice, de)
	if r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	org2 := r.Body["id"].(string)
	for _, tok := range []string{f.Bob, f.Dave} {
		if v := f.Do("POST", "/api/v1/organizations/"+org2+"/versions/1/verify", tok, map[string]any{
			"evidence": []map[string]string{{"source": "registry", "reference": "HRB 1"}}}); v.Status != 200 {
			t.Fatalf("verify: %d %s", v.Status, v.Raw)
		}
	}
	if l := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/organizations", f.AdminToken, map[string]any{"organizationId": org2}); l.Status >= 300 {
		t.Fatalf("link: %d %s", l.Status, l.Raw)
	}
	f.ValidateDomain("acme-widgets.de")
	r = f.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": org2,
		"dnsNames": []string{"acme-widgets.de"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
	if r.Status != 201 {
		t.Fatalf("template: %d %s", r.Status, r.Raw)
	}
	for _, tok := range []string{f.Bob, f.Dave} {
		if a := f.Do("POST", "/api/v1/templates/"+r.Body["id"].(string)+"/approve", tok, map[string]any{"templateHash": r.Body["templateHash"]}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	// The operator adds DE to the sanctions list, for the installation.
	withDE := *f.Env
	withDE.Cfg.SanctionedCountries = append(append([]string{}, vetting.DefaultSanctioned...), "DE")
	g := withDE.Replica()
	if err := g.App.RecordSettings(context.Background(), actor.CLIActor("operator"), true); err != nil {
		t.Fatal(err)
	}
	c := acmetest.New(t, g.Server.URL, g.Cfg.PublicURL, f.c.Key)
	c.KID = f.c.KID
	o := c.Post(c.URL("newOrder"), map[string]any{"identifiers": ids("www.acme-widgets.com")}, acmetest.Opts{})
	if o.Status != 201 {
		t.Fatalf("an order for the US organization's names, under its own approved template, is refused because another organization of the account is sanctioned: %d %s", o.Status, o.Raw)
	}
}

// A registered ACME account's key is not certified through the portal
// either: finalize refused exactly that CSR (badCSR), and a manual order
// with it was approved and issued, since the check lived only on the ACME
// path. The order service, which both paths share, refuses it now (400
// account_key naming csr).
func TestManualOrderRefusesAnACMEAccountKey(t *testing.T) {
	f := setup(t, apptest.SQLite)
	k := key(t)
	f.c = acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, k)
	f.register(t)
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{"www.acme-widgets.com"}, "csr": apptest.CSR(t, k, pkix.Name{}, "www.acme-widgets.com")})
	if field, code := r.ErrField(); r.Status != 400 || code != "account_key" || field != "csr" {
		t.Fatalf("a manual order for the key of a registered ACME account (thumbprint %s): %d %s, want 400 account_key", acmetest.Thumbprint(t, k), r.Status, r.Raw)
	}
}
