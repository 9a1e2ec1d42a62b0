package auth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/auth"
)

// No one admin completes the dual control on a privileged role
// (docs/design.md §5, BR §5.2.2), and an approval approves what was
// reviewed. Before, a second grant to a user with one pending made its
// admin "the one who asked" (so the first could approve their own grant),
// and was added to what awaited approval (so an admin who reviewed one
// role approved another). While anything awaits approval, another grant is
// now refused, 409 grant_pending.
func TestPendingGrantIsFixedUntilApproved(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			ada, adam := admins(e)
			valTok := e.User("val", actor.Auditor)
			val := e.Actor(valTok)
			if _, err := e.App.Auth.GrantRoles(ctx, ada, val.ID, []actor.Role{actor.Verifier}); err != nil {
				t.Fatal(err)
			}
			for _, g := range []struct {
				name string
				by   actor.Actor
				role actor.Role
			}{{"another admin's grant", adam, actor.Compliance}, {"the same admin's added grant", ada, actor.Admin}} {
				if _, err := e.App.Auth.GrantRoles(ctx, g.by, val.ID, []actor.Role{g.role}); !apperr.HasCode(err, apperr.CodeGrantPending) {
					t.Fatalf("%s while one awaits approval: %v, want grant_pending", g.name, err)
				}
			}
			if _, err := e.App.Auth.ApproveUser(ctx, ada, val.ID); !apperr.HasCode(err, apperr.CodeSelfApproval) {
				t.Fatalf("ada approving the grant she asked for: %v", err)
			}
			u, err := e.App.Auth.ApproveUser(ctx, adam, val.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, actor.NormalizeRoles([]actor.Role{actor.Auditor, actor.Verifier})) {
				t.Fatalf("approved roles %v, want auditor and verifier only", u.Roles)
			}
			// Once approved, the next grant may be asked for.
			if _, err := e.App.Auth.GrantRoles(ctx, adam, val.ID, []actor.Role{actor.Compliance}); err != nil {
				t.Fatalf("a grant after approval: %v", err)
			}
		})
	}
}

// The same through a user created through the API: until a second admin
// approves it, no grant changes what awaits approval or who asked.
func TestPendingUserIsFixedUntilApproved(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			ada, adam := admins(e)
			u, _, err := e.App.Auth.AddUser(ctx, ada, "vic", []actor.Role{actor.Verifier}, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Auth.GrantRoles(ctx, adam, u.ID, []actor.Role{actor.Auditor}); !apperr.HasCode(err, apperr.CodeGrantPending) {
				t.Fatalf("a grant to a user awaiting approval: %v, want grant_pending", err)
			}
			if _, err := e.App.Auth.ApproveUser(ctx, ada, u.ID); !apperr.HasCode(err, apperr.CodeSelfApproval) {
				t.Fatalf("ada approving the user she created: %v", err)
			}
			if got := getUser(t, e, u.ID); got.Status == "active" {
				t.Fatalf("vic active with only his creator's approval: %+v", got)
			}
		})
	}
}

// A grant asked for in error can be withdrawn, by the admin who asked or
// declined by another (POST /users/{id}/decline): declining grants
// nothing, so it needs no second person. Before, nothing but an approval
// ended a pending grant, and while it waited every other grant to that
// user was 409 grant_pending. A declined creation leaves a user that never
// acted and whose token authenticates nothing, not even after a grant.
func TestPendingGrantCanBeDeclined(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			ada, adam := admins(e)
			valTok := e.User("val", actor.Auditor)
			val := e.Actor(valTok)
			if _, err := e.App.Auth.DeclineUser(ctx, ada, val.ID); !apperr.HasCode(err, apperr.CodeNothingPending) {
				t.Fatalf("declining with nothing pending: %v", err)
			}
			if _, err := e.App.Auth.GrantRoles(ctx, ada, val.ID, []actor.Role{actor.Admin}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Auth.DeclineUser(ctx, val, val.ID); !apperr.HasCode(err, apperr.CodeForbidden) {
				t.Fatalf("an auditor declining: %v", err)
			}
			r := e.Do("POST", "/api/v1/users/"+val.ID+"/decline", e.AdminToken, nil) // ada withdraws her own
			if r.Status != 200 || r.Body["status"] != "active" || len(r.Body["pendingRoles"].([]any)) != 0 {
				t.Fatalf("withdrawing the grant: %d %s", r.Status, r.Raw)
			}
			if _, err := e.App.Auth.ApproveUser(ctx, adam, val.ID); !apperr.HasCode(err, apperr.CodeNothingPending) {
				t.Fatalf("approving a withdrawn grant: %v", err)
			}
			if u := getUser(t, e, val.ID); !slices.Equal(u.Roles, []actor.Role{actor.Auditor}) {
				t.Fatalf("roles after the withdrawal: %v", u.Roles)
			}
			if _, err := e.App.Auth.GrantRoles(ctx, adam, val.ID, []actor.Role{actor.Verifier}); err != nil {
				t.Fatalf("another grant once the first was withdrawn: %v", err)
			}

			vic, vicTok, err := e.App.Auth.AddUser(ctx, ada, "vic", []actor.Role{actor.Verifier}, "")
			if err != nil {
				t.Fatal(err)
			}
			if u, err := e.App.Auth.DeclineUser(ctx, adam, vic.ID); err != nil || u.Status != auth.UserDeclined {
				t.Fatalf("declining vic: %+v %v", u, err)
			}
			if _, err := e.App.Auth.ApproveUser(ctx, adam, vic.ID); !apperr.HasCode(err, apperr.CodeNothingPending) {
				t.Fatalf("approving a declined user: %v", err)
			}
			if _, err := e.App.Auth.GrantRoles(ctx, adam, vic.ID, []actor.Role{actor.Auditor}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Auth.ApproveUser(ctx, ada, vic.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Auth.Authenticate(ctx, vicTok); !apperr.HasCode(err, apperr.CodeUnauthenticated) {
				t.Fatalf("the declined user's first token: %v", err)
			}
		})
	}
}
