package web_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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
	"github.com/vetca/vetca/internal/cpr"
)

const deskSite = "shop.acme-widgets.com"

// issueWithKey issues a certificate for key as f's account (approved by
// bob and carol, finalized by the subscriber) and returns its serial.
func issueWithKey(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) string {
	t.Helper()
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{deskSite}, "csr": apptest.CSR(t, key, pkix.Name{}, deskSite)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{f.Bob, f.Carol} {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string)
}

func pkcs8PEM(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// fileReport files a problem report through the public API and returns
// the case id.
func fileReport(t *testing.T, e *apptest.Env, body map[string]any) string {
	t.Helper()
	r := e.Do("POST", "/api/v1/problem-reports", "", body)
	if r.Status != 202 {
		t.Fatalf("problem report: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

// Anyone, not signed in, reports a key compromise on /report by pasting
// the PKCS#8 private key of a certificate: the page names the case, which
// matched the certificate and revoked it keyCompromise (BR §4.9.1.1
// item 3).
func TestReportFormInBrowser(t *testing.T) { eachBackend(t, testReportFormInBrowser) }

func testReportFormInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	key := apptest.Key(t)
	serial := issueWithKey(t, f, key)
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.Server.URL+"/report"),
		chromedp.WaitVisible(chromedp.ID("reporterEmail")),
		chromedp.SendKeys(chromedp.ID("reporterEmail"), "finder@example.org"),
		chromedp.SetValue(chromedp.ID("category"), "keyCompromise"),
		chromedp.SendKeys(chromedp.ID("description"), "This key was published on a paste site."),
		chromedp.SetValue(chromedp.ID("privateKey"), pkcs8PEM(t, key)),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("case-id")),
	)
	if err != nil {
		t.Fatal(err)
	}
	id, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("case-id")))
	if err != nil || !strings.HasPrefix(id, "cpr_") {
		t.Fatalf("case id %q (%v)", id, err)
	}
	v, err := e.App.CPR.Get(context.Background(), e.Actor(f.Carol), id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Channel != cpr.ChannelWeb || v.ReporterEmail != "finder@example.org" || v.Decision != cpr.DecisionRevoke || v.Trigger != "4.9.1.1#3" {
		t.Errorf("case: channel %s, reporter %s, decision %q, trigger %q", v.Channel, v.ReporterEmail, v.Decision, v.Trigger)
	}
	if len(v.Matches) != 1 || v.Matches[0].Serial != serial || !v.Matches[0].Revoked {
		t.Fatalf("matches %+v, want %s revoked", v.Matches, serial)
	}
	cert := e.Do("GET", "/api/v1/certificates/"+serial, f.Carol, nil)
	if cert.Status != 200 || cert.Body["reason"] != "keyCompromise" {
		t.Fatalf("certificate %s: %d reason %v", serial, cert.Status, cert.Body["reason"])
	}
}

// A compliance user works the desk in a browser: the new case is listed
// with its 24-hour countdown (screenshot written to the test's temporary
// directory and, with VETCA_SCREENSHOT_DIR, there as compliance-desk.png);
// one click sends the preliminary report, listed for the reporter and the
// subscriber; a case left without one past 24 hours shows BREACHED.
func TestComplianceDeskInBrowser(t *testing.T) { eachBackend(t, testComplianceDeskInBrowser) }

func testComplianceDeskInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	serial := issueWithKey(t, f, apptest.Key(t))
	id := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
		"description": "the locality is wrong", "serials": []string{serial}})
	base := e.Server.URL
	err := chromedp.Do(ctx,
		signIn(base, "carol", f.Carol),
		chromedp.Click(chromedp.CSS(`#menu a[href="/console/problem-reports"]`)),
		chromedp.WaitVisible(chromedp.ID("case-"+id)),
	)
	if err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("case-"+id)))
	if err != nil {
		t.Fatal(err)
	}
	prelim, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#case-"+id+" td.prelim .countdown")))
	if err != nil {
		t.Fatal(err)
	}
	// The test clock stands still; the browser's runs, so the countdown
	// shows 24h 0m 0s or, a second later, 23h 59m 59s.
	if !strings.Contains(prelim, "23h 59m") && !strings.Contains(prelim, "24h 0m") {
		t.Errorf("preliminary report countdown %q, want about 24 hours left", prelim)
	}
	for _, want := range []string{"misissuance", "api", "rp@example.org", "BR §4.9.5"} {
		if !strings.Contains(row, want) {
			t.Errorf("case row lacks %q: %q", want, row)
		}
	}
	if strings.Contains(row, "BREACHED") {
		t.Errorf("a new case shows BREACHED: %q", row)
	}
	if m, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#case-"+id+" td.matched"))); m != "1" {
		t.Errorf("matched count %q, want 1", m)
	}
	// A desk is read on a desktop screen: the whole table in view.
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(png) == 0 || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("screenshot is no PNG (%d bytes)", len(png))
	}
	// compliance-desk.png in the test's directory and, with
	// VETCA_SCREENSHOT_DIR, there too (the last backend's run leaves it),
	// with a copy per backend.
	files := []string{filepath.Join(t.TempDir(), "compliance-desk.png")}
	if d := os.Getenv("VETCA_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(d, "compliance-desk.png"), filepath.Join(d, "compliance-desk-"+backend+".png"))
	}
	for _, path := range files {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %s: %v", path, err)
		}
		t.Logf("screenshot: %s", path)
	}

	// One click sends the preliminary report to both parties.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#case-`+id+` a[href="/console/problem-reports/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("send-preliminary")),
		chromedp.Click(chromedp.ID("send-preliminary")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#reports-sent tr.sent')].map(tr => tr.innerText)`))
	if err != nil {
		t.Fatal(err)
	}
	var reporter, subscriber bool
	for _, s := range sent {
		reporter = reporter || (strings.Contains(s, "rp@example.org") && strings.Contains(s, "reporter") && strings.Contains(s, "preliminary"))
		subscriber = subscriber || (strings.Contains(s, "jane@acme-widgets.com") && strings.Contains(s, "subscriber") && strings.Contains(s, "preliminary"))
	}
	if !reporter || !subscriber {
		t.Errorf("reports sent %q, want the preliminary report to rp@example.org (reporter) and jane@acme-widgets.com (subscriber)", sent)
	}
	if met, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("deadline-preliminary"))); !strings.Contains(met, "met") {
		t.Errorf("preliminary deadline after sending: %q", met)
	}

	// Another case gets no preliminary report; 25 hours later the deadline
	// watch records the breach and the desk shows it.
	late := fileReport(t, e, map[string]any{"reporterEmail": "other@example.org", "category": "other", "description": "a question"})
	e.Clock.Advance(25 * time.Hour)
	if _, err := e.App.CPR.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		signIn(base, "carol", f.Carol), // the session ran out meanwhile
		chromedp.Navigate(base+"/console/problem-reports"),
		chromedp.WaitVisible(chromedp.ID("case-"+late)),
	)
	if err != nil {
		t.Fatal(err)
	}
	lateRow, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("case-"+late)))
	if !strings.Contains(lateRow, "BREACHED") {
		t.Errorf("a case 25 hours without a preliminary report: %q, want BREACHED", lateRow)
	}
	breachedClass, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#case-`+late+` td.prelim .countdown').classList.contains('breached')`))
	if !breachedClass {
		t.Error("the breached countdown has no breached class")
	}
	if okRow, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("case-"+id))); strings.Contains(okRow, "BREACHED") {
		t.Errorf("the case whose preliminary report was sent in time shows BREACHED: %q", okRow)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/console/problem-reports?breached=1"))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("breached filter: %v %v", resp, err)
	}
	only, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#cases tr[id]')].map(tr => tr.id)`))
	if len(only) != 1 || only[0] != "case-"+late {
		t.Errorf("breached filter lists %q, want only case-%s", only, late)
	}
}

// Only compliance and admin have the desk: a verifier and a subscriber
// get the 403 error page for the list and for a case, and no menu entry;
// a compliance user gets both pages and the entry.
func TestConsoleDeskRoles(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	id := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "a question"})
	_ = e.User("erin", actor.Compliance)
	for _, who := range []struct {
		login, token string
		allowed      bool
	}{{"bob", f.Bob, false}, {f.AccountID, f.AccTok, false}, {"audrey", f.Auditor, false}, {"erin", e.User("erin"), true}, {"admin", e.AdminToken, true}} {
		c := newConsoleClient(t, e, "127.0.0.1")
		cookie := c.mustSignIn(who.login, who.token)
		dash := c.do("GET", "/console", nil, cookie)
		if got := strings.Contains(dash.body, `href="/console/problem-reports"`); got != who.allowed {
			t.Errorf("%s: menu or dashboard links the desk: %v, want %v", who.login, got, who.allowed)
		}
		for _, path := range []string{"/console/problem-reports", "/console/problem-reports/" + id} {
			p := c.do("GET", path, nil, cookie)
			switch {
			case who.allowed && (p.status != http.StatusOK || !strings.Contains(p.body, "rp@example.org")):
				t.Errorf("%s: %s: %d, want the page", who.login, path, p.status)
			case !who.allowed && (p.status != http.StatusForbidden || !strings.Contains(p.body, `id="error-page"`) || strings.Contains(p.body, "rp@example.org")):
				t.Errorf("%s: %s: %d, want the 403 error page:\n%s", who.login, path, p.status, p.body)
			}
		}
		p := c.do("POST", "/console/problem-reports/"+id+"/notes", url.Values{"text": {"looked at it"}}, cookie)
		if who.allowed && p.status != http.StatusSeeOther {
			t.Errorf("%s: note: %d, want a redirect", who.login, p.status)
		}
		if !who.allowed && p.status != http.StatusForbidden {
			t.Errorf("%s: note: %d, want 403", who.login, p.status)
		}
	}
}

