package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/revocation"
)

// TestReportRevocationTimeIsNotMovedByALaterUpdate: a certificate of the
// affected set stopped being valid when it was revoked. A keyCompromise
// reported days later updates its entry (reason, an earlier
// revocationDate, BR §7.2.2), which records the entry again; the report's
// revocation completion and non-compliance end date stay the revocation's.
func TestReportRevocationTimeIsNotMovedByALaterUpdate(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		t0 := w.Clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		serials := w.certificates(t, 2)
		id := w.open(t, incidentBody(t0, serials)).Body["id"].(string)
		w.Clock.Advance(2 * time.Hour)
		revokedAt := w.Clock.Now().UTC()
		if _, err := w.App.Incidents.Revoke(ctx, w.Compliance, id, incident.RevokeOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Clock.Advance(5 * 24 * time.Hour)
		compromised := t0
		if _, _, err := w.App.Revocations.Revoke(ctx, w.Compliance, serials[0], revocation.Input{Trigger: "4.9.1.1#3",
			Evidence: "key published", CompromisedAt: &compromised}); err != nil {
			t.Fatal(err)
		}
		rep := w.fullReport(t, id)
		at := revokedAt.Format("2006-01-02 15:04") + " UTC"
		if !strings.Contains(rep.Markdown, "Non-compliance end date: "+at) {
			t.Fatalf("non-compliance end date is not the revocation, %s:\n%s", at, rep.Markdown)
		}
	})
}
