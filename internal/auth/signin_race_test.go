package auth_test

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/auth"
)

// A user disabled between a sign-in's token check and the write of its
// session gets no session: the change request that disabled the user ended
// the sessions there were, and this one, written after, would otherwise
// live on and sign the user in again once enabled.
func TestSignInRacingADisableGetsNoSession(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		id := e.Actor(alice).ID
		e.App.Auth.SetBeforeSessionWrite(func() { e.DisableUser(id) })
		_, _, err := e.App.Auth.StartSession(context.Background(), auth.SignIn{Name: "alice", Token: alice, Remote: "127.0.0.1"})
		if !apperr.HasCode(err, apperr.CodeUnauthenticated) {
			t.Fatalf("sign-in of a user disabled meanwhile: %v, want unauthenticated", err)
		}
		var n int
		if err := e.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM console_sessions WHERE user_id = ?`, id).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d sessions written for the disabled user (%v)", n, err)
		}
	})
}
