package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/incident"
)

// Disclosures are often recorded after the fact, with the time they were
// posted, and not always in the order they were posted. The IRG v3.2
// clocks follow the posting times: the initial report is met by the
// earliest report, and the next update runs from the latest one. A report
// recorded late, with an earlier postedAt, must move neither backwards.
func TestDisclosureRecordedOutOfOrderMovesNoClockBack(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		serials := w.certificates(t, 1)
		aware := w.Clock.Now().UTC().Truncate(time.Second)
		r := w.open(t, incidentBody(aware, serials))
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		if rv := w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.Carol, nil); rv.Status != 200 {
			t.Fatalf("revoke: %d %s", rv.Status, rv.Raw)
		}
		day := 24 * time.Hour
		disclose := func(kind string, posted time.Time) {
			t.Helper()
			d := w.Do("POST", "/api/v1/incidents/"+id+"/disclosures", w.Carol, map[string]any{"kind": kind, "postedAt": posted.Format(time.RFC3339)})
			if d.Status != 200 {
				t.Fatalf("disclosure %s: %d %s", kind, d.Status, d.Raw)
			}
		}
		w.Clock.Set(aware.Add(10 * day))
		disclose("full", aware.Add(10*day)) // recorded first
		w.Clock.Set(aware.Add(11 * day))
		disclose("preliminary", aware.Add(2*day)) // posted earlier, recorded late
		got := w.Do("GET", "/api/v1/incidents/"+id, w.Carol, nil)
		if at := got.Body["initialReportAt"]; at != aware.Add(2*day).Format(time.RFC3339) {
			t.Errorf("initialReportAt %v, want the preliminary report's posting, %s", at, aware.Add(2*day).Format(time.RFC3339))
		}
		// The full report (day 10) starts the 7 days to the next update:
		// due day 17. At day 16 nothing is late.
		w.Clock.Set(aware.Add(16 * day))
		obs, err := w.App.Incidents.Obligations(ctx, w.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range obs {
			if o.IncidentID == id && o.Breached {
				t.Errorf("%s breached at day 16, due %s: the update posted on day 10 is due again on day 17", o.Kind, o.Due.Format(time.RFC3339))
			}
			if o.IncidentID == id && o.Kind == incident.ObligationUpdate && !o.Due.Equal(aware.Add(17*day)) {
				t.Errorf("next update due %s, want day 17", o.Due.Format(time.RFC3339))
			}
		}
	})
}
