package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/incident"
)

// timelineTimes returns the times of the full report's Timeline entries,
// in the order the report lists them.
func timelineTimes(t *testing.T, md string) []time.Time {
	t.Helper()
	_, rest, _ := strings.Cut(md, "### Timeline\n")
	section, _, _ := strings.Cut(rest, "### Related Incidents")
	var out []time.Time
	for _, line := range strings.Split(section, "\n") {
		entry, ok := strings.CutPrefix(line, "- ")
		if !ok || len(entry) < len("2006-01-02 15:04 UTC") {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04 UTC", entry[:len("2006-01-02 15:04 UTC")])
		if err != nil {
			t.Fatalf("timeline entry %q: %v", line, err)
		}
		out = append(out, at)
	}
	return out
}

// requireTimeOrder fails unless the report's Timeline entries are in time
// order (IRG v3.2: a date-and-time-stamped sequence).
func requireTimeOrder(t *testing.T, md string) {
	t.Helper()
	ts := timelineTimes(t, md)
	for i := 1; i < len(ts); i++ {
		if ts[i].Before(ts[i-1]) {
			t.Fatalf("timeline out of time order at entry %d:\n%s", i+1, md)
		}
	}
}

// TestFullReportTimelineIsInTimeOrder: the IRG v3.2 Timeline is a
// date-and-time-stamped sequence of every event, so the revocation
// deadline takes its place among them; a report posted after the deadline
// (the full report is due 14 days after disclosure, the revocation of a
// 4.9.1.1#12 set in 5) is listed after it, not before.
func TestFullReportTimelineIsInTimeOrder(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		t0 := w.Clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		id := w.open(t, incidentBody(t0, w.certificates(t, 1))).Body["id"].(string)
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, id, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Clock.Set(t0.Add(10 * 24 * time.Hour))
		w.discloseFull(t, id)
		rep := w.fullReport(t, id)
		requireTimeOrder(t, rep.Markdown)
	})
}

// TestFullReportTimelineHasTheRevocations: IRG v3.2 Timeline expects the
// actual revocation completion, and the Summary's non-compliance end date
// is when the last affected certificate stopped being valid, not the time
// of whatever was recorded last (here a report posted days later).
func TestFullReportTimelineHasTheRevocations(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		t0 := w.Clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		id := w.open(t, incidentBody(t0, w.certificates(t, 2))).Body["id"].(string)
		w.Clock.Advance(2 * time.Hour)
		revokedAt := w.Clock.Now().UTC()
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, id, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Clock.Set(t0.Add(10 * 24 * time.Hour))
		w.discloseFull(t, id)
		rep := w.fullReport(t, id)
		at := revokedAt.Format("2006-01-02 15:04") + " UTC"
		if !strings.Contains(rep.Markdown, "- "+at+": Revocation of the affected certificates completed") {
			t.Fatalf("timeline lacks the revocation completion at %s:\n%s", at, rep.Markdown)
		}
		if !strings.Contains(rep.Markdown, "Non-compliance end date: "+at) {
			t.Fatalf("non-compliance end date is not the revocation, %s:\n%s", at, rep.Markdown)
		}
	})
}

// TestDelayedRevocationReportCarriesTheDelayRationale: a delayed-revocation
// incident's Impact Analysis must give the factors and rationale behind
// the delay (MRSP §6.1.3; IRG v3.2 Impact, Analysis). The customer's delay
// request is recorded on the incident whose deadline passed, before the
// delayed-revocation incident exists; the latter's report must carry it,
// and list its own timeline in time order.
func TestDelayedRevocationReportCarriesTheDelayRationale(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		serials := w.certificates(t, 2)
		t0 := w.Clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		id := w.open(t, incidentBody(t0, serials)).Body["id"].(string)
		if d := w.Do("POST", "/api/v1/incidents/"+id+"/delays", w.Carol, map[string]any{"requestedBy": "Acme Widgets",
			"justification": "payment terminals pin this certificate"}); d.Status != 201 {
			t.Fatalf("delay: %d %s", d.Status, d.Raw)
		}
		w.Clock.Set(t0.Add(5*24*time.Hour + time.Hour))
		if res, err := w.App.Incidents.Tick(ctx); err != nil || res.Opened != 1 {
			t.Fatalf("watch: %+v %v", res, err)
		}
		rep, err := w.App.Incidents.Render(ctx, actor.CLIActor("test"), incident.DelayedID(id), incident.FormatFull)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.Markdown, "payment terminals pin this certificate") {
			t.Fatalf("the delayed-revocation report lacks the recorded delay rationale:\n%s", rep.Markdown)
		}
		requireTimeOrder(t, rep.Markdown)
	})
}

