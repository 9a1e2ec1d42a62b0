package incident_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/atonce"
	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/scan/scantest"
)

// TestDeadlinesRunFromAwarenessAndDelaysMoveNothing: an incident opened at
// T0 for a BR non-compliance has revocation due at T0 + 5 days and its
// initial report at T0 + 72 h; a recorded delay changes nothing, and at
// T0 + 5 days + 1 s every unrevoked certificate is breached, and one
// delayed-revocation incident is opened, however many passes run.
func TestDeadlinesRunFromAwarenessAndDelaysMoveNothing(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 5)
		t0 := w.Clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		r := w.open(t, incidentBody(t0, serials))
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		if got := r.Body["revocationDue"]; got != t0.Add(5*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("revocationDue %v, want T0 + 5 days", got)
		}
		if got := r.Body["initialReportDue"]; got != t0.Add(72*time.Hour).Format(time.RFC3339) {
			t.Fatalf("initialReportDue %v, want T0 + 72 h", got)
		}
		if r.Body["affected"] != float64(5) {
			t.Fatalf("affected %v", r.Body["affected"])
		}
		ctx := context.Background()
		svc := w.App.Incidents
		before, err := svc.Obligations(ctx, w.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		// Spelled as an incident takes serials (upper case, a leading
		// zero), it names the same certificate.
		d := w.Do("POST", "/api/v1/incidents/"+id+"/delays", w.Carol, map[string]any{"serial": "00" + strings.ToUpper(serials[0]), "requestedBy": "Acme Widgets", "justification": "critical infrastructure"})
		if d.Status != 201 || d.Body["ref"] != serials[0] {
			t.Fatalf("delay: %d %s", d.Status, d.Raw)
		}
		after, _ := svc.Obligations(ctx, w.Clock.Now())
		if len(after) != len(before) {
			t.Fatalf("a delay changed the obligations: %d -> %d", len(before), len(after))
		}
		for i := range after {
			if after[i] != before[i] {
				t.Fatalf("a delay moved %+v to %+v", before[i], after[i])
			}
		}
		due := t0.Add(5 * 24 * time.Hour)
		w.Clock.Set(due.Add(time.Second))
		obs, _ := svc.Obligations(ctx, w.Clock.Now())
		breached := map[string]bool{}
		for _, o := range obs {
			if o.Kind == incident.ObligationRevocation {
				if !o.Breached || !o.Due.Equal(due) || o.Section != incident.SectionRevocation {
					t.Fatalf("revocation item %+v: want breached, due %s", o, due)
				}
				breached[o.Ref] = true
			}
		}
		for _, s := range serials {
			if !breached[s] {
				t.Fatalf("serial %s is not breached at T0 + 5 days + 1 s", s)
			}
		}
		// The watch judges a deadline once the window in which a
		// revocation recorded before it may still commit has passed.
		if res, err := svc.Tick(ctx); err != nil || res.Opened != 0 {
			t.Fatalf("a pass a second after the deadline: %+v %v", res, err)
		}
		w.Clock.Set(due.Add(5*time.Minute + time.Second))
		if _, ok, err := w.App.RunIncidentWatchOnce(ctx); err != nil || !ok {
			t.Fatalf("watch under the incident-deadlines lease: %v %v", ok, err)
		}
		if res, err := svc.Tick(ctx); err != nil || res.Opened != 0 {
			t.Fatalf("second pass: %+v %v", res, err)
		}
		g := w.Do("GET", "/api/v1/incidents/"+incident.DelayedID(id), w.Carol, nil)
		if g.Status != 200 || g.Body["kind"] != "revocation_delay" || g.Body["parentId"] != id || g.Body["affected"] != float64(5) {
			t.Fatalf("delayed-revocation incident: %d %s", g.Status, g.Raw)
		}
		l := w.Do("GET", "/api/v1/incidents", w.Carol, nil)
		if n := len(l.Body["incidents"].([]any)); n != 2 {
			t.Fatalf("%d incidents after two passes, want 2 (one delayed-revocation incident)", n)
		}
	})
}

