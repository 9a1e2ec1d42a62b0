package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// an amend change request whose value is JSON null passes the
// check made when it is created (encoding/json reads null into a bool or
// a string as "nothing to do"), is stored as "null", and then cannot be
// applied: the approval that would apply it is refused 400 invalid_value,
// again and again, so the request can never complete. docs/api.md says the
// value must pass the field's rule when the request is made ("two
// approvals never put in what that endpoint refuses"), and a null is not
// true/false nor an address.
func TestChangeRequestNullValueIsRefusedAtCreation(t *testing.T) {
	e := apptest.New(t, apptest.SQLite)
	f := setup(t, e)
	r := e.Do("GET", "/api/v1/users", e.AdminToken, nil)
	var bobID string
	for _, u := range r.Body["users"].([]any) {
		if u := u.(map[string]any); u["name"] == "bob" {
			bobID = u["id"].(string)
		}
	}
	if bobID == "" {
		t.Fatalf("no user bob: %s", r.Raw)
	}
	for _, field := range []string{"disabled", "email"} {
		body := []byte(`{"kind":"amend","table":"users","rowId":"` + bobID + `","field":"` + field + `","value":null,"reason":"test"}`)
		r := e.Do("POST", "/api/v1/change-requests", f.alice, body)
		if r.Status == 201 {
			id := r.Body["id"].(string)
			// It was accepted: show that it can never be applied.
			a1 := e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.carol, nil)
			a2 := e.Do("POST", "/api/v1/change-requests/"+id+"/approve", f.dave, nil)
			t.Errorf("users.%s amended to null: create 201 (stored value %v); approvals %d, then %d %s", field, r.Body["value"], a1.Status, a2.Status, a2.Raw)
			continue
		}
		if fld, code := r.ErrField(); r.Status != 400 || fld != "value" || code != "invalid_value" {
			t.Errorf("users.%s amended to null: %d %s, want 400 invalid_value naming value", field, r.Status, r.Raw)
		}
	}
}

// docs/api.md (Errors): "A text field that is not valid UTF-8 is
// refused naming it, never stored with U+FFFD." encoding/json replaces
// every invalid byte (and a lone surrogate escape) with U+FFFD before any
// service sees the text, and only the fields checked with package
// plaintext or vetting's checkText look for it. The other free-text
// fields store the replacement character.
func TestInvalidUTF8InFreeTextIsRefused(t *testing.T) {
	e := apptest.New(t, apptest.SQLite)
	f := setup(t, e)
	bad := "bad \xff text"

	// A public problem report's description.
	r := e.Do("POST", "/api/v1/problem-reports", "", []byte(`{"reporterEmail":"finder@example.org","category":"other","description":"`+bad+`"}`))
	caseID, _ := r.Body["id"].(string)
	if r.Status != 400 {
		desc := ""
		if caseID != "" {
			desc, _ = e.Do("GET", "/api/v1/problem-reports/"+caseID, f.carol, nil).Body["description"].(string)
		}
		t.Errorf("problem report description: %d, stored as %q; want 400 naming description", r.Status, desc)
	}
	if caseID == "" {
		r = e.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "finder@example.org", "category": "other", "description": "fine"})
		if r.Status != 202 {
			t.Fatalf("problem report: %d %s", r.Status, r.Raw)
		}
		caseID = r.Body["id"].(string)
	}
	before := auditEvents(t, e)
	cases := []struct{ name, path, token, body, field string }{
		{"case note", "/api/v1/problem-reports/" + caseID + "/notes", f.carol, `{"text":"` + bad + `"}`, "text"},
		{"change request reason", "/api/v1/change-requests", f.alice, `{"kind":"restore","table":"accounts","rowId":"` + f.accID + `","reason":"` + bad + `"}`, "reason"},
		{"lone surrogate in a change request reason", "/api/v1/change-requests", f.alice, `{"kind":"restore","table":"accounts","rowId":"` + f.accID + `","reason":"x \ud800 y"}`, "reason"},
	}
	for _, c := range cases {
		r := e.Do("POST", c.path, c.token, []byte(c.body))
		if field, _ := r.ErrField(); r.Status != 400 || field != c.field {
			t.Errorf("%s: %d %.300s, want 400 naming %q", c.name, r.Status, r.Raw, c.field)
		}
		if strings.Contains(string(r.Raw), "\uFFFD") {
			t.Errorf("%s: stored with U+FFFD: %.300s", c.name, r.Raw)
		}
	}
	if after := auditEvents(t, e); after != before {
		t.Errorf("refused requests wrote %d audit events", after-before)
	}
}

