package web_test

import (
	"net/http"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// A console list asked for a status that does not exist answers the 400
// error page naming it, as the API does, never an empty list that looks
// like "nothing in that state".
func TestConsoleListsRefuseAnUnknownStatus(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		c := newConsoleClient(t, e, "127.0.0.1")
		admin := c.mustSignIn("root", e.User("root", actor.Admin))
		for _, path := range []string{"/console/orders", "/console/templates", "/console/problem-reports"} {
			if p := c.do("GET", path+"?status=bogus", nil, admin); p.status != http.StatusBadRequest {
				t.Errorf("%s?status=bogus: %d, want 400", path, p.status)
			}
		}
		for _, path := range []string{"/console/orders?status=approved", "/console/templates?status=approved", "/console/problem-reports?status=all", "/console/problem-reports?status=closed"} {
			if p := c.do("GET", path, nil, admin); p.status != http.StatusOK {
				t.Errorf("%s: %d, want 200", path, p.status)
			}
		}
	})
}
