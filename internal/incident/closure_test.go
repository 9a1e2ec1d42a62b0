package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/incident"
)

// revocationItems are the revocation obligations listed at at, by serial.
func (w *world) revocationItems(t *testing.T, at time.Time) map[string]incident.Obligation {
	t.Helper()
	obs, err := w.App.Incidents.Obligations(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]incident.Obligation{}
	for _, o := range obs {
		if o.Kind == incident.ObligationRevocation {
			out[o.Ref] = o
		}
	}
	return out
}

// BR §4.9.1.1 (docs/design.md §13): a closure is refused (409, naming the
// certificate) while a certificate of the set is still valid with no delay
// recorded; once a delay is recorded the incident may close, but its
// revocation obligation, its breach and the delayed-revocation incident
// stay: closing an incident meets no revocation deadline. A set revoked in
// time closes.
func TestClosureKeepsTheRevocationObligation(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		serials := w.certificates(t, 2)
		e1, e2 := serials[0], serials[1]
		b := incidentBody(w.Clock.Now().Add(-6*24*time.Hour), []string{e1})
		b["trigger"] = "4.9.1.1#13"
		id := w.open(t, b).Body["id"].(string)
		base := "/api/v1/incidents/" + id
		c := w.Do("POST", base+"/disclosures", w.Carol, map[string]any{"kind": "closure"})
		if f, code := c.ErrField(); c.Status != 409 || f != "kind" || code != string(apperr.CodeRevocationOutstanding) || !strings.Contains(string(c.Raw), e1) {
			t.Fatalf("closure with %s valid: %d %s, want 409 naming it", e1, c.Status, c.Raw)
		}
		if g := w.Do("GET", base, w.Carol, nil); g.Body["status"] != "open" || g.Body["lastUpdateAt"] != nil {
			t.Fatalf("a refused closure wrote: %s", g.Raw)
		}
		if d := w.Do("POST", base+"/delays", w.Carol, map[string]any{"serial": e1, "requestedBy": "Acme Widgets", "justification": "hospital systems"}); d.Status != 201 {
			t.Fatalf("delay: %d %s", d.Status, d.Raw)
		}
		if c := w.Do("POST", base+"/disclosures", w.Carol, map[string]any{"kind": "closure"}); c.Status != 200 || c.Body["status"] != "closed" {
			t.Fatalf("closure with the delay recorded: %d %s", c.Status, c.Raw)
		}
		for _, at := range []time.Time{w.Clock.Now(), w.Clock.Now().Add(30 * 24 * time.Hour)} {
			if o, ok := w.revocationItems(t, at)[e1]; !ok || !o.Breached || o.IncidentID != id {
				t.Fatalf("at %s the closed incident's revocation of %s is not listed breached: %+v", at, e1, o)
			}
		}
		if res, err := w.App.Incidents.Tick(ctx); err != nil || res.Opened != 1 {
			t.Fatalf("watch after the closure: %+v %v", res, err)
		}
		if g := w.Do("GET", "/api/v1/incidents/"+incident.DelayedID(id), w.Carol, nil); g.Status != 200 || g.Body["affected"] != float64(1) {
			t.Fatalf("delayed-revocation incident: %d %s", g.Status, g.Raw)
		}
		b = incidentBody(w.Clock.Now().Add(-time.Hour), []string{e2})
		b["title"] = "vetca Test CA: A second problem"
		ok := w.open(t, b).Body["id"].(string)
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, ok, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		if c := w.Do("POST", "/api/v1/incidents/"+ok+"/disclosures", w.Carol, map[string]any{"kind": "closure"}); c.Status != 200 || c.Body["status"] != "closed" {
			t.Fatalf("closure of a revoked set: %d %s", c.Status, c.Raw)
		}
		if _, listed := w.revocationItems(t, w.Clock.Now().Add(30*24*time.Hour))[e2]; listed {
			t.Fatalf("a revoked certificate of a closed incident is still an obligation")
		}
	})
}
