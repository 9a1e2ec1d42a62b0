package incident_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/incident"
)

// An incident's bulk revocation runs on replica A up to the revocation
// deadline: its batch has revoked its first certificate (recorded one
// second before the deadline) and waits for the row lock of the next one
// (held here, as any transaction touching that row would hold it) when
// the deadline passes and the watch runs on replica B. A certificate whose
// revocation is recorded before the deadline was revoked in time, and the
// watch must not list it in a breach or in the delayed-revocation incident
// it opens. Before, B's watch, not seeing the uncommitted batch, did (in 2
// of 32 runs of the natural race, every time forced so); it now judges a
// deadline only once a revocation recorded before it has had time to
// commit.
func TestDeadlineWatchWaitsForABatchInFlight(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	w := &world{OrderFixture: f, Compliance: e.Actor(f.Carol)}
	ctx := context.Background()
	serials := w.certificates(t, 10)
	due := w.Clock.Now().UTC().Truncate(time.Second).Add(time.Second)
	r := w.open(t, incidentBody(due.Add(-5*24*time.Hour), serials))
	if r.Status != 201 {
		t.Fatalf("open: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	b := e.Replica()
	w.Clock.Set(due.Add(-time.Second))
	b.Clock.Set(due.Add(-time.Second))
	sorted := slices.Clone(serials)
	slices.Sort(sorted)
	hold := e.HoldRow(`SELECT id FROM incident_certificates WHERE incident_id = $1 AND serial = $2 FOR UPDATE`, id, sorted[1])
	res := make(chan apptest.Response, 1)
	go func() {
		res <- w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.Carol, map[string]any{"workers": 1})
	}()
	hold.WaitBlocked(1) // the batch waits on the held row, past the first certificate
	// The deadline passes; B's watch runs.
	w.Clock.Set(due.Add(time.Second))
	b.Clock.Set(due.Add(time.Second))
	if _, ok, err := b.App.RunIncidentWatchOnce(ctx); err != nil || !ok {
		t.Fatalf("watch: %v %v", ok, err)
	}
	hold.Release()
	if rv := <-res; rv.Status != 200 {
		t.Fatalf("bulk revocation: %d %s", rv.Status, rv.Raw)
	}
	b.Clock.Set(due.Add(5*time.Minute + time.Second))
	if _, ok, err := b.App.RunIncidentWatchOnce(ctx); err != nil || !ok {
		t.Fatalf("watch: %v %v", ok, err)
	}
	g := w.Do("GET", "/api/v1/incidents/"+incident.DelayedID(id), w.Carol, nil)
	if g.Status != 200 {
		t.Fatalf("no delayed-revocation incident: %d %s", g.Status, g.Raw)
	}
	listed := map[string]bool{}
	for _, c := range g.Body["certificates"].([]any) {
		listed[c.(map[string]any)["serial"].(string)] = true
	}
	var falsely []string
	for _, s := range sorted {
		var at string
		if err := e.App.DB.QueryRow(ctx, `SELECT recorded_at FROM revocations WHERE serial = ?`, s).Scan(&at); err != nil {
			t.Fatalf("revocation of %s: %v", s, err)
		}
		ts, _ := time.Parse(time.RFC3339Nano, at)
		if !ts.After(due) && listed[s] {
			falsely = append(falsely, s+" (recorded "+at+")")
		}
	}
	if len(falsely) > 0 {
		parent := w.Do("GET", "/api/v1/incidents/"+id, w.Carol, nil)
		t.Fatalf("deadline %s: the watch recorded a breach and opened %s listing %d certificates whose revocations are recorded before the deadline: %v\nthe incident's own certificates: %.900s",
			due.Format(time.RFC3339), incident.DelayedID(id), len(falsely), falsely, fmt.Sprint(parent.Body["certificates"]))
	}
}