// a console form's text is not JSON, so invalid UTF-8 reaches the
// services as raw bytes: the form path refuses only a NUL
// (nulInValues), and the desk's note, close reasons and findings check
// only that the text is not blank. On SQLite the raw bytes are stored in
// the audited row; on PostgreSQL the same request fails in the database
// (invalid byte sequence for encoding "UTF8"), a 500. docs/api.md
// promises that a text field that is not valid UTF-8 is refused naming
// it, and refuses NUL at the edge precisely so both backends answer alike.
func TestConsoleFormInvalidUTF8IsRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		r := e.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "finder@example.org", "category": "other", "description": "fine"})
		if r.Status != 202 {
			t.Fatalf("problem report: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		c := newConsoleClient(t, e, "127.0.0.1")
		carol := c.mustSignIn("carol", e.User("carol", actor.Compliance))
		before := auditEvents(t, e)
		p := c.do("POST", "/console/problem-reports/"+id+"/notes", url.Values{"text": {"raw \xff byte"}}, carol)
		if p.status != 400 {
			t.Errorf("console note with invalid UTF-8: %d (want 400 naming text)", p.status)
		}
		if after := auditEvents(t, e); after != before {
			t.Errorf("the refused note wrote %d audit events", after-before)
		}
		// The sign-in form's name is looked up as it came.
		if p := c.signIn("caro\xffl", "vetca_nope"); p.status >= 500 {
			t.Errorf("sign-in with a name that is not UTF-8: %d", p.status)
		}
	})
}

// a path id or query parameter that is not UTF-8 ("%FF") is
// passed to the database as it is. SQLite compares it and finds nothing
// (404, or an empty list); PostgreSQL refuses the statement (invalid byte
// sequence for encoding "UTF8") and the API answers 500 internal. The
// edge refuses a NUL in the path and query for exactly this reason (nul.go)
// but not these bytes.
func TestInvalidUTF8InPathOrQueryIsNotA500(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		for _, c := range []struct{ path, token string }{
			{"/api/v1/orders/%FF", e.AdminToken},
			{"/api/v1/accounts/%FF", e.AdminToken},
			{"/api/v1/organizations/%FF", e.AdminToken},
			{"/api/v1/certificates?accountId=%FF", e.AdminToken},
			{"/api/v1/audit/events?actor=%FF", e.AdminToken},
			{"/api/v1/accounts/" + f.accID + "/contacts/%FF", f.accToken},
		} {
			method := "GET"
			var body any
			if strings.Contains(c.path, "/contacts/") {
				method, body = "PATCH", map[string]any{"name": "Jane Roe"}
			}
			if r := e.Do(method, c.path, c.token, body); r.Status >= 500 {
				t.Errorf("%s %s: %d %s", method, c.path, r.Status, r.Raw)
			}
		}
	})
}

// a time field given as the zero time, 0001-01-01T00:00:00Z, is an
// RFC 3339 time with a zone and passes every check (it is not in the
// future), but the store writes the zero time.Time as NULL, and the NOT
// NULL column refuses it: 500 internal instead of a 4xx naming the field.
// docs/api.md: "A time given is applied whatever it is".
func TestZeroTimeIsNotA500(t *testing.T) {
	const site = "shop.acme-widgets.com"
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	serial, _ := f.Issue(site)
	carol := e.User("carol", actor.Compliance)
	const zero = "0001-01-01T00:00:00Z"
	before := auditEvents(t, e)
	r := e.Do("POST", "/api/v1/incidents", carol, map[string]any{"title": "vetca Test: zero time", "source": "self",
		"trigger": "4.9.1.1#9", "awareAt": zero, "serials": []string{serial}})
	if r.Status >= 500 {
		t.Errorf("incident with awareAt %s: %d %s", zero, r.Status, r.Raw)
	}
	r = e.Do("POST", "/api/v1/certificates/"+serial+"/revoke", carol, map[string]any{"trigger": "4.9.1.1#9", "evidence": "test", "evidenceAt": zero})
	if r.Status >= 500 {
		t.Errorf("revoke with evidenceAt %s: %d %s", zero, r.Status, r.Raw)
	}
	if after := auditEvents(t, e); after != before && r.Status >= 400 {
		t.Errorf("refused requests wrote %d audit events", after-before)
	}
}

