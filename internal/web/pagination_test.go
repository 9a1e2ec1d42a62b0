package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// Every list is paged: at most ?limit= items (default 100, at most 500),
// and a "next" cursor while there is more. Walking the cursors visits every
// item once, even when items are added meanwhile.
func TestEveryListIsPaged(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		for i := 0; i < 4; i++ {
			if r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": fmt.Sprintf("Account %d", i)}); r.Status != 201 {
				t.Fatalf("account: %d %s", r.Status, r.Raw)
			}
			if r := e.Do("POST", "/api/v1/organizations", f.alice, map[string]any{"organizationName": fmt.Sprintf("Org %d Ltd", i), "countryName": "US",
				"stateOrProvinceName": "California", "localityName": "San Francisco"}); r.Status != 201 {
				t.Fatalf("org: %d %s", r.Status, r.Raw)
			}
			e.User(fmt.Sprintf("user%d", i), actor.Auditor)
		}
		admin := e.AdminToken
		for _, l := range []struct {
			path, key, token string
			want             int
		}{
			{"/api/v1/accounts", "accounts", admin, 5},
			{"/api/v1/organizations", "organizations", f.alice, 5},
			{"/api/v1/users", "users", admin, 10},
			{"/api/v1/audit/events", "events", f.auditor, -1},
		} {
			seen := map[string]bool{}
			after, pages := "", 0
			for {
				path := l.path + "?limit=2"
				if after != "" {
					path += "&after=" + url.QueryEscape(after)
				}
				r := e.Do("GET", path, l.token, nil)
				if r.Status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
				}
				items := r.Body[l.key].([]any)
				if len(items) > 2 {
					t.Fatalf("GET %s: %d items on a page of 2", path, len(items))
				}
				for _, it := range items {
					m := it.(map[string]any)
					id := fmt.Sprint(m["id"], m["seq"])
					if seen[id] {
						t.Fatalf("%s: item %s on two pages", l.path, id)
					}
					seen[id] = true
				}
				pages++
				next, _ := r.Body["next"].(string)
				if next == "" {
					break
				}
				after = next
				if pages == 1 && l.key == "accounts" {
					// An account added while paging neither repeats nor
					// shifts an item.
					e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Zulu Late"})
					l.want++
				}
			}
			if l.want > 0 && len(seen) != l.want {
				t.Fatalf("%s: %d items over %d pages, want %d", l.path, len(seen), pages, l.want)
			}
			if pages < 2 {
				t.Fatalf("%s: only %d page(s) of 2", l.path, pages)
			}
		}
		// Bad paging parameters name the field.
		for _, c := range []struct{ query, field string }{
			{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=x", "limit"}, {"after=%21%21", "after"}, {"after=WyJ4Il0", "after"},
		} {
			r := e.Do("GET", "/api/v1/accounts?"+c.query, admin, nil)
			if field, _ := r.ErrField(); r.Status != 400 || field != c.field {
				t.Fatalf("?%s: %d %s", c.query, r.Status, r.Raw)
			}
		}
		// The default page holds at most 100.
		if r := e.Do("GET", "/api/v1/accounts", admin, nil); r.Status != 200 || r.Body["next"] != nil {
			t.Fatalf("default page: %d %s", r.Status, r.Raw)
		}
	})
}

// The console's "Next page" link, followed as a browser follows it (the
// href resolved against the page's URL), shows the next page: the items
// after the cursor, with the list's filters kept. html/template escapes a
// value interpolated after a literal "?" as one query component, so a
// query string put there arrives as one parameter named "limit=1&after=…"
// and the link shows the first page again, or a 400 where the list
// checks its parameters.
func TestConsoleNextPageLinks(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		if r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Zenith"}); r.Status != 201 {
			t.Fatalf("account: %d %s", r.Status, r.Raw)
		}
		c := newConsoleClient(t, e, "127.0.0.1")
		admin := c.mustSignIn("admin", e.AdminToken)
		first := c.do("GET", "/console/accounts?limit=1", nil, admin)
		if first.status != http.StatusOK || !strings.Contains(first.body, ">Acme</a>") {
			t.Fatalf("first page: %d\n%.600s", first.status, first.body)
		}
		m := regexp.MustCompile(`id="next-page" href="([^"]*)"`).FindStringSubmatch(first.body)
		if m == nil {
			t.Fatalf("no next-page link on a full page of 1:\n%s", first.body)
		}
		base, _ := url.Parse(c.base + "/console/accounts?limit=1")
		ref, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		next := base.ResolveReference(ref)
		if q := next.Query(); q.Get("limit") != "1" || q.Get("after") == "" {
			t.Errorf("next-page link %q carries query %v, want limit=1 and after=…", m[1], q)
		}
		p := c.do("GET", next.RequestURI(), nil, admin)
		if p.status != http.StatusOK || !strings.Contains(p.body, ">Zenith</a>") || strings.Contains(p.body, ">Acme</a>") {
			t.Fatalf("GET %s (the next-page link): %d, want the second account alone\n%.800s", next.RequestURI(), p.status, p.body)
		}
		_ = f
	})
}
