package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// openIncident issues n certificates and opens an incident over them
// through the API as carol; it returns the incident id and the serials.
func openIncident(t *testing.T, e *apptest.Env, f *apptest.OrderFixture, n int) (string, []string) {
	t.Helper()
	var serials []string
	for range n {
		s, _ := f.Issue(deskSite)
		serials = append(serials, s)
	}
	r := e.Do("POST", "/api/v1/incidents", f.Carol, map[string]any{"title": "vetca Test CA: Certificates issued with a wrong countryName",
		"source": "self", "trigger": "4.9.1.1#12", "awareAt": e.Clock.Now().UTC().Format(time.RFC3339), "serials": serials})
	if r.Status != 201 {
		t.Fatalf("incident: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	if id == "" {
		t.Fatalf("incident answer names no id: %s", r.Raw)
	}
	return id, serials
}

// A compliance user works an incident in a browser: the incidents page
// lists it with its affected count and live countdowns (screenshot
// written to the test's temporary directory and, with
// VETCA_SCREENSHOT_DIR, there as incidents.png); on its page one click
// revokes every affected certificate, the progress reads N/N and each
// certificate is revoked; the full report shows the IRG v3.2 headings.
func TestIncidentsPageInBrowser(t *testing.T) { eachBackend(t, testIncidentsPageInBrowser) }

func testIncidentsPageInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	const n = 3
	id, serials := openIncident(t, e, f, n)
	base := e.Server.URL
	err := chromedp.Do(ctx,
		signIn(base, "carol", f.Carol),
		chromedp.Click(chromedp.CSS(`#menu a[href="/console/incidents"]`)),
		chromedp.WaitVisible(chromedp.ID("incident-"+id)),
	)
	if err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("incident-"+id)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wrong countryName", "self", "4.9.1.1#12", "BR §4.9.1.1", "CCADB IRG v3.2"} {
		if !strings.Contains(row, want) {
			t.Errorf("incident row lacks %q: %q", want, row)
		}
	}
	if strings.Contains(row, "BREACHED") {
		t.Errorf("a new incident shows BREACHED: %q", row)
	}
	if a, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#incident-"+id+" td.affected"))); a != fmt.Sprint(n) {
		t.Errorf("affected count %q, want %d", a, n)
	}
	if p, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#incident-"+id+" td.progress .fraction"))); p != fmt.Sprintf("0/%d", n) {
		t.Errorf("revoked %q, want 0/%d", p, n)
	}
	// The test clock stands still; the browser's runs.
	initial, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#incident-"+id+" td.initial .countdown")))
	if err != nil || (!strings.Contains(initial, "71h 59m") && !strings.Contains(initial, "72h 0m")) {
		t.Errorf("initial report countdown %q (%v), want about 72 hours left", initial, err)
	}
	if c, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#incident-`+id+` .countdown[data-due]').length`)); c < 4 {
		t.Errorf("%d live countdowns in the row, want revocation, initial, full report and update", c)
	}
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("screenshot is no PNG (%d bytes)", len(png))
	}
	files := []string{filepath.Join(t.TempDir(), "incidents.png")}
	if d := os.Getenv("VETCA_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(d, "incidents.png"), filepath.Join(d, "incidents-"+backend+".png"))
	}
	for _, path := range files {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The dry run revokes nothing; the real run revokes all.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#incident-`+id+` a[href="/console/incidents/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("revoke-dry-run")),
		chromedp.Click(chromedp.ID("revoke-dry-run")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if flash, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash"))); !strings.Contains(flash, fmt.Sprintf("would revoke %d of %d", n, n)) {
		t.Errorf("dry run flash %q", flash)
	}
	if p, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("progress"))); p != fmt.Sprintf("0/%d", n) {
		t.Errorf("progress after the dry run %q, want 0/%d", p, n)
	}
	// The click posts and follows the redirect back (PRG): wait for the
	// page it lands on, not the dry run's flash still showing.
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("revoke-all-submit")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Errorf("revoke all: landed with %d", resp.Status)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
		t.Fatal(err)
	}
	if flash, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash"))); !strings.Contains(flash, fmt.Sprintf("Revoked %d of %d", n, n)) {
		t.Errorf("revoke flash %q", flash)
	}
	if p, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("progress"))); p != fmt.Sprintf("%d/%d", n, n) {
		t.Errorf("progress %q, want %d/%d", p, n, n)
	}
	for _, s := range serials {
		if st, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#cert-"+s+" td.state"))); st != "revoked" {
			t.Errorf("certificate %s shows %q, want revoked", s, st)
		}
		if c := e.Do("GET", "/api/v1/certificates/"+s, f.Carol, nil); c.Status != 200 || c.Body["status"] != "revoked" {
			t.Errorf("certificate %s: %d status %v, want revoked", s, c.Status, c.Body["status"])
		}
	}
	if met, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("deadline-revocation"))); !strings.Contains(met, "met") {
		t.Errorf("revocation deadline after revoking: %q", met)
	}

	// The full report, chosen in the selector.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("format"), "full")); err != nil {
		t.Fatal(err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("show-report"))); err != nil || resp.Status != http.StatusOK {
		t.Fatalf("show the full report: %v %v", resp, err)
	}
	rep, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("report")))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"## Full Incident Report", "### Summary", "### Impact", "### Timeline", "### Root Cause Analysis", "### Lessons Learned", "### Action Items", "### Appendix"} {
		if !strings.Contains(rep, h) {
			t.Errorf("the full report lacks %q", h)
		}
	}
	if href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('download-report').getAttribute('href')`)); href != "/console/incidents/"+id+"/report.md?format=full" {
		t.Errorf("download link %q", href)
	}
}

// Only compliance, admin and auditor have the incidents page (auditor
// reading only); a verifier and a subscriber get the 403 error page and no
// menu entry. The downloads are Markdown and CSV; a delay request is
// recorded and moves no deadline.
func TestConsoleIncidentRoles(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	id, serials := openIncident(t, e, f, 1)
	_ = e.User("erin", actor.Compliance)
	for _, who := range []struct {
		login, token string
		read, work   bool
	}{{"bob", f.Bob, false, false}, {f.AccountID, f.AccTok, false, false}, {"audrey", f.Auditor, true, false},
		{"erin", e.User("erin"), true, true}, {"admin", e.AdminToken, true, true}} {
		c := newConsoleClient(t, e, "127.0.0.1")
		cookie := c.mustSignIn(who.login, who.token)
		dash := c.do("GET", "/console", nil, cookie)
		if got := strings.Contains(dash.body, `href="/console/incidents"`); got != who.read {
			t.Errorf("%s: menu links the incidents: %v, want %v", who.login, got, who.read)
		}
		for _, path := range []string{"/console/incidents", "/console/incidents/" + id, "/console/incidents/" + id + "/report.md", "/console/incidents/" + id + "/appendix.csv"} {
			p := c.do("GET", path, nil, cookie)
			switch {
			case who.read && (p.status != http.StatusOK || !strings.Contains(p.body, serials[0]) && !strings.Contains(p.body, "wrong countryName")):
				t.Errorf("%s: %s: %d, want the page", who.login, path, p.status)
			case !who.read && (p.status != http.StatusForbidden || !strings.Contains(p.body, `id="error-page"`) || strings.Contains(p.body, "wrong countryName")):
				t.Errorf("%s: %s: %d, want the 403 error page:\n%s", who.login, path, p.status, p.body)
			}
		}
		detail := c.do("GET", "/console/incidents/"+id, nil, cookie)
		if who.read && strings.Contains(detail.body, `id="revoke-all"`) != who.work {
			t.Errorf("%s: the revoke form is offered: %v, want %v", who.login, !who.work, who.work)
		}
		p := c.do("POST", "/console/incidents/"+id+"/revoke", url.Values{"dryRun": {"1"}}, cookie)
		if who.work && p.status != http.StatusSeeOther {
			t.Errorf("%s: dry run: %d, want a redirect", who.login, p.status)
		}
		if !who.work && p.status != http.StatusForbidden {
			t.Errorf("%s: dry run: %d, want 403", who.login, p.status)
		}
	}

	c := newConsoleClient(t, e, "127.0.0.1")
	cookie := c.mustSignIn("carol", f.Carol)
	md := c.do("GET", "/console/incidents/"+id+"/report.md?format=full", nil, cookie)
	if md.status != 200 || !strings.HasPrefix(md.header.Get("Content-Type"), "text/markdown") || !strings.Contains(md.body, "## Full Incident Report") ||
		!strings.Contains(md.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("report.md: %d %q %q", md.status, md.header.Get("Content-Type"), md.header.Get("Content-Disposition"))
	}
	csv := c.do("GET", "/console/incidents/"+id+"/appendix.csv", nil, cookie)
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(csv.body, "Precertificate SHA-256 hash,") ||
		!strings.Contains(csv.body, serials[0]) {
		t.Errorf("appendix.csv: %d %q\n%s", csv.status, csv.header.Get("Content-Type"), csv.body)
	}
	if bad := c.do("GET", "/console/incidents/"+id+"/report.md?format=nope", nil, cookie); bad.status != http.StatusBadRequest {
		t.Errorf("report.md?format=nope: %d, want 400", bad.status)
	}
	if none := c.do("GET", "/console/incidents/inc_nope", nil, cookie); none.status != http.StatusNotFound || !strings.Contains(none.body, `id="error-page"`) {
		t.Errorf("unknown incident: %d, want the 404 error page", none.status)
	}
	before := c.do("GET", "/console/incidents/"+id, nil, cookie)
	p := c.do("POST", "/console/incidents/"+id+"/delays", url.Values{"requestedBy": {"Acme Widgets"}, "justification": {"the shop runs a sale"}}, cookie)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/console/incidents/"+id+"?ok=") {
		t.Fatalf("delay: %d %s", p.status, p.location())
	}
	after := c.do("GET", p.location(), nil, cookie)
	if !strings.Contains(after.body, "the shop runs a sale") || !strings.Contains(after.body, "moves no deadline") {
		t.Errorf("the incident page does not show the delay request as moving no deadline")
	}
	due := func(body string) string {
		i := strings.Index(body, `id="deadline-revocation"`)
		if i < 0 {
			return ""
		}
		j := strings.Index(body[i:], "data-due=")
		if j < 0 {
			return ""
		}
		return body[i+j : i+j+40]
	}
	if due(before.body) == "" || due(before.body) != due(after.body) {
		t.Errorf("the revocation deadline moved with a delay request: %q, then %q", due(before.body), due(after.body))
	}
	if p := c.do("POST", "/console/incidents/"+id+"/delays", url.Values{"justification": {" "}}, cookie); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="error"`) {
		t.Errorf("empty justification: %d, want 400 with the error", p.status)
	}
}
