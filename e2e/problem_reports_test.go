package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// A problem report answered 202 is durable (docs/design.md §12): the server
// is killed (SIGKILL) right after answering, and the restarted server
// shows the case to compliance. `vetca deadlines --at` past the BR §4.9.5
// deadline lists its preliminary report as breached and exits 1.
func TestProblemReportSurvivesSIGKILL(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		carol := in.User("carol", "compliance")
		in.Serve()
		r := in.Do("POST", "/api/v1/problem-reports", "", map[string]any{
			"reporterEmail": "finder@example.org", "category": "other", "description": "a question about a certificate"})
		if r.Status != 202 {
			t.Fatalf("report: %d %s", r.Status, r.Raw)
		}
		in.Kill()
		id, _ := r.Body["id"].(string)
		received, err := time.Parse(time.RFC3339, r.Body["receivedAt"].(string))
		if err != nil || id == "" || r.Body["preliminaryReportDue"] != received.Add(24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("202 body %s", r.Raw)
		}
		in.Serve()
		g := in.Do("GET", "/api/v1/problem-reports/"+id, carol, nil)
		if g.Status != 200 || g.Body["status"] != "received" || g.Body["reporterEmail"] != "finder@example.org" {
			t.Fatalf("after SIGKILL and restart: %d %s", g.Status, g.Raw)
		}
		in.Stop()
		out, errOut, code := in.CLI("deadlines", "--json", "--at", received.Add(25*time.Hour).Format(time.RFC3339))
		var res struct {
			Items []struct {
				Kind, Ref, Section string
				Breached           bool
			}
		}
		if code != 1 || json.Unmarshal([]byte(out), &res) != nil || len(res.Items) != 1 || res.Items[0].Ref != id || !res.Items[0].Breached ||
			res.Items[0].Kind != "preliminary_report" || res.Items[0].Section != "BR §4.9.5" {
			t.Fatalf("deadlines --at: exit %d %s %s", code, out, errOut)
		}
		if _, _, code := in.CLI("deadlines", "--at", "tomorrow"); code != 2 {
			t.Errorf("deadlines --at tomorrow: exit %d, want 2", code)
		}
		if _, _, code := in.CLI("deadlines", "--at", received.Add(time.Hour).Format(time.RFC3339)); code != 0 {
			t.Errorf("deadlines before the deadline: exit %d, want 0", code)
		}
	})
}
