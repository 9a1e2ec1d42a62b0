package auth_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/store"
)

// Service-level tests of the auth service, called directly on the
// in-process vetca (real database and audit trail).

var backends = []string{apptest.SQLite, apptest.Postgres}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func getUser(t *testing.T, e *apptest.Env, id string) auth.User {
	t.Helper()
	u, err := e.App.Auth.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// admins returns the admin that init created and a second admin added on
// the server (the ceremony path, active at once).
func admins(e *apptest.Env) (first, second actor.Actor) {
	return e.Actor(e.AdminToken), e.Staff("adam", actor.Admin)
}

// docs/design.md §5 (BR §5.2.2): a role granted through the API stays
// inactive until a second admin approves it; the granting admin and the
// user itself cannot approve it. The roles already held keep working.
func TestGrantedRoleWaitsForASecondAdmin(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			ada, adam := admins(e)
			valTok := e.User("val", actor.Verifier)
			val := e.Actor(valTok)

			u, err := e.App.Auth.GrantRoles(ctx, ada, val.ID, []actor.Role{actor.Compliance})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, []actor.Role{actor.Verifier}) || !slices.Equal(u.PendingRoles, []actor.Role{actor.Compliance}) || u.PendingBy != ada.ID {
				t.Fatalf("after the grant: roles %v, pending %v by %q", u.Roles, u.PendingRoles, u.PendingBy)
			}
			if a := e.Actor(valTok); a.Has(actor.Compliance) || !a.Has(actor.Verifier) {
				t.Fatalf("before approval the token has roles %v", a.Roles)
			}

			_, err = e.App.Auth.ApproveUser(ctx, ada, val.ID)
			wantCode(t, err, apperr.CodeSelfApproval)
			if u := getUser(t, e, val.ID); slices.Contains(u.Roles, actor.Compliance) || len(u.PendingRoles) != 1 {
				t.Fatalf("the granting admin's refused approval changed the user: %+v", u)
			}
			if a := e.Actor(valTok); a.Has(actor.Compliance) {
				t.Fatal("the role works after only the granting admin approved it")
			}

			u, err = e.App.Auth.ApproveUser(ctx, adam, val.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, []actor.Role{actor.Compliance, actor.Verifier}) || len(u.PendingRoles) != 0 || u.PendingBy != "" || u.Status != auth.UserActive {
				t.Fatalf("after the second admin's approval: %+v", u)
			}
			if a := e.Actor(valTok); !a.Has(actor.Compliance) || !a.Has(actor.Verifier) {
				t.Fatalf("after approval the token has roles %v", a.Roles)
			}
			_, err = e.App.Auth.ApproveUser(ctx, adam, val.ID)
			wantCode(t, err, apperr.CodeNothingPending)

			// The user itself cannot approve a grant to itself, even as an admin.
			if _, err := e.App.Auth.GrantRoles(ctx, ada, adam.ID, []actor.Role{actor.Verifier}); err != nil {
				t.Fatal(err)
			}
			_, err = e.App.Auth.ApproveUser(ctx, adam, adam.ID)
			wantCode(t, err, apperr.CodeSelfApproval)
			if u := getUser(t, e, adam.ID); slices.Contains(u.Roles, actor.Verifier) {
				t.Fatalf("an admin approved a role for itself: %v", u.Roles)
			}
		})
	}
}

// docs/design.md §5: a staff user created through the API is pending; its
// token authenticates nobody until a different admin approves it.
func TestAPICreatedUserWaitsForASecondAdmin(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			ada, adam := admins(e)
			u, tok, err := e.App.Auth.AddUser(ctx, ada, "nina", []actor.Role{actor.Verifier}, "nina@staff.vetca-test.com")
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != auth.UserPendingApproval || len(u.Roles) != 0 || !slices.Equal(u.PendingRoles, []actor.Role{actor.Verifier}) {
				t.Fatalf("an API-created user: %+v", u)
			}
			_, err = e.App.Auth.Authenticate(ctx, tok)
			wantCode(t, err, apperr.CodeUnauthenticated)
			_, err = e.App.Auth.ApproveUser(ctx, ada, u.ID)
			wantCode(t, err, apperr.CodeSelfApproval)
			_, err = e.App.Auth.Authenticate(ctx, tok)
			wantCode(t, err, apperr.CodeUnauthenticated)
			if _, err := e.App.Auth.ApproveUser(ctx, adam, u.ID); err != nil {
				t.Fatal(err)
			}
			if a := e.Actor(tok); a.ID != u.ID || !a.Has(actor.Verifier) {
				t.Fatalf("the approved user's token authenticates %+v", a)
			}
		})
	}
}

// docs/api.md, POST /me/token: a staff user's rotation revokes its tokens
// and returns a new one.
func TestRotateOwnTokenRevokesTheOldToken(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			oldTok := e.User("vera", actor.Verifier)
			vera := e.Actor(oldTok)
			newTok, err := e.App.Auth.RotateOwnToken(ctx, vera)
			if err != nil {
				t.Fatal(err)
			}
			if newTok == "" || newTok == oldTok {
				t.Fatalf("rotation returned %q", newTok)
			}
			_, err = e.App.Auth.Authenticate(ctx, oldTok)
			wantCode(t, err, apperr.CodeUnauthenticated)
			if a := e.Actor(newTok); a.ID != vera.ID || !a.Has(actor.Verifier) {
				t.Fatalf("the new token authenticates %+v", a)
			}
			// A subscriber's token is rotated by staff, not here.
			_, err = e.App.Auth.RotateOwnToken(ctx, actor.Actor{Kind: actor.Subscriber, ID: "acc_x", AccountID: "acc_x"})
			wantCode(t, err, apperr.CodeForbidden)
		})
	}
}

