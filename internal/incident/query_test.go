package incident_test

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// docs/api.md, Incidents: a query that names a value nothing stored has,
// or that selects no certificate, is refused (400 invalid_query naming the
// field) and writes nothing; an affected set is never empty by mistake.
func TestQueryThatSelectsNothingIsRefused(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.Issue(site) // relied on a dns-change validation, version 1
		cases := []struct {
			query map[string]any
			field string
		}{
			{map[string]any{"organizationId": "org_doesnotexist"}, "query.organizationId"},
			{map[string]any{"validationMethod": "dns-change", "validationMethodVersion": "nope"}, "query.validationMethodVersion"},
			{map[string]any{"validationMethod": "website-change"}, "query"},
			{map[string]any{"issuedAfter": "2030-01-01T00:00:00Z"}, "query"},
			{map[string]any{"organizationId": w.OrgID, "issuedAfter": "2030-01-01T00:00:00Z"}, "query"},
			{map[string]any{"validationMethodVersion": "1"}, "query.validationMethodVersion"},
		}
		for _, c := range cases {
			b := incidentBody(w.Clock.Now().Add(-time.Hour), nil)
			delete(b, "serials")
			b["query"] = c.query
			r := w.open(t, b)
			if f, code := r.ErrField(); r.Status != 400 || f != c.field || code != string(apperr.CodeInvalidQuery) {
				t.Fatalf("%v: %d %s, want 400 invalid_query naming %s", c.query, r.Status, r.Raw, c.field)
			}
		}
		if l := w.Do("GET", "/api/v1/incidents", w.Carol, nil); len(l.Body["incidents"].([]any)) != 0 {
			t.Fatalf("a refused query wrote an incident: %s", l.Raw)
		}
		b := incidentBody(w.Clock.Now().Add(-time.Hour), nil)
		delete(b, "serials")
		b["query"] = map[string]any{"validationMethod": "dns-change", "validationMethodVersion": "1"}
		if r := w.open(t, b); r.Status != 201 || r.Body["affected"] != float64(1) {
			t.Fatalf("a query that selects a certificate: %d %s", r.Status, r.Raw)
		}
	})
}
