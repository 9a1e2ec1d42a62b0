package web_test

import (
	"fmt"
	"net/url"
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