// TestBulkRevocationResumesWithoutRevokingTwice revokes 300 certificates
// with 8 workers, interrupted after 100, then resumed; every certificate
// ends revoked once with the trigger's reason, subscribers get one mail
// before and one after, and a third run revokes nothing.
func TestBulkRevocationResumesWithoutRevokingTwice(t *testing.T) {
	const n = 300
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, n)
		r := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), serials))
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		svc := w.App.Incidents
		dry := w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.Carol, map[string]any{"dryRun": true})
		if dry.Status != 200 || len(dry.Body["serials"].([]any)) != n || dry.Body["revoked"] != float64(0) {
			t.Fatalf("dry run: %d %s", dry.Status, dry.Raw)
		}
		if r := w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.AccTok, nil); r.Status != 403 {
			t.Fatalf("a subscriber ran the bulk revocation: %d", r.Status)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var seen atomic.Int32
		first, err := svc.Revoke(ctx, w.Compliance, id, incident.RevokeOptions{Workers: 8, Progress: func(done, total int, _ string) {
			if seen.Add(1) == 100 {
				cancel()
			}
		}})
		if err == nil || first.Revoked == 0 || first.Revoked >= n {
			t.Fatalf("interrupted run: revoked %d, err %v", first.Revoked, err)
		}
		second, err := svc.Revoke(context.Background(), w.Compliance, id, incident.RevokeOptions{Workers: 8})
		if err != nil {
			t.Fatal(err)
		}
		if first.Revoked+second.Revoked != n || second.AlreadyRevoked != first.Revoked {
			t.Fatalf("runs revoked %d + %d (already %d), want %d in all", first.Revoked, second.Revoked, second.AlreadyRevoked, n)
		}
		once := map[string]int{}
		for _, s := range append(first.Serials, second.Serials...) {
			once[s]++
		}
		for _, s := range serials {
			if once[s] != 1 {
				t.Fatalf("serial %s revoked %d times", s, once[s])
			}
			rev, ok, err := w.App.Revocations.Get(context.Background(), w.App.DB, s)
			if err != nil || !ok || rev.Reason != "superseded" || rev.Source != "incident" {
				t.Fatalf("serial %s: %+v %v %v", s, rev, ok, err)
			}
		}
		third, err := svc.Revoke(context.Background(), w.Compliance, id, incident.RevokeOptions{})
		if err != nil || third.Revoked != 0 || third.AlreadyRevoked != n {
			t.Fatalf("third run: %+v %v", third, err)
		}
		w.Deliver()
		if m := w.SMTP.To("jane@acme-widgets.com"); len(m) != 2 {
			t.Fatalf("%d mails to the subscriber, want one before and one after", len(m))
		}
		g := w.Do("GET", "/api/v1/incidents/"+id, w.Carol, nil)
		for _, c := range g.Body["certificates"].([]any) {
			if st := c.(map[string]any)["state"]; st != "revoked" {
				t.Fatalf("certificate state %v after the run", st)
			}
		}
		checkTimelineInTurn(t, g.Body["events"].([]any))
		obs, _ := svc.Obligations(context.Background(), w.Clock.Now().Add(10*24*time.Hour))
		for _, o := range obs {
			if o.Kind == incident.ObligationRevocation {
				t.Fatalf("revocation still open after the run: %+v", o)
			}
		}
	})
}

// Two bulk revocations of one incident at once (two officers, or the CLI
// beside the console; on PostgreSQL truly concurrent) both succeed: every
// certificate is revoked once, by one run or the other, and the
// subscribers get one mail before and one after.
func TestConcurrentBulkRevocationsOfOneIncident(t *testing.T) {
	const n = 40
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, n)
		r := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), serials))
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		results := make([]incident.RevokeResult, 2)
		errs := make([]error, 2)
		atonce.Each(len(results), func(i int) {
			results[i], errs[i] = w.App.Incidents.Revoke(context.Background(), w.Compliance, id, incident.RevokeOptions{Workers: 4})
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		once := map[string]int{}
		for _, s := range append(results[0].Serials, results[1].Serials...) {
			once[s]++
		}
		for _, s := range serials {
			if once[s] != 1 {
				t.Fatalf("serial %s revoked by %d runs", s, once[s])
			}
		}
		w.Deliver()
		if m := w.SMTP.To("jane@acme-widgets.com"); len(m) != 2 {
			t.Fatalf("%d mails to the subscriber, want one before and one after", len(m))
		}
	})
}