// an incident's saved query bounds notBefore with issuedBefore,
// and "every field set must match" (docs/api.md, Incidents). A query
// with issuedBefore 0001-01-01T00:00:00Z is stored saying so, but
// incident.scopeOf passes the zero time on as "no bound": the frozen
// affected set is every certificate of the organization, none of which
// was issued before year 1, and a bulk revoke of the incident would
// revoke them all. issuedBefore 1000-01-01 is refused as selecting
// nothing, as it should be.
func TestIncidentQueryZeroBoundIsApplied(t *testing.T) {
	const site = "shop.acme-widgets.com"
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	serial, _ := f.Issue(site)
	carol := e.User("carol", actor.Compliance)
	org := e.Do("GET", "/api/v1/certificates/"+serial, carol, nil).Body["organizationId"].(string)
	for _, before := range []string{"1000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"} {
		r := e.Do("POST", "/api/v1/incidents", carol, map[string]any{"title": "vetca Test: old certificates", "source": "self",
			"trigger": "4.9.1.1#9", "awareAt": e.Clock.Now().Format("2006-01-02T15:04:05Z"),
			"query": map[string]any{"organizationId": org, "issuedBefore": before}})
		if r.Status != 400 {
			t.Errorf("query issuedBefore %s: %d %s, want 400 invalid_query (it selects no certificate)", before, r.Status, r.Raw)
		}
	}
}

// vetca stores times as text in the form 2006-01-02T15:04:05Z
// (store.FormatTime) and reads them back with the same layout. A time
// whose UTC year is outside 0000-9999 is a valid RFC 3339 input
// ("9999-12-31T23:59:59-23:59" is 10000-01-01T23:58:59Z,
// "0000-01-01T00:00:00+01:00" is -0001-12-31T23:00:00Z), passes every
// check (not in the future where that is checked), is written as
// "10000-…" or "-0001-…", and can never be read again: every later read
// of the row fails, a 500. One request by a compliance user poisons the
// whole incident list (and `vetca deadlines`, and serve's deadline
// watch), or a certificate's record and its OCSP answer.
func TestOutOfRangeTimesDoNotPoisonStoredRows(t *testing.T) {
	const site = "shop.acme-widgets.com"
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	serial, _ := f.Issue(site)
	carol := e.User("carol", actor.Compliance)
	now := e.Clock.Now().Format("2006-01-02T15:04:05Z")
	newIncident := func(awareAt string) apptest.Response {
		return e.Do("POST", "/api/v1/incidents", carol, map[string]any{"title": "vetca Test: out of range", "source": "self",
			"trigger": "4.9.1.1#9", "awareAt": awareAt, "serials": []string{serial}})
	}
	readable := func(what string) {
		t.Helper()
		if r := doRaw(t, e, "GET", "/api/v1/incidents", carol, "", nil); r.Status != 200 {
			t.Errorf("after %s: GET /incidents %d %s", what, r.Status, r.Raw)
		}
	}
	r := newIncident(now)
	if r.Status != 201 {
		t.Fatalf("incident: %d %s", r.Status, r.Raw)
	}
	inc := r.Body["id"].(string)

	// A disclosure whose next update is after year 9999 (UTC).
	// e.Do would stop the test at the answer: 200 with an empty body.
	r = doRaw(t, e, "POST", "/api/v1/incidents/"+inc+"/disclosures", carol, "application/json",
		[]byte(`{"kind":"preliminary","postedAt":"`+now+`","nextUpdate":"9999-12-31T23:59:59-23:59"}`))
	if r.Status < 400 {
		t.Errorf("disclosure with nextUpdate in year 10000: %d %q, want 400 invalid_time naming nextUpdate", r.Status, r.Raw)
	}
	readable("a disclosure with nextUpdate in year 10000")

	// An action item due after year 9999.
	r = doRaw(t, e, "POST", "/api/v1/incidents/"+inc+"/action-items", carol, "application/json",
		[]byte(`{"actionItem":"x","kind":"Prevent","rootCauses":"y","evaluationCriteria":"z","dueDate":"9999-12-31T23:59:59-23:59","status":"Ongoing"}`))
	if r.Status < 400 {
		t.Errorf("action item due in year 10000: %d %q, want 400 invalid_time naming dueDate", r.Status, r.Raw)
	}
	if r := doRaw(t, e, "GET", "/api/v1/incidents/"+inc, carol, "", nil); r.Status != 200 {
		t.Errorf("after an action item due in year 10000: GET the incident %d %s", r.Status, r.Raw)
	}

	// An incident the CA became aware of in year -1.
	if r := newIncident("0000-01-01T00:00:00+01:00"); r.Status < 400 {
		t.Errorf("incident with awareAt in year -1: %d %s, want 400 invalid_time naming awareAt", r.Status, r.Raw)
	}
	readable("an incident with awareAt in year -1")

	// A revocation whose evidence was obtained in year -1.
	r = e.Do("POST", "/api/v1/certificates/"+serial+"/revoke", carol, map[string]any{"trigger": "4.9.1.1#9", "evidence": "test", "evidenceAt": "0000-01-01T00:00:00+01:00"})
	if r.Status != 400 {
		t.Errorf("revoke with evidenceAt in year -1: %d %s, want 400 invalid_time naming evidenceAt", r.Status, r.Raw)
	}
	if r := doRaw(t, e, "GET", "/api/v1/certificates/"+serial, carol, "", nil); r.Status != 200 {
		t.Errorf("after a revocation with evidenceAt in year -1: GET the certificate %d %s", r.Status, r.Raw)
	}
}

