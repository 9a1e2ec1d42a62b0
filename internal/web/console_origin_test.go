package web_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// Behind a proxy that sends vetca its own address as Host, a browser's
// form posts carry the public URL's origin: they are same-origin, and an
// origin that is neither the Host nor the public URL is still refused.
func TestConsoleAcceptsThePublicURLsOrigin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		e.App.Cfg.PublicURL = "https://pki.vetca-test.com"
		e.App.Metrics = prometheus.NewRegistry()
		srv := httptest.NewServer(e.App.Handler())
		t.Cleanup(srv.Close)
		alice := e.User("alice", actor.Verifier)
		for origin, want := range map[string]int{
			"https://pki.vetca-test.com":      http.StatusSeeOther,
			"http://pki.vetca-test.com":       http.StatusForbidden, // another scheme is another origin
			"https://pki.vetca-test.com.evil": http.StatusForbidden,
			"https://evil.example":            http.StatusForbidden,
		} {
			c := newConsoleClient(t, e, "127.0.0.1")
			c.base, c.origin = srv.URL, origin
			if p := c.signIn("alice", alice); p.status != want {
				t.Errorf("sign-in with Origin %s: %d, want %d", origin, p.status, want)
			}
		}
	})
}

// The audit page's "verify the whole trail" link works: verify=1 beside
// the audit filter runs a verification and shows its report.
func TestConsoleAuditVerifyLink(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		c := newConsoleClient(t, e, "127.0.0.1")
		dave := c.mustSignIn("dave", e.User("dave", actor.Auditor))
		p := c.do("GET", "/console/audit?verify=1", nil, dave)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="verify-result"`) {
			t.Fatalf("verify=1: %d\n%.600s", p.status, p.body)
		}
		if p := c.do("GET", "/console/audit?verify=1&actor=user:nobody", nil, dave); p.status != http.StatusOK {
			t.Fatalf("verify=1 with a filter: %d", p.status)
		}
		if p := c.do("GET", "/console/audit?verify=yes", nil, dave); p.status != http.StatusBadRequest {
			t.Fatalf("verify=yes: %d, want 400", p.status)
		}
	})
}

// The console's success banner shows only a message a redirect of this
// session made: a link carrying ok= (a phishing text in the console's own
// banner) shows nothing, and neither does a real redirect's ok= and MAC
// opened in another session.
func TestConsoleFlashOnlyFromItsSession(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		c := newConsoleClient(t, e, "127.0.0.1")
		alice := c.mustSignIn("alice", f.alice)
		const phish = "Your token has expired; re-enter it at https://evil.example"
		if p := c.do("GET", "/console?ok="+url.QueryEscape(phish), nil, alice); strings.Contains(p.body, "evil.example") {
			t.Fatalf("a link's ok= is shown in the banner:\n%.400s", p.body)
		}
		p := c.do("POST", "/console/accounts/"+f.accID+"/contacts", url.Values{"name": {"Sam Patel"}, "email": {"sam@acme.vetca-test.com"}, "role": {"technical"}}, alice)
		if p.status != http.StatusSeeOther {
			t.Fatalf("add contact: %d\n%.400s", p.status, p.body)
		}
		if got := c.do("GET", p.location(), nil, alice); !strings.Contains(got.body, "Contact added.") {
			t.Fatalf("the redirect's own flash is not shown (%s)", p.location())
		}
		bob := c.mustSignIn("bob", f.bob)
		if got := c.do("GET", p.location(), nil, bob); strings.Contains(got.body, "Contact added.") {
			t.Fatal("another session shows the flash of alice's redirect")
		}
	})
}

// The audit page's "Next page" link keeps the filter the page was asked
// with: the events after the last one shown, of the same action, time
// window and page size, not the next 200 events of every action.
func TestConsoleAuditNextPageKeepsFilter(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		c := newConsoleClient(t, e, "127.0.0.1")
		dave := c.mustSignIn("audrey", f.auditor)
		const first = "/console/audit?action=token.issued&limit=2"
		p := c.do("GET", first, nil, dave)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s: %d\n%.600s", first, p.status, p.body)
		}
		m := regexp.MustCompile(`<a href="(/console/audit\?[^"]*)">Next page</a>`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no next page on a full page of 2:\n%s", p.body)
		}
		next, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if q := next.Query(); q.Get("action") != "token.issued" || q.Get("limit") != "2" || q.Get("after") == "" {
			t.Errorf("next page link %s drops the filter: %v", m[1], q)
		}
		p = c.do("GET", next.RequestURI(), nil, dave)
		rows := regexp.MustCompile(`(?s)<tr><td>\d+</td>.*?</tr>`).FindAllString(p.body, -1)
		if p.status != http.StatusOK || len(rows) == 0 || len(rows) > 2 {
			t.Fatalf("next page: %d, %d events, want 1 or 2", p.status, len(rows))
		}
		for _, row := range rows {
			if !strings.Contains(row, "token.issued") {
				t.Errorf("next page shows an event of another action: %s", row)
			}
		}
	})
}

// The audit page's export link works in the browser that shows it: it is
// followed with the session cookie and no Authorization header, and gives
// the JSON Lines export, not the API's 401. A role that may not read the
// trail gets the error page.
func TestConsoleAuditExportLink(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		c := newConsoleClient(t, e, "127.0.0.1")
		audrey := c.mustSignIn("audrey", f.auditor)
		p := c.do("GET", "/console/audit", nil, audrey)
		m := regexp.MustCompile(`<a href="([^"]*)">export`).FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil {
			t.Fatalf("audit page: %d, no export link\n%.800s", p.status, p.body)
		}
		link := html.UnescapeString(m[1])
		p = c.do("GET", link, nil, audrey)
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "application/x-ndjson") || !strings.Contains(p.body, `"action":"token.issued"`) {
			t.Fatalf("GET %s (the export link) in the browser: %d %s\n%.400s", link, p.status, p.header.Get("Content-Type"), p.body)
		}
		bob := c.mustSignIn("bob", f.bob)
		if p := c.do("GET", link, nil, bob); p.status != http.StatusForbidden || strings.Contains(p.body, `"action"`) {
			t.Fatalf("a verifier following the export link: %d\n%.400s", p.status, p.body)
		}

		// On a filtered page the link exports what the filter selects,
		// every page of it, not the whole trail.
		p = c.do("GET", "/console/audit?action=token.issued&limit=1", nil, audrey)
		m = regexp.MustCompile(`<a href="([^"]*)">export`).FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil {
			t.Fatalf("filtered audit page: %d, no export link", p.status)
		}
		link = html.UnescapeString(m[1])
		p = c.do("GET", link, nil, audrey)
		lines := strings.Split(strings.TrimSpace(p.body), "\n")
		if p.status != http.StatusOK || len(lines) < 2 {
			t.Fatalf("GET %s: %d, %d lines, want every token.issued event", link, p.status, len(lines))
		}
		for _, l := range lines {
			if !strings.Contains(l, `"action":"token.issued"`) {
				t.Fatalf("the export of a page filtered by action has another event: %.200s", l)
			}
		}
	})
}