// TestOpenRefusesBadInputNamingTheField: every refused request names the
// field and writes nothing.
func TestOpenRefusesBadInputNamingTheField(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 2)
		aware := w.Clock.Now().Add(-time.Hour)
		cases := []struct {
			field string
			edit  func(b map[string]any)
		}{
			{"title", func(b map[string]any) { b["title"] = "" }},
			{"title", func(b map[string]any) { b["title"] = "no CA name here" }},
			{"source", func(b map[string]any) { b["source"] = "customer" }},
			{"trigger", func(b map[string]any) { b["trigger"] = "4.9.1.1#17" }},
			{"awareAt", func(b map[string]any) { delete(b, "awareAt") }},
			{"awareAt", func(b map[string]any) { b["awareAt"] = aware.Add(48 * time.Hour).Format(time.RFC3339) }},
			{"serials", func(b map[string]any) { b["serials"] = []string{"0badc0ffee"} }},
			{"serials", func(b map[string]any) { delete(b, "serials") }},
			{"query", func(b map[string]any) { b["query"] = map[string]any{"issuerId": "x"} }},
			{"query.lint", func(b map[string]any) { delete(b, "serials"); b["query"] = map[string]any{"lint": "e_foo"} }},
			{"problemReportId", func(b map[string]any) { b["problemReportId"] = "cpr_nope" }},
			{"colour", func(b map[string]any) { b["colour"] = "red" }},
		}
		for _, c := range cases {
			b := incidentBody(aware, serials)
			c.edit(b)
			r := w.open(t, b)
			if f, _ := r.ErrField(); r.Status != 400 || f != c.field {
				t.Fatalf("%v: %d %s, want 400 naming %s", b, r.Status, r.Raw, c.field)
			}
		}
		if l := w.Do("GET", "/api/v1/incidents", w.Carol, nil); len(l.Body["incidents"].([]any)) != 0 {
			t.Fatalf("a refused request wrote an incident: %s", l.Raw)
		}
		if r := w.open(t, incidentBody(aware, serials)); r.Status == 201 {
			if r2 := w.Do("POST", "/api/v1/incidents", w.AccTok, incidentBody(aware, serials)); r2.Status != 403 {
				t.Fatalf("a subscriber opened an incident: %d", r2.Status)
			}
		}
	})
}

// TestQueryIsSavedAndFrozen: an incident opened from a query stores the
// query and freezes the set with each certificate's state.
func TestQueryIsSavedAndFrozen(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 3)
		b := incidentBody(w.Clock.Now().Add(-time.Hour), nil)
		delete(b, "serials")
		b["query"] = map[string]any{"organizationId": w.OrgID, "organizationVersion": 1}
		r := w.open(t, b)
		if r.Status != 201 || r.Body["affected"] != float64(len(serials)) {
			t.Fatalf("open by query: %d %s", r.Status, r.Raw)
		}
		g := w.Do("GET", "/api/v1/incidents/"+r.Body["id"].(string), w.Auditor, nil)
		q, _ := g.Body["query"].(map[string]any)
		if g.Status != 200 || q["organizationId"] != w.OrgID || len(g.Body["certificates"].([]any)) != 3 {
			t.Fatalf("get: %d %s", g.Status, g.Raw)
		}
		if st := g.Body["certificates"].([]any)[0].(map[string]any)["stateAtFreeze"]; st != "valid" {
			t.Fatalf("stateAtFreeze %v", st)
		}
	})
}

// TestRevokedLateStillOpensTheDelayedIncident: a certificate revoked only
// after the deadline, with no watch running at the deadline, is a breach:
// the next pass opens the delayed-revocation incident with it; a set
// revoked in time opens none.
func TestRevokedLateStillOpensTheDelayedIncident(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 3)
		t0 := w.Clock.Now().Add(-time.Hour)
		ctx := context.Background()
		onTime := w.open(t, incidentBody(t0, serials[:1])).Body["id"].(string)
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, onTime, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		b := incidentBody(t0, serials[1:])
		b["title"] = "vetca Test CA: A second problem"
		late := w.open(t, b).Body["id"].(string)
		w.Clock.Set(t0.Add(6 * 24 * time.Hour))
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, late, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := w.App.Incidents.Tick(ctx)
		if err != nil || res.Opened != 1 {
			t.Fatalf("pass after a late revocation: %+v %v", res, err)
		}
		if g := w.Do("GET", "/api/v1/incidents/"+incident.DelayedID(late), w.Carol, nil); g.Status != 200 || g.Body["affected"] != float64(2) {
			t.Fatalf("delayed incident of the late set: %d %s", g.Status, g.Raw)
		}
		if g := w.Do("GET", "/api/v1/incidents/"+incident.DelayedID(onTime), w.Carol, nil); g.Status != 404 {
			t.Fatalf("delayed incident of a set revoked in time: %d", g.Status)
		}
	})
}

