package order_test

import (
	"context"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/vetting"
)

// The sanctions list decides whether a version may be verified without a
// sanctions review and a compliance verifier (docs/design.md §3), so it is
// one of the settings every replica must share (§4): a replica started
// with another --sanctioned-countries would verify, with no review, an
// identity in a country the others sanction, and they would issue for it.
func TestSanctionsListIsAnInstallationSetting(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			strict := append(append([]string{}, vetting.DefaultSanctioned...), "RU")
			e := apptest.New(t, b, opt, func(c *app.Config) { c.SanctionedCountries = strict })
			apptest.NewOrderFixture(t, e, dns, site)
			ctx := context.Background()
			op := actor.CLIActor("operator")
			if err := e.App.RecordSettings(ctx, op, false); err != nil {
				t.Fatal(err)
			}
			lax := *e
			lax.Cfg.SanctionedCountries = nil // the default list, without RU
			err := lax.Replica().App.RecordSettings(ctx, op, false)
			if err == nil || !strings.Contains(err.Error(), "--sanctioned-countries") || !strings.Contains(err.Error(), "RU") {
				t.Fatalf("a replica with another sanctions list starts: %v", err)
			}
		})
	}
}

// A country added to the sanctions list after an organization there was
// verified: its verified version has no sanctions review, so nothing more
// is ordered, approved or issued for it (409 sanctions_not_cleared) until
// the identity is proposed again with the review and verified by a
// compliance verifier (docs/design.md §3).
func TestCountrySanctionedAfterVerificationStopsIssuance(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			f := apptest.NewOrderFixture(t, apptest.New(t, b, opt), dns, site)
			ctx := context.Background()
			order := func(g *apptest.Env) (string, string) {
				r := g.Do("POST", "/api/v1/orders", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
				if r.Status != 201 {
					t.Fatalf("order: %d %s", r.Status, r.Raw)
				}
				return r.Body["id"].(string), r.Body["snapshotHash"].(string)
			}
			approved, hash := order(f.Env)
			for _, tok := range []string{f.Bob, f.Carol} {
				if a := f.Do("POST", "/api/v1/orders/"+approved+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
					t.Fatalf("approve: %d %s", a.Status, a.Raw)
				}
			}
			// The operator adds US to the list, for the installation.
			withUS := *f.Env
			withUS.Cfg.SanctionedCountries = append(append([]string{}, vetting.DefaultSanctioned...), "US")
			g := withUS.Replica()
			if err := g.App.RecordSettings(ctx, actor.CLIActor("operator"), true); err != nil {
				t.Fatal(err)
			}
			notCleared := func(what string, r apptest.Response) {
				t.Helper()
				if field, code := r.ErrField(); r.Status != 409 || code != "sanctions_not_cleared" || field != "organizationId" {
					t.Fatalf("%s: %d %s, want 409 sanctions_not_cleared", what, r.Status, r.Raw)
				}
			}
			notCleared("order", g.Do("POST", "/api/v1/orders", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)}))
			notCleared("finalize of an order approved before", g.Do("POST", "/api/v1/orders/"+approved+"/finalize", f.AccTok, nil))
			var certs int
			if err := g.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM certificates`).Scan(&certs); err != nil || certs != 0 {
				t.Fatalf("%d certificates (%v)", certs, err)
			}
			// Proposed again with the review, and verified by compliance
			// (carol), the identity is cleared.
			p := g.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{
				"sanctionsReview": map[string]any{"reference": "LEGAL-7", "decision": "approved", "notes": "screened"}})
			if p.Status != 201 {
				t.Fatalf("propose with the review: %d %s", p.Status, p.Raw)
			}
			for _, tok := range []string{f.Bob, f.Carol} {
				if v := g.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions/2/verify", tok, map[string]any{}); v.Status != 200 {
					t.Fatalf("verify: %d %s", v.Status, v.Raw)
				}
			}
			id, hash := order(g)
			for _, tok := range []string{f.Bob, f.Carol} {
				if a := g.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
					t.Fatalf("approve: %d %s", a.Status, a.Raw)
				}
			}
			if fin := g.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 200 {
				t.Fatalf("finalize once cleared: %d %s", fin.Status, fin.Raw)
			}
		})
	}
}
