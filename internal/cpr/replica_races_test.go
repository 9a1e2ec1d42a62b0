package cpr_test

import (
	"context"
	"crypto/elliptic"
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/revocation"
)

// Two replicas on one PostgreSQL database; the test holds a row lock itself
// to line the contenders up in a known order, then lets them go.

// A problem report's revoke decision awaits confirmation
// (--confirm-revocation), its revocation due at D (BR §4.9.1.1). An
// incident's bulk revocation on replica A revokes the certificate at D-1s,
// in a batch still running at D (it waits for the next certificate's row).
// Replica B's deadline watch runs at D+1s. The revocation was recorded
// before D: no breach may be recorded on the case, then or later. Before,
// the watch recorded one as soon as D passed, for good (the case's lock
// does not order an incident's batch), as the incident watch did before it
// waited revocation.CommitWindow.
func TestRevocationInFlightAtTheDeadlineIsNoBreach(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt, func(c *app.Config) { c.ConfirmRevocation = true })
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	sorted := f.IssueCopies(site, 4)
	slices.Sort(sorted)
	id := reportWrongLocality(t, e, []string{sorted[0]})
	if p := e.Do("POST", "/api/v1/problem-reports/"+id+"/preliminary-report", f.Carol, map[string]any{"findings": "looking"}); p.Status != 200 {
		t.Fatalf("preliminary: %d %s", p.Status, p.Raw)
	}
	dv := e.Do("POST", "/api/v1/problem-reports/"+id+"/decide", f.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#13", "reason": "locality wrong"})
	if dv.Status != 200 {
		t.Fatalf("decide: %d %s", dv.Status, dv.Raw)
	}
	due := timeOf(t, dv.Body["revocationDue"])
	incID := openIncident(t, f, "vetca Test CA: Certificates issued with a wrong localityName", "4.9.1.1#12", sorted)
	b := e.Replica()
	set := func(at time.Time) { e.Clock.Set(at); b.Clock.Set(at) }
	set(due.Add(-time.Second))
	hold := e.HoldRow(`SELECT id FROM incident_certificates WHERE incident_id = $1 AND serial = $2 FOR UPDATE`, incID, sorted[1])
	res := make(chan apptest.Response, 1)
	go func() {
		res <- e.Do("POST", "/api/v1/incidents/"+incID+"/revoke", f.Carol, map[string]any{"workers": 1})
	}()
	hold.WaitBlocked(1)
	set(due.Add(time.Second))
	if _, ok, err := b.App.CPRWatch.RunOnce(ctx); err != nil || !ok {
		t.Fatalf("watch: %v %v", ok, err)
	}
	hold.Release()
	if rv := <-res; rv.Status != 200 {
		t.Fatalf("bulk revocation: %d %s", rv.Status, rv.Raw)
	}
	set(due.Add(revocation.CommitWindow + time.Minute))
	if _, ok, err := b.App.CPRWatch.RunOnce(ctx); err != nil || !ok {
		t.Fatalf("watch: %v %v", ok, err)
	}
	v, err := e.App.CPR.Get(ctx, e.Actor(f.Carol), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Breaches) > 0 {
		t.Fatalf("revoked (by the incident, at %s) before its deadline %s, yet the case has a breach: %+v", due.Add(-time.Second).Format(time.RFC3339), due.Format(time.RFC3339), v.Breaches)
	}
}