// TestQueryByScanFinding: an incident opened from scan findings
// (query.lint) takes exactly the certificates a scan found failing that
// lint, narrowed by the query's other fields.
func TestQueryByScanFinding(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 3)
		scantest.StoreFindings(t, w.App.Recorder, w.App.DB, w.Clock.Now(), "e_vetca_test_lint", "countryName", serials[:2]...)
		b := incidentBody(w.Clock.Now().Add(-time.Hour), nil)
		delete(b, "serials")
		b["query"] = map[string]any{"lint": "e_vetca_test_lint", "organizationId": w.OrgID}
		r := w.open(t, b)
		if r.Status != 201 || r.Body["affected"] != float64(2) {
			t.Fatalf("open by scan finding: %d %s", r.Status, r.Raw)
		}
		g := w.Do("GET", "/api/v1/incidents/"+r.Body["id"].(string), w.Carol, nil)
		got := map[string]bool{}
		for _, c := range g.Body["certificates"].([]any) {
			got[c.(map[string]any)["serial"].(string)] = true
		}
		if len(got) != 2 || !got[serials[0]] || !got[serials[1]] || got[serials[2]] {
			t.Fatalf("affected %v, want %v", got, serials[:2])
		}
	})
}

// TestQueryByScanFindingEditedOutsideVetca: the findings an incident
// opened by query.lint selects are audited rows, checked as they are read:
// a finding planted with SQL, or one moved to another certificate, fails
// the query closed and opens nothing (an incident's affected set must not
// be chosen by whoever can write the database, BR §4.9.1.1); a finding
// deleted with SQL, which a read cannot see, is reported by audit verify.
func TestQueryByScanFindingEditedOutsideVetca(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit string // SQL whose arguments are the third serial, then the first finding's id
	}{
		{"planted", `INSERT INTO scan_findings (id, serial, lint, field, severity, message, first_run, last_run, first_seen, last_seen, row_hash)
			SELECT 'sf_planted', ?, lint, field, severity, message, first_run, last_run, first_seen, last_seen, row_hash FROM scan_findings WHERE id = ?`},
		{"moved", `UPDATE scan_findings SET serial = ? WHERE id = ?`},
		{"deleted", `DELETE FROM scan_findings WHERE serial <> ? AND id = ?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, w *world) {
				ctx := context.Background()
				serials := w.certificates(t, 3)
				ids := scantest.StoreFindings(t, w.App.Recorder, w.App.DB, w.Clock.Now(), "e_vetca_test_lint", "countryName", serials[:2]...)
				if _, err := w.App.DB.Exec(ctx, tc.edit, serials[2], ids[0]); err != nil {
					t.Fatal(err)
				}
				b := incidentBody(w.Clock.Now().Add(-time.Hour), nil)
				delete(b, "serials")
				b["query"] = map[string]any{"lint": "e_vetca_test_lint"}
				r := w.open(t, b)
				if tc.name == "deleted" {
					rep, err := w.App.Audit.Verify(ctx, actor.CLIActor("test"), "")
					if err != nil || rep.OK || !strings.Contains(fmt.Sprint(rep.Findings), "scan_findings row "+ids[0]) {
						t.Fatalf("verify after a deleted finding: %v %+v", err, rep)
					}
					return
				}
				if r.Status != 500 || r.Body["error"] == nil || !strings.Contains(string(r.Raw), "integrity_violation") {
					t.Fatalf("open by an edited finding: %d %s", r.Status, r.Raw)
				}
				if l := w.Do("GET", "/api/v1/incidents", w.Carol, nil); l.Status != 200 || len(l.Body["incidents"].([]any)) != 0 {
					t.Fatalf("incidents after a refused open: %d %s", l.Status, l.Raw)
				}
			})
		})
	}
}

// checkTimelineInTurn: the incident's timeline (the same list the report's
// timeline prints) lists its events as they happened, though the clock
// stood still through the whole run, as it may within one second: opened,
// then the subscribers notified before the bulk revocation, then after it.
func checkTimelineInTurn(t *testing.T, events []any) {
	t.Helper()
	var kinds []string
	for _, e := range events {
		ev := e.(map[string]any)
		k := fmt.Sprint(ev["kind"])
		if ref, ok := ev["ref"].(string); ok && ref != "" {
			k += "/" + ref
		}
		kinds = append(kinds, k)
	}
	want := []string{"opened", "subscribers_notified/before", "subscribers_notified/after"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline %v, want %v", kinds, want)
	}
}
