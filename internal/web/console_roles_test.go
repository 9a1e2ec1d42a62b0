package web_test

import (
	"crypto/x509/pkix"
	"html"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/vetca/vetca/internal/apptest"
)

// consoleRole is one signed-in role and what the console owes it: its
// menu, its dashboard counts, and the pages it may not open.
type consoleRole struct {
	who, login, token string
	menu              []string       // menu labels, in order ("My account" is always last)
	stats             map[string]int // dashboard counts by element id
	noStats           []string       // counts it must not be shown
	forbidden         []string       // pages it gets the 403 error page for
}

// consoleRoles builds an installation with two organizations (one
// verified, one with a pending version), two accounts, one issued
// certificate (with one open problem report about it) and one order
// awaiting approval, and returns the roles to sign in as.
func consoleRoles(t *testing.T) (*apptest.OrderFixture, []consoleRole) {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, "shop.acme-widgets.com")
	serial, _ := f.Issue("shop.acme-widgets.com")
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{"shop.acme-widgets.com"},
		"csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, "shop.acme-widgets.com")})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	if r := e.Do("POST", "/api/v1/organizations", f.Alice, map[string]any{"organizationName": "Beta Things Ltd",
		"countryName": "US", "stateOrProvinceName": "New York", "localityName": "New York"}); r.Status != 201 {
		t.Fatalf("second organization: %d %s", r.Status, r.Raw)
	}
	if r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Beta Retail", "organizations": []string{f.OrgID}}); r.Status != 201 {
		t.Fatalf("second account: %d %s", r.Status, r.Raw)
	}
	if r := e.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
		"description": "the locality is wrong", "serials": []string{serial}}); r.Status != 202 {
		t.Fatalf("problem report: %d %s", r.Status, r.Raw)
	}
	staffStats := map[string]int{"stat-orgs": 2, "stat-pending": 1, "stat-accounts": 2, "stat-orders": 2,
		"stat-orders-pending": 1, "stat-certificates": 1, "stat-changes": 0}
	deskStats := maps.Clone(staffStats)
	deskStats["stat-cases"], deskStats["stat-cases-breached"] = 1, 0
	noDesk := []string{"stat-cases", "stat-cases-breached"}
	return f, []consoleRole{
		{who: "admin", login: "admin", token: e.AdminToken, stats: deskStats,
			menu: []string{"Organizations", "Accounts", "Orders", "Certificates", "Templates", "Change requests", "Problem reports", "Incidents", "Audit", "My account"}},
		{who: "verifier", login: "bob", token: f.Bob, stats: staffStats, noStats: noDesk,
			menu:      []string{"Organizations", "Accounts", "Orders", "Certificates", "Templates", "Change requests", "My account"},
			forbidden: []string{"/console/audit", "/console/problem-reports", "/console/incidents"}},
		{who: "compliance", login: "carol", token: f.Carol, stats: deskStats,
			menu:      []string{"Organizations", "Accounts", "Orders", "Certificates", "Templates", "Change requests", "Problem reports", "Incidents", "My account"},
			forbidden: []string{"/console/audit"}},
		{who: "auditor", login: "audrey", token: f.Auditor, stats: staffStats, noStats: noDesk,
			menu:      []string{"Organizations", "Accounts", "Orders", "Certificates", "Templates", "Change requests", "Incidents", "Audit", "My account"},
			forbidden: []string{"/console/problem-reports"}},
		{who: "subscriber", login: f.AccountID, token: f.AccTok,
			menu:      []string{"Account", "Orders", "Certificates", "Templates", "My account"},
			stats:     map[string]int{"stat-orgs": 1, "stat-orders": 2, "stat-orders-pending": 1, "stat-certificates": 1},
			noStats:   append([]string{"stat-pending", "stat-accounts", "stat-changes"}, noDesk...),
			forbidden: []string{"/console/organizations", "/console/change-requests", "/console/audit", "/console/problem-reports", "/console/incidents"}},
	}
}

