package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// A NUL (U+0000) anywhere in what a request carries is refused with 400
// control_character naming where it was, on both backends, and nothing
// is written: PostgreSQL cannot store it in a text column (before, such a
// request was a 500 there and stored on SQLite).
func TestNULIsRefusedEverywhere(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		before := auditEvents(t, e)
		for _, c := range []struct {
			name, method, path string
			body               any
			field              string
		}{
			{"JSON field", "POST", "/api/v1/problem-reports", map[string]any{"reporterEmail": "r@example.org", "category": "other",
				"description": "nul\x00byte", "serials": []string{"01"}}, "description"},
			{"nested JSON field", "POST", "/api/v1/accounts", map[string]any{"name": "Acme", "organizations": []string{"org_\x00"}}, "organizations"},
			{"path", "GET", "/api/v1/accounts/acc_%00", nil, "path"},
			{"query parameter", "GET", "/api/v1/audit/events?actor=user:%00", nil, "actor"},
		} {
			r := e.Do(c.method, c.path, e.AdminToken, c.body)
			if r.Status != http.StatusBadRequest || errField(r.Body) != c.field || errCode(r.Body) != "control_character" {
				t.Errorf("%s: %d %s, want 400 control_character naming %q", c.name, r.Status, r.Raw, c.field)
			}
		}
		if after := auditEvents(t, e); after != before {
			t.Errorf("audit events %d -> %d: a refused request wrote something", before, after)
		}
		// The ACME server answers with an RFC 8555 problem document.
		resp, err := http.Get(e.Server.URL + "/acme/order/ord%00x")
		if err != nil {
			t.Fatal(err)
		}
		var prob map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&prob)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" || prob["type"] != "urn:ietf:params:acme:error:malformed" {
			t.Errorf("ACME: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), prob)
		}
		// Forms: the public report form and the console.
		c := newConsoleClient(t, e, "127.0.0.1")
		p := c.do("POST", "/report", url.Values{"reporterEmail": {"r@example.org"}, "category": {"other"}, "description": {"a\x00b"}, "serials": {"01"}}, "")
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "description contains a NUL") {
			t.Errorf("/report form: %d %.300s", p.status, p.body)
		}
		if p := c.signIn("alice\x00", "vetca_x"); p.status != http.StatusBadRequest {
			t.Errorf("sign-in form: %d", p.status)
		}
		alice := c.mustSignIn("alice", e.User("alice", actor.Admin))
		if p := c.do("POST", "/console/organizations", url.Values{"legalName": {"Acme\x00"}}, alice); p.status != http.StatusBadRequest || !strings.Contains(p.body, "legalName contains a NUL") {
			t.Errorf("console form: %d %.300s", p.status, p.body)
		}
	})
}

func errField(b map[string]any) string {
	e, _ := b["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func errCode(b map[string]any) string {
	e, _ := b["error"].(map[string]any)
	f, _ := e["code"].(string)
	return f
}
