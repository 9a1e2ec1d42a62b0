package web_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/change"
)

// A console session ends when its user is disabled (docs/api.md, "Console
// sign-in"): enabling the user again, by a second change request, does
// not bring it back, so a cookie copied before the user was disabled
// signs nobody in afterwards. The user signs in again.
func TestConsoleSessionStaysEndedWhenUserIsEnabledAgain(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		alice := e.User("alice", actor.Verifier)
		id := e.Actor(alice).ID
		c := newConsoleClient(t, e, "127.0.0.1")
		ck := c.mustSignIn("alice", alice)
		e.DisableUser(id)
		req, err := e.App.Changes.Create(ctx, e.Staff("rita", actor.Admin), change.Input{Kind: change.KindAmend, Table: "users", RowID: id,
			Field: "disabled", Value: json.RawMessage(`false`), Reason: "back from leave"})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"cleo", "cyrus"} {
			if _, err := e.App.Changes.Approve(ctx, e.Staff(name, actor.Compliance), req.ID); err != nil {
				t.Fatal(err)
			}
		}
		if c.signedIn(ck) {
			t.Fatal("the session alice had before she was disabled signs her in again once she is enabled")
		}
		c.mustSignIn("alice", alice)
	})
}