var (
	menuRe     = regexp.MustCompile(`(?s)<nav id="menu">(.*?)</nav>`)
	menuLinkRe = regexp.MustCompile(`<a href="([^"]+)"[^>]*>([^<]+)</a>`)
	statRe     = regexp.MustCompile(`<b id="(stat-[a-z-]+)">(\d+)</b>`)
	cellRe     = regexp.MustCompile(`(?s)<td class="(org|account)">(.*?)</td>`)
	tagRe      = regexp.MustCompile(`<[^>]+>`)
)

// Without a browser: for every role, the menu offers exactly the pages the
// role may open and each of them answers 200; the dashboard counts are
// the role's; the list pages name organizations and accounts; a page the
// role may not open, or that does not exist, is the error page with its
// status, not the dashboard.
func TestConsoleMenuLinksOpen(t *testing.T) {
	f, roles := consoleRoles(t)
	for _, role := range roles {
		t.Run(role.who, func(t *testing.T) {
			c := newConsoleClient(t, f.Env, "127.0.0.1")
			cookie := c.mustSignIn(role.login, role.token)
			dash := c.do("GET", "/console", nil, cookie)
			if dash.status != http.StatusOK {
				t.Fatalf("dashboard: %d", dash.status)
			}
			stats := map[string]int{}
			for _, m := range statRe.FindAllStringSubmatch(dash.body, -1) {
				stats[m[1]], _ = strconv.Atoi(m[2])
			}
			for id, want := range role.stats {
				if got, ok := stats[id]; !ok || got != want {
					t.Errorf("dashboard %s = %d (shown %v), want %d", id, got, ok, want)
				}
			}
			for _, id := range role.noStats {
				if _, ok := stats[id]; ok {
					t.Errorf("dashboard shows %s to a %s", id, role.who)
				}
			}
			m := menuRe.FindStringSubmatch(dash.body)
			if m == nil {
				t.Fatalf("no menu on the dashboard:\n%s", dash.body)
			}
			var labels []string
			for _, l := range menuLinkRe.FindAllStringSubmatch(m[1], -1) {
				href, label := html.UnescapeString(l[1]), l[2]
				labels = append(labels, label)
				p := c.do("GET", href, nil, cookie)
				if p.status != http.StatusOK {
					t.Errorf("menu link %s (%s): %d", label, href, p.status)
				}
			}
			if !slices.Equal(labels, role.menu) {
				t.Errorf("menu %q, want %q", labels, role.menu)
			}
			for _, list := range []string{"/console/orders", "/console/certificates"} {
				p := c.do("GET", list, nil, cookie)
				cells := cellRe.FindAllStringSubmatch(p.body, -1)
				if len(cells) == 0 {
					t.Errorf("%s lists no organization or account:\n%s", list, p.body)
				}
				for _, cell := range cells {
					text := strings.TrimSpace(html.UnescapeString(tagRe.ReplaceAllString(cell[2], "")))
					want := "Acme Widgets Inc."
					if cell[1] == "account" {
						want = "Acme Widgets"
					}
					if !strings.HasPrefix(text, want) || strings.Contains(text, f.OrgID) || strings.Contains(text, f.AccountID) {
						t.Errorf("%s %s cell %q, want the name %q", list, cell[1], text, want)
					}
				}
			}
			for _, path := range role.forbidden {
				p := c.do("GET", path, nil, cookie)
				if p.status != http.StatusForbidden || !strings.Contains(p.body, `id="error-page"`) || strings.Contains(p.body, `id="stats"`) {
					t.Errorf("%s: %d, want the 403 error page:\n%s", path, p.status, p.body)
				}
			}
			for _, path := range []string{"/console/orders/ord_nope", "/console/no-such-page"} {
				p := c.do("GET", path, nil, cookie)
				if p.status != http.StatusNotFound || !strings.Contains(p.body, `id="error-page"`) || !strings.Contains(p.body, `href="/console" id="back"`) {
					t.Errorf("%s: %d, want the 404 error page:\n%s", path, p.status, p.body)
				}
			}
		})
	}
}