// TestTimelineNamesThePreliminaryReports: IRG v3.2 Timeline expects the
// preliminary report to the problem report's filer and to the
// Subscriber(s) (BR §4.9.5) as entries of their own; a final report sent
// later to the same parties must not read the same.
func TestTimelineNamesThePreliminaryReports(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, 1)
		c := w.fileProblemReport(t, serials)
		cid := c.Body["id"].(string)
		if r := w.Do("POST", "/api/v1/problem-reports/"+cid+"/preliminary-report", w.Carol, map[string]any{"findings": "confirmed"}); r.Status != 200 {
			t.Fatalf("preliminary report: %d %s", r.Status, r.Raw)
		}
		b := incidentBody(w.Clock.Now(), serials)
		b["source"], b["problemReportId"] = "third-party", cid
		r := w.open(t, b)
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		rep, err := w.App.Incidents.Render(context.Background(), actor.CLIActor("test"), r.Body["id"].(string), incident.FormatFull)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"preliminary report sent to the reporter", "preliminary report sent to the subscriber"} {
			if !strings.Contains(rep.Markdown, want) {
				t.Fatalf("timeline lacks %q:\n%s", want, rep.Markdown)
			}
		}
	})
}

// TestLegacyReportCarriesTheAnalysis: the seven-topic format (IRG 1.0)
// asks whether issuance was stopped (topic 3: a statement that it was not
// needs an explanation), how and why the mistake was made (6) and the
// steps taken, with status and date (7). What the incident recorded for
// them must be in the report, not N/A.
func TestLegacyReportCarriesTheAnalysis(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		id := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), w.certificates(t, 1))).Body["id"].(string)
		base := "/api/v1/incidents/" + id
		if a := w.Do("POST", base+"/action-items", w.Carol, map[string]any{"actionItem": "Compare each subject with its vetted version",
			"kind": "Prevent", "dueDate": "2026-12-31T00:00:00Z"}); a.Status != 200 {
			t.Fatalf("action item: %d %s", a.Status, a.Raw)
		}
		if an := w.Do("POST", base+"/analysis", w.Carol, map[string]any{"contributingFactors": []map[string]any{{"title": "Contact edits reached the identity form",
			"description": "the form reused the identity fields"}}, "issuanceStopped": "Yes, at 09:12 UTC, until the fix was deployed."}); an.Status != 200 {
			t.Fatalf("analysis: %d %s", an.Status, an.Raw)
		}
		rep, err := w.App.Incidents.Render(context.Background(), actor.CLIActor("test"), id, incident.FormatLegacy)
		if err != nil {
			t.Fatal(err)
		}
		topic := func(n string) string {
			for _, line := range strings.Split(rep.Markdown, "\n") {
				if strings.HasPrefix(line, n+". ") {
					return line
				}
			}
			return ""
		}
		for n, want := range map[string]string{"3": "Yes, at 09:12 UTC, until the fix was deployed.", "6": "Contact edits reached the identity form",
			"7": "Compare each subject with its vetted version (Prevent, Ongoing, due 2026-12-31)"} {
			if !strings.Contains(topic(n), want) {
				t.Fatalf("legacy topic %s lacks %q:\n%s", n, want, rep.Markdown)
			}
		}
		// A timeline is read by people: no record's raw JSON in it.
		full, err := w.App.Incidents.Render(context.Background(), actor.CLIActor("test"), id, incident.FormatFull)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(full.Markdown, `{"`) || strings.Contains(rep.Markdown, `{"`) {
			t.Fatalf("raw JSON in the reports:\n%s\n%s", full.Markdown, rep.Markdown)
		}
	})
}