// Every action of the case page, as form posts: each redirects back to the
// case (PRG) with a flash, and the case shows what it did; a refused
// action shows the case again with the error and its status.
func TestConsoleDeskActions(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, deskSite)
	serial := issueWithKey(t, f, apptest.Key(t))
	id := fileReport(t, e, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
		"description": "the locality is wrong", "serials": []string{serial}})
	dup := fileReport(t, e, map[string]any{"reporterEmail": "rp2@example.org", "category": "misissuance",
		"description": "same certificate", "serials": []string{serial}})
	other := fileReport(t, e, map[string]any{"reporterEmail": "rp3@example.org", "category": "other", "description": "a question"})
	c := newConsoleClient(t, e, "127.0.0.1")
	cookie := c.mustSignIn("carol", f.Carol)
	post := func(caseID, action string, form url.Values) page {
		t.Helper()
		p := c.do("POST", "/console/problem-reports/"+caseID+"/"+action, form, cookie)
		if p.status == http.StatusSeeOther {
			if want := "/console/problem-reports/" + caseID + "?ok="; !strings.HasPrefix(p.location(), want) {
				t.Errorf("%s: redirect to %s, want %s…", action, p.location(), want)
			}
			return c.do("GET", p.location(), nil, cookie)
		}
		return p
	}
	for _, step := range []struct {
		caseID, action string
		form           url.Values
		want           []string
	}{
		{id, "assign", url.Values{"assignee": {"carol"}}, []string{`id="flash"`, `<td id="assignee">carol</td>`}},
		{id, "notes", url.Values{"text": {"checked the registry"}}, []string{"checked the registry"}},
		{id, "decide", url.Values{"decision": {"revoke"}, "trigger": {"4.9.1.1#13"}, "reason": {"locality wrong"}},
			[]string{`id="decision">revoke (4.9.1.1#13)`, `<span class="badge revoked">revoked</span>`, `class="sent subscriber"`}},
		{dup, "merge", url.Values{"into": {id}}, []string{`id="case-status">merged`, `href="/console/problem-reports/` + id + `"`}},
		{other, "close", url.Values{"reasons": {"answered by mail"}}, []string{`id="case-status">closed`, "answered by mail", `class="sent reporter"`}},
	} {
		p := post(step.caseID, step.action, step.form)
		if p.status != http.StatusOK {
			t.Errorf("%s: %d\n%s", step.action, p.status, p.body)
			continue
		}
		for _, w := range step.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s: the case page lacks %s", step.action, w)
			}
		}
	}
	p := c.do("POST", "/console/problem-reports/"+id+"/decide", url.Values{"decision": {"no_action"}, "reason": {"x"}}, cookie)
	if p.status != http.StatusConflict || !strings.Contains(p.body, `id="error"`) || !strings.Contains(p.body, `id="case-id">`+id) {
		t.Errorf("deciding twice: %d, want 409 on the case page:\n%s", p.status, p.body)
	}
	p = c.do("POST", "/console/problem-reports/"+id+"/notes", url.Values{"text": {" "}}, cookie)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="error"`) {
		t.Errorf("empty note: %d, want 400 with the error", p.status)
	}
	p = c.do("GET", "/console/problem-reports/cpr_nope", nil, cookie)
	if p.status != http.StatusNotFound || !strings.Contains(p.body, `id="error-page"`) {
		t.Errorf("unknown case: %d, want the 404 error page", p.status)
	}
	list := c.do("GET", "/console/problem-reports?status=all", nil, cookie)
	for _, cid := range []string{id, dup, other} {
		if !strings.Contains(list.body, `id="case-`+cid+`"`) {
			t.Errorf("status=all does not list %s", cid)
		}
	}
	open := c.do("GET", "/console/problem-reports", nil, cookie)
	if !strings.Contains(open.body, `id="case-`+id+`"`) || strings.Contains(open.body, `id="case-`+other+`"`) || strings.Contains(open.body, `id="case-`+dup+`"`) {
		t.Errorf("the open cases are not just %s", id)
	}
}