// In a browser, signed in as an admin, a verifier, a compliance user, an
// auditor and a subscriber in turn: the dashboard shows the role's counts; every menu
// link, clicked, opens a page (never 403); the orders and certificates
// lists show organization and account names, not ids; and a page the
// role may not open is an error page with status 403 whose link leads
// back to the dashboard.
func TestConsoleRolesInBrowser(t *testing.T) {
	ctx := browser(t)
	f, roles := consoleRoles(t)
	base := f.Server.URL
	for i, role := range roles {
		steps := []chromedp.Action[chromedp.Void]{signIn(base, role.login, role.token)}
		if i > 0 {
			steps = append([]chromedp.Action[chromedp.Void]{signOut()}, steps...)
		}
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: sign in: %v", role.who, err)
		}
		stats, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](
			`Object.fromEntries([...document.querySelectorAll('#stats b')].map(b => [b.id, b.textContent]))`))
		if err != nil {
			t.Fatalf("%s: dashboard: %v", role.who, err)
		}
		for id, want := range role.stats {
			if stats[id] != strconv.Itoa(want) {
				t.Errorf("%s: dashboard %s = %q, want %d", role.who, id, stats[id], want)
			}
		}
		for _, id := range role.noStats {
			if _, ok := stats[id]; ok {
				t.Errorf("%s: dashboard shows %s", role.who, id)
			}
		}
		links, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](
			`[...document.querySelectorAll('#menu a')].map(a => ({label: a.textContent, href: a.getAttribute('href')}))`))
		if err != nil {
			t.Fatalf("%s: menu: %v", role.who, err)
		}
		var labels []string
		for _, l := range links {
			labels = append(labels, l["label"])
			resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#menu a[href="`+l["href"]+`"]`)))
			if err != nil {
				t.Fatalf("%s: follow %s: %v", role.who, l["label"], err)
			}
			if resp.Status != http.StatusOK {
				t.Errorf("%s: menu link %s (%s) answered %d", role.who, l["label"], l["href"], resp.Status)
			}
			if resp.Status == http.StatusForbidden {
				t.Errorf("%s: the menu offers %s, which is refused", role.who, l["href"])
			}
		}
		if !slices.Equal(labels, role.menu) {
			t.Errorf("%s: menu %q, want %q", role.who, labels, role.menu)
		}
		for _, list := range []string{"orders", "certificates"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/"+list), chromedp.WaitVisible(chromedp.ID(list))); err != nil {
				t.Fatalf("%s: %s list: %v", role.who, list, err)
			}
			cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
				`[...document.querySelectorAll('#`+list+` td.org, #`+list+` td.account')].map(td => td.className + '=' + td.innerText)`))
			if err != nil {
				t.Fatalf("%s: %s list: %v", role.who, list, err)
			}
			if len(cells) == 0 {
				t.Errorf("%s: the %s list shows no organization or account", role.who, list)
			}
			for _, c := range cells {
				class, text, _ := strings.Cut(c, "=")
				want := map[string]string{"org": "Acme Widgets Inc. v1", "account": "Acme Widgets"}[class]
				if text != want {
					t.Errorf("%s: %s list %s cell %q, want %q", role.who, list, class, text, want)
				}
			}
		}
		for _, path := range role.forbidden {
			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+path))
			if err != nil {
				t.Fatalf("%s: %s: %v", role.who, path, err)
			}
			if resp.Status != http.StatusForbidden {
				t.Errorf("%s: %s answered %d, want 403", role.who, path, resp.Status)
			}
			title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-page h1")))
			if err != nil || !strings.Contains(title, "Not allowed") {
				t.Errorf("%s: %s error page title %q (%v)", role.who, path, title, err)
			}
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#stats').length`)); n != 0 {
				t.Errorf("%s: %s shows the dashboard", role.who, path)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("back")), chromedp.WaitVisible(chromedp.ID("stat-orgs"))); err != nil {
				t.Errorf("%s: back from %s: %v", role.who, path, err)
			}
		}
	}
}
