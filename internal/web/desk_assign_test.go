package web_test

import (
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// A problem report is assigned only to an active staff user who can work
// the desk (compliance or admin): a typo, an auditor, an account id or a
// name with a right-to-left override would leave a BR-clocked case with
// nobody to act on it.
func TestProblemReportAssigneeMustWorkTheDesk(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		carol := e.User("carol", actor.Compliance)
		e.User("dave", actor.Auditor)
		id := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "a question"})
		for _, who := range []string{"ghost", "dave", "ghost user \u202e", "acc_123"} {
			r := e.Do("POST", "/api/v1/problem-reports/"+id+"/assign", carol, map[string]any{"assignee": who})
			if field, code := r.ErrField(); r.Status != 400 || field != "assignee" || code != "invalid_value" {
				t.Errorf("assign to %q: %d %s", who, r.Status, r.Raw)
			}
		}
		r := e.Do("POST", "/api/v1/problem-reports/"+id+"/assign", carol, map[string]any{"assignee": " carol "})
		if r.Status != 200 || r.Body["assignedTo"] != "carol" {
			t.Fatalf("assign to carol: %d %s", r.Status, r.Raw)
		}
	})
}
