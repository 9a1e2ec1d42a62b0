package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// A user who types the token into the name field (and the name into the
// token field) fails to sign in; the failure summary must not keep the
// token. Lowercased, it is still the token up to the case of its letters,
// which an auditor recovers against the token hash in the trail.
func TestConsoleSignInFailureDoesNotRecordATokenGivenAsName(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Admin)
		c := newConsoleClient(t, e, "127.0.0.1")
		if p := c.signIn(alice, "alice"); p.status != http.StatusUnauthorized {
			t.Fatalf("fields swapped: %d", p.status)
		}
		if p := c.signIn(" "+strings.ToUpper(alice)+" ", "alice"); p.status != http.StatusUnauthorized {
			t.Fatalf("fields swapped: %d", p.status)
		}
		if err := e.App.Auth.FlushSignInFailures(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, e, `SELECT COUNT(*) FROM audit_events WHERE action = 'console.sign_in_failures'`); n == 0 {
			t.Fatal("no failure summary was recorded")
		}
		secret := strings.ToLower(strings.TrimPrefix(alice, "vetca_"))
		if n := countRows(t, e, `SELECT COUNT(*) FROM audit_events WHERE LOWER(content) LIKE '%' || ? || '%' OR LOWER(entity_id) LIKE '%' || ? || '%'`, secret, secret); n != 0 {
			t.Fatalf("%d audit events hold the token given as a name", n)
		}
	})
}
