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
		rep := w.fullReport(t, id)
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
		c := w.fileProblemReport(t, serials)
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

// TestActionItemsAreTrackedAndReported: action items and the analysis are
// recorded (each version an audited event), rendered in the IRG v3.2 Root
// Cause Analysis, Action Items and Closure sections, and a changed item
// makes a report update due within 3 days (IRG v3.2), met by posting one.
func TestActionItemsAreTrackedAndReported(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		r := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), w.certificates(t, 1)))
		id := r.Body["id"].(string)
		base := "/api/v1/incidents/" + id
		a := w.Do("POST", base+"/action-items", w.Carol, map[string]any{"actionItem": "Compare each subject with its vetted version at finalize",
			"kind": "Prevent", "rootCauses": "Contributing Factor #1", "evaluationCriteria": "a mismatch is refused in a test", "dueDate": "2026-12-31T00:00:00Z"})
		if a.Status != 200 || a.Body["status"] != "Ongoing" || a.Body["version"] != float64(1) {
			t.Fatalf("add action item: %d %s", a.Status, a.Raw)
		}
		item := a.Body["id"].(string)
		if an := w.Do("POST", base+"/analysis", w.Carol, map[string]any{"contributingFactors": []map[string]any{{"title": "Contact edits reached the identity form"}},
			"issuanceStopped": "Yes, at 09:12 UTC, until the fix was deployed."}); an.Status != 200 {
			t.Fatalf("analysis: %d %s", an.Status, an.Raw)
		}
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"actionItem": "x", "kind": "Hope"}, "kind"},
			{map[string]any{"actionItem": "", "kind": "Detect"}, "actionItem"},
			{map[string]any{"actionItem": "x", "kind": "Detect", "status": "Done"}, "status"},
		} {
			if b := w.Do("POST", base+"/action-items", w.Carol, bad.body); b.Status != 400 {
				t.Fatalf("%v: %d %s", bad.body, b.Status, b.Raw)
			} else if f, _ := b.ErrField(); f != bad.field {
				t.Fatalf("%v names %q, want %q", bad.body, f, bad.field)
			}
		}
		if b := w.Do("POST", base+"/action-items", w.Carol, map[string]any{"id": "act_nope", "actionItem": "x", "kind": "Detect"}); b.Status != 404 {
			t.Fatalf("unknown item: %d %s", b.Status, b.Raw)
		}
		changed := func(at time.Time) []incident.Obligation {
			obs, err := w.App.Incidents.Obligations(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			var out []incident.Obligation
			for _, o := range obs {
				if o.Kind == incident.ObligationActionItemUpdate {
					out = append(out, o)
				}
			}
			return out
		}
		if o := changed(w.Clock.Now()); len(o) != 0 {
			t.Fatalf("a new item is not a change: %+v", o)
		}
		w.Clock.Advance(time.Hour)
		delayedAt := w.Clock.Now().UTC().Truncate(time.Second)
		if u := w.Do("POST", base+"/action-items", w.Carol, map[string]any{"id": item, "actionItem": "Compare each subject with its vetted version at finalize",
			"kind": "Prevent", "status": "Delayed"}); u.Status != 200 || u.Body["version"] != float64(2) {
			t.Fatalf("delay the item: %d %s", u.Status, u.Raw)
		}
		o := changed(delayedAt.Add(3*24*time.Hour + time.Second))
		if len(o) != 1 || !o[0].Due.Equal(delayedAt.Add(3*24*time.Hour)) || !o[0].Breached || o[0].Section != incident.SectionActionItem {
			t.Fatalf("after a delayed item, want one update due in 3 days (IRG v3.2): %+v", o)
		}
		rep := w.fullReport(t, id)
		for _, want := range []string{"**Contributing Factor #1: Contact edits reached the identity form**",
			"| Compare each subject with its vetted version at finalize | Prevent | Contributing Factor #1 | a mismatch is refused in a test | 2026-12-31 | Delayed |",
			"- **Was issuance stopped in response to this incident, and why or why not?:** Yes, at 09:12 UTC"} {
			if !strings.Contains(rep.Markdown, want) {
				t.Fatalf("full report lacks %q:\n%s", want, rep.Markdown)
			}
		}
		if d := w.Do("POST", base+"/disclosures", w.Carol, map[string]any{"kind": "update"}); d.Status != 200 {
			t.Fatalf("update: %d %s", d.Status, d.Raw)
		}
		if o := changed(w.Clock.Now()); len(o) != 0 {
			t.Fatalf("an update posted after the change meets it: %+v", o)
		}
		closure, err := w.App.Incidents.Render(ctx, actor.CLIActor("test"), id, incident.FormatClosure)
		if err != nil || !strings.Contains(closure.Markdown, "- **Incident Root Cause(s):** Contact edits reached the identity form") ||
			!strings.Contains(closure.Markdown, "(Delayed)") {
			t.Fatalf("closure report (%v):\n%s", err, closure.Markdown)
		}
	})
}

// TestOpenFromAProblemReport: an incident opened from a problem report
// without serials takes the certificates the case matched, and may not
// claim to have become known after the report was received (BR §4.9.5:
// the clock runs from receipt).
func TestOpenFromAProblemReport(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 2)
		c := w.fileProblemReport(t, serials)
		received, _ := time.Parse(time.RFC3339, c.Body["receivedAt"].(string))
		w.Clock.Advance(2 * time.Hour)
		b := incidentBody(w.Clock.Now(), nil)
		delete(b, "serials")
		b["source"], b["problemReportId"] = "third-party", c.Body["id"]
		if r := w.open(t, b); r.Status != 400 {
			t.Fatalf("awareAt after the receipt: %d %s", r.Status, r.Raw)
		} else if f, _ := r.ErrField(); f != "awareAt" {
			t.Fatalf("names %q, want awareAt", f)
		}
		b["awareAt"] = received.Format(time.RFC3339)
		r := w.open(t, b)
		if r.Status != 201 || r.Body["affected"] != float64(2) || r.Body["revocationDue"] != received.Add(5*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("open from the report: %d %s", r.Status, r.Raw)
		}
	})
}
