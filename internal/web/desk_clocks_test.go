package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

var deadlineRe = regexp.MustCompile(`(?s)<tr id="deadline-(preliminary|revocation)">(.*?)</tr>`)

// deadlines returns a case page's deadline cells by obligation.
func deadlines(body string) map[string]string {
	out := map[string]string{}
	for _, m := range deadlineRe.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// The case page's clocks say what the desk's obligations say (BR §4.9.5,
// §4.9.1.1; docs/design.md §12). A preliminary report the outbox gave up
// on (550) does not show the obligation met; its failure is shown. A
// match merged into a decided case awaits its own case's decision, so the
// decided case's revocation is met once what it decided is revoked; and
// the duplicate, merged but never decided, still offers the decide form.
func TestProblemReportPageClocksFollowTheDesk(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, backend, opt)
			f := apptest.NewOrderFixture(t, e, dns, "shop.acme-widgets.com")
			b1, _ := f.Issue("shop.acme-widgets.com")
			b2, _ := f.Issue("shop.acme-widgets.com")
			carol := newConsoleClient(t, e, "127.0.0.1").mustSignIn("carol", f.Carol)
			c := newConsoleClient(t, e, "127.0.0.1")

			fid := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "a question"})
			e.SMTP.RejectAll(true)
			if r := e.Do("POST", "/api/v1/problem-reports/"+fid+"/preliminary-report", f.Carol, map[string]any{"findings": "nothing of ours"}); r.Status != 200 {
				t.Fatalf("preliminary report: %d %s", r.Status, r.Raw)
			}
			e.Deliver()
			e.SMTP.RejectAll(false)
			p := c.do("GET", "/console/problem-reports/"+fid, nil, carol)
			if d := deadlines(p.body)["preliminary"]; p.status != 200 || strings.Contains(d, `class="met"`) || !strings.Contains(d, `class="countdown`) {
				t.Errorf("BR §4.9.5: a preliminary report refused with 550 shows the obligation as %q", d)
			}
			if !strings.Contains(p.body, `<span class="badge breached">failed</span>`) {
				t.Errorf("the page does not show the failed delivery:\n%s", p.body)
			}

			tid := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong locality", "serials": []string{b1}})
			if r := e.Do("POST", "/api/v1/problem-reports/"+tid+"/decide", f.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#13", "reason": "locality wrong"}); r.Status != 200 {
				t.Fatalf("decide: %d %s", r.Status, r.Raw)
			}
			did := fileReport(t, e, map[string]any{"reporterEmail": "rp2@example.org", "category": "misissuance", "description": "these too", "serials": []string{b1, b2}})
			if p := c.do("POST", "/console/problem-reports/"+did+"/merge", url.Values{"into": {tid}}, carol); p.status != 303 {
				t.Fatalf("merge: %d %s", p.status, p.body)
			}
			p = c.do("GET", "/console/problem-reports/"+tid, nil, carol)
			if d := deadlines(p.body)["revocation"]; !strings.Contains(d, `class="met"`) {
				t.Errorf("BR §4.9.1.1: the decided certificate is revoked, yet the revocation shows %q", d)
			}
			if !strings.Contains(p.body, "awaits its own case's decision") {
				t.Errorf("the merged-in match %s is not shown awaiting its own decision:\n%s", b2, p.body)
			}
			if p := c.do("GET", "/console/problem-reports/"+did, nil, carol); !strings.Contains(p.body, `id="decide"`) {
				t.Errorf("the merged, undecided duplicate offers no decision:\n%s", p.body)
			}
		})
	}
}
