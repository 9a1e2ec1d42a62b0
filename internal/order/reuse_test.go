package order_test

import (
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
)

// BR §4.2.1: "In no case may a prior validation be reused if any data or
// document used in the prior validation was obtained more than the
// maximum time permitted". A version verified by two verifiers rests on
// the evidence of both, so its reuse period runs from the first: before,
// it ran from the verification that completed it, and a certificate was
// issued relying on evidence 400 days old.
func TestReuseRunsFromTheOldestVerification(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"streetAddress": "2 Market Street"})
		if p.Status != 201 {
			t.Fatalf("propose: %d %s", p.Status, p.Raw)
		}
		first := f.Clock.Now()
		f.VerifyVersion(2, f.Bob) // bob checks the documents now
		f.Clock.Advance(390 * 24 * time.Hour)
		f.VerifyVersion(2, f.Dave) // dave completes the verification 390 days later
		g := f.Do("GET", "/api/v1/organizations/"+f.OrgID, f.Alice, nil)
		if !strings.Contains(string(g.Raw), `"verifiedAt":"`+first.UTC().Format(time.RFC3339)) {
			t.Fatalf("verifiedAt is not the first verification's time %s: %s", first.UTC().Format(time.RFC3339), g.Raw)
		}
		f.Clock.Advance(10 * 24 * time.Hour)
		f.ValidateDomain(site)
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		if _, code := r.ErrField(); r.Status != 409 || code != "reverification_required" {
			t.Fatalf("order relying on evidence 400 days old: %d %s, want 409 reverification_required", r.Status, r.Raw)
		}
	})
}

// Once the reuse period of an unchanged identity nears its end, or has
// ended, orders are refused (reverification_required: "propose and verify
// it again"), so the same identity must be proposable again: before, a
// proposal that changed nothing was refused (no_change) whatever the age,
// and the organization could never order again without inventing a
// change. Earlier than 60 days before the end it still is.
func TestUnchangedIdentityCanBeVerifiedAgain(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		propose := func() apptest.Response {
			return f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"organizationName": apptest.Acme["organizationName"]})
		}
		if p := propose(); p.Status != 400 || !strings.Contains(string(p.Raw), "no_change") || !strings.Contains(string(p.Raw), "proposed again") {
			t.Fatalf("an unchanged proposal of a freshly verified identity: %d %s, want no_change saying when it may be", p.Status, p.Raw)
		}
		f.Clock.Advance(399 * 24 * time.Hour)
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		if _, code := r.ErrField(); r.Status != 409 || code != "reverification_required" {
			t.Fatalf("order on a lapsed identity: %d %s", r.Status, r.Raw)
		}
		p := propose()
		if p.Status != 201 || len(p.Body["diff"].([]any)) != 0 {
			t.Fatalf("re-verification proposal of the unchanged identity: %d %s", p.Status, p.Raw)
		}
		f.VerifyVersion(2, f.Bob, f.Dave)
		f.ValidateDomain(site)
		if serial, _ := f.Issue(site); serial == "" {
			t.Fatal("no certificate after re-verification")
		}
	})
}
