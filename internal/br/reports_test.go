package br

import (
	"testing"
	"time"
)

func TestReportDeadlines(t *testing.T) {
	at := utc(t, "2026-05-01T10:00:00Z")
	kc, _ := TriggerByNumber(3)
	mis, _ := TriggerByNumber(12)
	should, must := RevocationDelayUpdateDue(at)
	cases := []struct {
		name string
		got  time.Time
		want string
	}{
		{"BR §4.9.5 preliminary report 24 h after receipt", PreliminaryReportDue(at), "2026-05-02T10:00:00Z"},
		{"BR §4.9.5 + §4.9.1.1#3 keyCompromise CPR: revoke 24 h after receipt", ProblemReportRevocationDue(at, kc), "2026-05-02T10:00:00Z"},
		{"BR §4.9.5 + §4.9.1.1#12 misissuance CPR: revoke 5 days after receipt", ProblemReportRevocationDue(at, mis), "2026-05-06T10:00:00Z"},
		{"IRG v3.2 initial report 72 h after awareness", IncidentInitialReportDue(at), "2026-05-04T10:00:00Z"},
		{"IRG v3.2 full report 14 days after initial disclosure", IncidentFullReportDue(at), "2026-05-15T10:00:00Z"},
		{"IRG v3.2 update within 7 days when no next-update date", IncidentNextUpdateDue(at, time.Time{}), "2026-05-08T10:00:00Z"},
		{"IRG v3.2 update on the whiteboard date", IncidentNextUpdateDue(at, utc(t, "2026-05-20T00:00:00Z")), "2026-05-20T00:00:00Z"},
		{"IRG v3.2 answer comments within 7 days", IncidentCommentResponseDue(at), "2026-05-08T10:00:00Z"},
		{"IRG v3.2 update within 3 days of an action item change", IncidentActionItemUpdateDue(at), "2026-05-04T10:00:00Z"},
		{"IRG v3.2 revocation-delay SHOULD update every 3 days", should, "2026-05-04T10:00:00Z"},
		{"IRG v3.2 revocation-delay MUST update every 7 days", must, "2026-05-08T10:00:00Z"},
	}
	for _, c := range cases {
		if !c.got.Equal(utc(t, c.want)) {
			t.Errorf("%s: got %s, want %s", c.name, c.got.Format(time.RFC3339), c.want)
		}
	}
}
