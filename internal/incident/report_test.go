package incident_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/incident"
)

// TestReportHasTheIRGStructure renders the full report in the IRG v3.2
// order, N/A where nothing applies, a minute-precision UTC timeline and
// the Appendix CSV with the eleven columns in order and crt.sh links.
func TestReportHasTheIRGStructure(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 3)
		r := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), serials))
		id := r.Body["id"].(string)
		ctx := context.Background()
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, id, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, err := w.App.Incidents.Render(ctx, actor.CLIActor("test"), id, incident.FormatFull)
		if err != nil {
			t.Fatal(err)
		}
		last := -1
		for _, h := range []string{"## Full Incident Report", "### Summary", "- **CA Owner CCADB unique ID:** N/A", "### Impact",
			"- **Total number of certificates:** 3", "### Timeline", "### Related Incidents", "### Root Cause Analysis",
			"### Lessons Learned", "### Action Items", "### Appendix", "https://crt.sh/?sha256="} {
			i := strings.Index(rep.Markdown, h)
			if i < last {
				t.Fatalf("%q missing or out of order:\n%s", h, rep.Markdown)
			}
			last = i
		}
		if !strings.Contains(rep.Markdown, "- 2026-11-23 08:00 UTC: CA became aware") {
			t.Fatalf("timeline not in minutes, UTC:\n%s", rep.Markdown)
		}
		rows, err := csv.NewReader(strings.NewReader(string(rep.CSV))).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Fatalf("CSV: %v %d rows", err, len(rows))
		}
		for i, col := range incident.AppendixColumns {
			if rows[0][i] != col {
				t.Fatalf("column %d is %q, want %q", i, rows[0][i], col)
			}
		}
		if rows[1][8] != "Yes" || rows[1][10] != "superseded" || !strings.HasPrefix(rows[1][11], "https://crt.sh/?sha256=") {
			t.Fatalf("row: %v", rows[1])
		}
		for _, f := range []string{incident.FormatPreliminary, incident.FormatClosure, incident.FormatLegacy} {
			if _, err := w.App.Incidents.Render(ctx, actor.CLIActor("test"), id, f); err != nil {
				t.Fatal(f, err)
			}
		}
		// A disclosure meets the initial report; the deadlines stay.
		d := w.Do("POST", "/api/v1/incidents/"+id+"/disclosures", w.Carol, map[string]any{"kind": "preliminary"})
		if d.Status != 200 || d.Body["revocationDue"] != r.Body["revocationDue"] || d.Body["initialReportDue"] != r.Body["initialReportDue"] {
			t.Fatalf("disclosure: %d %s", d.Status, d.Raw)
		}
		obs, _ := w.App.Incidents.Obligations(ctx, w.Clock.Now())
		for _, o := range obs {
			if o.Kind == incident.ObligationInitialReport {
				t.Fatalf("initial report still open after the disclosure: %+v", o)
			}
			if o.Kind == incident.ObligationFullReport && !o.Due.Equal(w.Clock.Now().Truncate(time.Second).Add(14*24*time.Hour)) {
				t.Fatalf("full report due %s, want 14 days after the disclosure", o.Due)
			}
		}
	})
}

// TestReportTimelineHasTheProblemReport: an incident linked to a problem
// report shows the case's receipt in its timeline.
func TestReportTimelineHasTheProblemReport(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 1)
		c := w.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "researcher@example.org", "category": "misissuance",
			"description": "wrong countryName", "serials": serials})
		if c.Status != 202 {
			t.Fatalf("problem report: %d %s", c.Status, c.Raw)
		}
		b := incidentBody(w.Clock.Now(), serials)
		b["source"], b["problemReportId"] = "third-party", c.Body["id"]
		r := w.open(t, b)
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		rep, err := w.App.Incidents.Render(context.Background(), actor.CLIActor("test"), r.Body["id"].(string), incident.FormatFull)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.Markdown, "Problem report "+c.Body["id"].(string)+": received") || !strings.Contains(rep.Markdown, "Third Party Reported") {
			t.Fatalf("timeline without the problem report:\n%s", rep.Markdown)
		}
	})
}