// disable disables a user and checks that it took.
func disable(t *testing.T, e *apptest.Env, userID string) {
	t.Helper()
	e.DisableUser(userID)
	if !getUser(t, e, userID).Disabled {
		t.Fatal("the approved change request did not disable the user")
	}
}

// docs/api.md (401, unauthenticated): the token of a disabled user
// authenticates nobody.
func TestDisabledUsersTokenIsRefused(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			tok := e.User("vera", actor.Verifier)
			vera := e.Actor(tok)
			disable(t, e, vera.ID)
			_, err := e.App.Auth.Authenticate(context.Background(), tok)
			if !apperr.IsKind(err, apperr.KindUnauthenticated) || !strings.Contains(err.Error(), "disabled") {
				t.Fatalf("a disabled user's token: %v", err)
			}
			wantCode(t, err, apperr.CodeUnauthenticated)
			// The user list says so too: an auditor reading it must not
			// take vera for active.
			users, _, err := e.App.Auth.ListUsers(context.Background(), e.Actor(e.AdminToken), store.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if u.ID == vera.ID && u.Status != "disabled" {
					t.Fatalf("a disabled user is listed as %q", u.Status)
				}
			}
		})
	}
}

// docs/design.md §7 ("Reads for decisions fail closed"): a user row
// written by SQL, without an audit event signed with the audit key,
// authenticates nobody. Authenticate answers 401 integrity_violation naming
// the row; it never authenticates the forged user.
func TestForgedUserRowFailsClosed(t *testing.T) {
	forgeries := []struct {
		name  string
		forge func(t *testing.T, e *apptest.Env) (token, userID string)
	}{
		{"roles escalated", func(t *testing.T, e *apptest.Env) (string, string) {
			tok := e.User("vera", actor.Verifier)
			id := e.Actor(tok).ID
			exec(t, e, `UPDATE users SET roles = ? WHERE id = ?`, `["admin","auditor","compliance","verifier"]`, id)
			return tok, id
		}},
		{"pending user activated", func(t *testing.T, e *apptest.Env) (string, string) {
			u, tok, err := e.App.Auth.AddUser(context.Background(), e.Actor(e.AdminToken), "nina", []actor.Role{actor.Verifier}, "")
			if err != nil {
				t.Fatal(err)
			}
			exec(t, e, `UPDATE users SET status = ?, roles = pending_roles, pending_roles = ?, pending_by = '' WHERE id = ?`, auth.UserActive, `[]`, u.ID)
			return tok, u.ID
		}},
		{"disabled user enabled", func(t *testing.T, e *apptest.Env) (string, string) {
			tok := e.User("vera", actor.Verifier)
			id := e.Actor(tok).ID
			disable(t, e, id)
			exec(t, e, `UPDATE users SET disabled = 0 WHERE id = ?`, id)
			return tok, id
		}},
	}
	for _, tc := range forgeries {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range backends {
				t.Run(b, func(t *testing.T) {
					e := apptest.New(t, b)
					tok, id := tc.forge(t, e)
					a, err := e.App.Auth.Authenticate(context.Background(), tok)
					if err == nil {
						t.Fatalf("a forged user row authenticated %+v", a)
					}
					if !apperr.IsKind(err, apperr.KindUnauthenticated) || !apperr.HasCode(err, apperr.CodeIntegrityViolation) {
						t.Fatalf("a forged user row: %v; want 401 %s", err, apperr.CodeIntegrityViolation)
					}
					if !strings.Contains(err.Error(), "users row "+id) {
						t.Fatalf("the error does not name the row: %v", err)
					}
					// Everyone else still authenticates.
					e.Actor(e.AdminToken)
				})
			}
		})
	}
}

func exec(t *testing.T, e *apptest.Env, query string, args ...any) {
	t.Helper()
	if _, err := e.App.DB.Exec(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// A staff user's email is a plain address, as a contact's must be: mail
// goes there, and "Name <x@y>" or a comment is not what an operator meant.
func TestAddUserRefusesAnEmailThatIsNotAPlainAddress(t *testing.T) {
	e := apptest.New(t, apptest.SQLite)
	ada, _ := admins(e)
	for _, email := range []string{"not an email <x@y>", "Nina <nina@staff.vetca-test.com>", "nina@staff.vetca-test.com (Nina)", "nina"} {
		_, _, err := e.App.Auth.AddUser(context.Background(), ada, "nina", []actor.Role{actor.Verifier}, email)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeInvalidEmail || e.Field != "email" {
			t.Errorf("email %q: %v, want invalid_email naming email", email, err)
		}
	}
}

// Two admins adding the same name at the same moment: one gets the user,
// the other 409 name_taken, never a 500. On PostgreSQL both transactions
// counted no such user before either inserted, and the loser's insert hit
// the unique index, an internal error.
func TestConcurrentAddUserOfOneNameIsNameTaken(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ada, adam := admins(e)
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			by := ada
			if i%2 == 1 {
				by = adam
			}
			go func() {
				_, _, err := e.App.Auth.AddUser(context.Background(), by, "nina", []actor.Role{actor.Verifier}, "nina@staff.vetca-test.com")
				errs <- err
			}()
		}
		ok := 0
		for range n {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case !apperr.HasCode(err, apperr.CodeNameTaken):
				t.Errorf("concurrent add of one name: %v, want name_taken", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d adds of one name succeeded, want 1", ok)
		}
	})
}
