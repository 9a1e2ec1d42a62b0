package web_test

import (
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// Every list of the API takes exactly the query parameters docs/api.md
// names for it, each once: an unknown parameter (a name of another
// endpoint, a misspelling, the wrong case) is 400 unknown_parameter, a
// repeated one 400 repeated_parameter, a since after its until 400
// invalid_window, each naming the parameter, instead of the whole list
// unfiltered or a filter chosen silently. Every parameter a list reads is
// still taken.
func TestListQueryParameters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		admin := e.AdminToken
		acc := "/api/v1/accounts/" + f.accID
		refused := []struct {
			path, field, code string
		}{
			// GET /audit/events: entityType, entityId, actor, action, since, until, after, limit.
			{"/api/v1/audit/events?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/audit/events?entityid=x", "entityid", "unknown_parameter"},
			{"/api/v1/audit/events?EntityType=organizations", "EntityType", "unknown_parameter"},
			{"/api/v1/audit/events?entityType=organizations&organizationId=x", "organizationId", "unknown_parameter"},
			{"/api/v1/audit/events?entityType=a&entityType=b", "entityType", "repeated_parameter"},
			{"/api/v1/audit/events?actor=a&actor=a", "actor", "repeated_parameter"},
			{"/api/v1/audit/events?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until", "invalid_window"},
			{"/api/v1/audit/events?since=2026-02-01T00:00:00Z&until=2026-02-01T00:00:00Z", "until", "invalid_window"},
			{"/api/v1/audit/events?since=yesterday", "since", "invalid_time"},
			{"/api/v1/audit/events?entityType=%zz", "entityType", "invalid_value"},
			{"/api/v1/audit/events?entityType=orders;entityId=x", "entityType", "invalid_value"},
			{"/api/v1/audit/events?%zz=1", "%zz", "unknown_parameter"},
			{"/api/v1/audit/export?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/audit/export?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until", "invalid_window"},
			// GET /certificates: organizationId, accountId, status, notAfterBefore, format, limit, after.
			{"/api/v1/certificates?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/certificates?organizationid=x", "organizationid", "unknown_parameter"},
			{"/api/v1/certificates?entityType=x", "entityType", "unknown_parameter"},
			{"/api/v1/certificates?status=valid&status=revoked", "status", "repeated_parameter"},
			{"/api/v1/certificates?format=csv&format=csv", "format", "repeated_parameter"},
			{"/api/v1/certificates?notAfterBefore=soon", "notAfterBefore", "invalid_time"},
			// GET /problem-reports: status, category, open, breached, limit, after.
			{"/api/v1/problem-reports?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/problem-reports?Status=received", "Status", "unknown_parameter"},
			{"/api/v1/problem-reports?open=true&open=false", "open", "repeated_parameter"},
			// GET /incidents: limit, after.
			{"/api/v1/incidents?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/incidents?status=open", "status", "unknown_parameter"},
			{"/api/v1/incidents?limit=1&limit=2", "limit", "repeated_parameter"},
			// GET /domain-validations: method, version, since, until.
			{"/api/v1/domain-validations?method=dns-change&verison=1", "verison", "unknown_parameter"},
			{"/api/v1/domain-validations?method=dns-change&method=website-change", "method", "repeated_parameter"},
			// The other lists.
			{"/api/v1/organizations?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/accounts?Limit=2", "Limit", "unknown_parameter"},
			{"/api/v1/users?after=&after=", "after", "repeated_parameter"},
			{"/api/v1/orders?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/change-requests?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/templates?foo=bar", "foo", "unknown_parameter"},
			{acc + "/domains?foo=bar", "foo", "unknown_parameter"},
			{acc + "/eab-keys?foo=bar", "foo", "unknown_parameter"},
			{acc + "/acme-accounts?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/acme-accounts/acct_x/orders?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/issuers?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/crl?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/validation-methods/flags?foo=bar", "foo", "unknown_parameter"},
			{"/api/v1/countries?subdivisions=1&subdivisions=1", "subdivisions", "repeated_parameter"},
		}
		for _, c := range refused {
			r := e.Do("GET", c.path, admin, nil)
			field, code := r.ErrField()
			if r.Status != 400 || field != c.field || code != c.code {
				t.Errorf("GET %s: %d %.120s, want 400 %s naming %q", c.path, r.Status, r.Raw, c.code, c.field)
			}
		}
		// Every parameter each list reads is taken.
		for _, path := range []string{
			"/api/v1/audit/events?entityType=organizations&entityId=" + f.orgID + "&actor=x&action=y&since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z&after=0&limit=10",
			"/api/v1/audit/events?entityType=organizations&entityId=",
			"/api/v1/audit/export?entityType=organizations",
			"/api/v1/certificates?organizationId=" + f.orgID + "&accountId=" + f.accID + "&status=valid&notAfterBefore=2030-01-01T00:00:00Z&limit=10&after=",
			"/api/v1/certificates?format=csv&status=valid",
			"/api/v1/problem-reports?status=received&category=other&open=true&breached=false&limit=10",
			"/api/v1/incidents?limit=10",
			"/api/v1/domain-validations?method=dns-change&version=1&since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z",
			"/api/v1/organizations?limit=10",
			"/api/v1/accounts?limit=10",
			"/api/v1/users?limit=10",
			"/api/v1/orders?status=pending_approval&limit=10",
			"/api/v1/change-requests?status=pending&limit=10",
			"/api/v1/templates?accountId=" + f.accID + "&status=approved&limit=10",
			acc + "/domains?limit=10",
			acc + "/eab-keys?limit=10",
			acc + "/acme-accounts?limit=10",
			"/api/v1/issuers",
			"/api/v1/crl",
			"/api/v1/validation-methods/flags",
			"/api/v1/countries?subdivisions=1",
		} {
			if r := e.Do("GET", path, admin, nil); r.Status != 200 {
				t.Errorf("GET %s: %d %.200s", path, r.Status, r.Raw)
			}
		}
		// A filter is applied, not dropped: the organization's own events.
		r := e.Do("GET", "/api/v1/audit/events?entityType=organizations&entityId="+f.orgID, admin, nil)
		events, _ := r.Body["events"].([]any)
		if r.Status != 200 || len(events) == 0 {
			t.Fatalf("filtered events: %d %s", r.Status, r.Raw)
		}
		for _, ev := range events {
			if m := ev.(map[string]any); m["entityType"] != "organizations" || m["entityId"] != f.orgID {
				t.Fatalf("filtered events hold %v", m)
			}
		}
	})
}