// list filters compare stored times with the parameter as text;
// a time after year 9999 (UTC) formats as "10000-…", which sorts before
// "2026-…". notAfterBefore of year 10000 then selects no certificate,
// audit until of year 10000 no event and since of year 10000 every event,
// the opposite of what was asked ("a time given is applied whatever it
// is", docs/api.md, Lists). /domain-validations answers 200 with an empty
// body: the result echoes the time, which encoding/json cannot write.
func TestListTimesAfterYear9999AreApplied(t *testing.T) {
	const site = "shop.acme-widgets.com"
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	f.Issue(site)
	admin := e.AdminToken
	const far = "9999-12-31T23:59:59-23:59" // 10000-01-01T23:58:59Z
	count := func(path, key string) (int, apptest.Response) {
		r := e.Do("GET", path, admin, nil)
		list, _ := r.Body[key].([]any)
		return len(list), r
	}
	if n, r := count("/api/v1/certificates?notAfterBefore="+url.QueryEscape(far), "certificates"); n != 1 {
		t.Errorf("notAfterBefore %s: %d certificates (%d), want the 1 issued", far, n, r.Status)
	}
	if n, r := count("/api/v1/audit/events?until="+url.QueryEscape(far), "events"); n == 0 {
		t.Errorf("until %s: no events (%d), want every event", far, r.Status)
	}
	if n, r := count("/api/v1/audit/events?since="+url.QueryEscape(far), "events"); n != 0 {
		t.Errorf("since %s: %d events (%d), want none", far, n, r.Status)
	}
	r := doRaw(t, e, "GET", "/api/v1/domain-validations?method=dns-change&until="+url.QueryEscape(far), admin, "", nil)
	if r.Status != 200 || r.Body == nil {
		t.Errorf("domain-validations until %s: %d %q, want a JSON answer", far, r.Status, r.Raw)
	}
}

// the same out-of-range time, given as a problem report
// decision's revokeAt (which may be earlier than now, not later than the
// deadline), is stored in the case's row as "-0001-…": from then on the
// desk's list, the case, the console desk and the dashboard of every
// compliance and admin user answer 500, through the API and the console
// form alike.
func TestDecisionRevokeAtOutOfRangeDoesNotBreakTheDesk(t *testing.T) {
	for _, via := range []string{"api", "console"} {
		t.Run(via, func(t *testing.T) {
			e := apptest.New(t, apptest.SQLite)
			r := e.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "finder@example.org", "category": "other", "description": "fine"})
			if r.Status != 202 {
				t.Fatalf("problem report: %d %s", r.Status, r.Raw)
			}
			id := r.Body["id"].(string)
			carolToken := e.User("carol", actor.Compliance)
			c := newConsoleClient(t, e, "127.0.0.1")
			carol := c.mustSignIn("carol", carolToken)
			const early = "0000-01-01T00:00:00+01:00"
			if via == "api" {
				r := doRaw(t, e, "POST", "/api/v1/problem-reports/"+id+"/decide", carolToken, "application/json",
					[]byte(`{"decision":"revoke","trigger":"4.9.1.1#9","revokeAt":"`+early+`"}`))
				if r.Status != 400 {
					t.Errorf("decide with revokeAt %s: %d %s, want 400 invalid_time naming revokeAt", early, r.Status, r.Raw)
				}
			} else {
				p := c.do("POST", "/console/problem-reports/"+id+"/decide", url.Values{"decision": {"revoke"}, "trigger": {"4.9.1.1#9"}, "revokeAt": {early}}, carol)
				if p.status != 400 {
					t.Errorf("console decide with revokeAt %s: %d, want 400", early, p.status)
				}
			}
			if r := doRaw(t, e, "GET", "/api/v1/problem-reports", carolToken, "", nil); r.Status != 200 {
				t.Errorf("GET /problem-reports: %d %s", r.Status, r.Raw)
			}
			if p := c.do("GET", "/console", nil, carol); p.status != 200 {
				t.Errorf("GET /console (dashboard): %d", p.status)
			}
		})
	}
}