// A compliance user decides a problem report (revoke) on replica B while an
// incident's bulk revocation of the same certificate runs on replica A;
// both read the certificate unrevoked and meet at its row lock, which the
// incident gets first. Answered as if in turn (docs/design.md §10), the
// decision finds the certificate revoked already: 200, and the revocation
// is claimed once, by the incident. Before, the decision read the
// revocation before the lock and was refused 409 already_revoked, rolled
// back whole (and the watch's scheduled revocations failed the same way).
func TestDecisionAfterAnIncidentRevokedTheCertificateMeanwhile(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	serial, _ := f.Issue(site)
	id := reportWrongLocality(t, e, []string{serial})
	incID := openIncident(t, f, "vetca Test CA: Certificates issued with a wrong localityName", "4.9.1.1#12", []string{serial})
	b := e.Replica()
	hold := e.HoldRow(`SELECT id FROM certificates WHERE serial = $1 FOR UPDATE`, serial)
	run := make(chan apptest.Response, 1)
	go func() {
		run <- e.Do("POST", "/api/v1/incidents/"+incID+"/revoke", f.Carol, map[string]any{"workers": 1})
	}()
	hold.WaitBlocked(1)
	dec := make(chan apptest.Response, 1)
	go func() {
		dec <- b.Do("POST", "/api/v1/problem-reports/"+id+"/decide", f.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#13", "reason": "locality wrong"})
	}()
	hold.WaitBlocked(2)
	hold.Release()
	d, rv := <-dec, <-run
	if d.Status != 200 || rv.Status != 200 {
		t.Fatalf("decide %d %s; bulk revocation %d %s", d.Status, d.Raw, rv.Status, rv.Raw)
	}
	e.RequireAuditClean()
	tl, err := e.App.CPR.Timeline(ctx, e.Actor(f.Carol), id)
	if err != nil {
		t.Fatal(err)
	}
	claims := int(rv.Body["revoked"].(float64))
	for _, ev := range tl {
		if ev.Kind == "revoked" && ev.Ref == serial {
			claims++
		}
	}
	if claims != 1 {
		t.Fatalf("one revocation claimed %d times (incident result %s)", claims, rv.Raw)
	}
}

// A keyCompromise problem report with the private key arrives on replica B
// while a keyCompromise incident's bulk revocation of the same certificate
// runs on replica A; the report's decision on receipt gets the
// certificate's lock first and revokes it. The incident counts it as
// already revoked (docs/design.md §13). Before, it read the revocation
// before the lock, then took the unchanged keyCompromise entry it found
// under the lock for its own: its result listed the serial as revoked by
// its run.
func TestIncidentCountsARevocationMadeMeanwhileAsAlreadyRevoked(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	key := ecKey(t, elliptic.P256())
	serial := issue(t, f, key)
	incID := openIncident(t, f, "vetca Test CA: A subscriber key was compromised", "4.9.1.1#3", []string{serial})
	b := e.Replica()
	hold := e.HoldRow(`SELECT id FROM certificates WHERE serial = $1 FOR UPDATE`, serial)
	rep := make(chan apptest.Response, 1)
	go func() {
		rep <- b.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "rp@example.org", "category": "keyCompromise",
			"description": "the key leaked", "privateKey": pkcs8(t, key)})
	}()
	hold.WaitBlocked(1)
	run := make(chan apptest.Response, 1)
	go func() {
		run <- e.Do("POST", "/api/v1/incidents/"+incID+"/revoke", f.Carol, map[string]any{"workers": 1})
	}()
	hold.WaitBlocked(2)
	hold.Release()
	r, rv := <-rep, <-run
	if r.Status != 202 || rv.Status != 200 {
		t.Fatalf("report %d %s; bulk revocation %d %s", r.Status, r.Raw, rv.Status, rv.Raw)
	}
	var source string
	if err := e.App.DB.QueryRow(ctx, `SELECT source FROM revocations WHERE serial = ?`, serial).Scan(&source); err != nil {
		t.Fatal(err)
	}
	e.RequireAuditClean()
	if source == "incident" || rv.Body["revoked"].(float64) != 0 || rv.Body["alreadyRevoked"].(float64) != 1 {
		t.Fatalf("the revocation was made by %q; the incident's run reports %s", source, rv.Raw)
	}
}

// openIncident opens an incident of the CA's own finding over serials
// (carol, compliance) and returns its id.
func openIncident(t *testing.T, f *apptest.OrderFixture, title, trigger string, serials []string) string {
	t.Helper()
	inc := f.Do("POST", "/api/v1/incidents", f.Carol, map[string]any{"title": title, "source": "self",
		"trigger": trigger, "awareAt": f.Clock.Now().UTC().Format(time.RFC3339), "serials": serials})
	if inc.Status != 201 {
		t.Fatalf("incident: %d %s", inc.Status, inc.Raw)
	}
	return inc.Body["id"].(string)
}

// reportWrongLocality files a public misissuance report naming serials
// and returns its case id.
func reportWrongLocality(t *testing.T, e *apptest.Env, serials []string) string {
	t.Helper()
	r := e.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
		"description": "wrong locality", "serials": serials})
	if r.Status != 202 {
		t.Fatalf("report: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}
