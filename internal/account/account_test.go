package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/vetting"
)

// Service-level tests of the account service, called directly on the
// in-process vetca (real database, audit trail and auth service).

var backends = []string{apptest.SQLite, apptest.Postgres}

func count(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.App.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newOrg(t *testing.T, e *apptest.Env, by actor.Actor, name string) string {
	t.Helper()
	org, _, err := e.App.Vetting.Create(context.Background(), by, vetting.CreateInput{Fields: vetting.Fields{
		OrganizationName: name, CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco",
		StreetAddress: "1 Market Street", PostalCode: "94105"}})
	if err != nil {
		t.Fatalf("create organization %s: %v", name, err)
	}
	return org.ID
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// docs/api.md, POST /accounts/{id}/token: rotating revokes the account's
// subscriber tokens and returns a new one. The old token authenticates
// nobody from then on; the new one authenticates the account's subscriber.
func TestRotateTokenRevokesTheOldToken(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			vera := e.Staff("vera", actor.Verifier)
			acc, oldTok, err := e.App.Accounts.Create(ctx, vera, account.CreateInput{Name: "Acme Widgets"})
			if err != nil {
				t.Fatal(err)
			}
			if a := e.Actor(oldTok); a.Kind != actor.Subscriber || a.AccountID != acc.ID {
				t.Fatalf("the account's first token authenticates %+v", a)
			}
			newTok, err := e.App.Accounts.RotateToken(ctx, vera, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if newTok == "" || newTok == oldTok {
				t.Fatalf("rotation returned %q", newTok)
			}
			_, err = e.App.Auth.Authenticate(ctx, oldTok)
			wantCode(t, err, apperr.CodeUnauthenticated)
			if a := e.Actor(newTok); a.Kind != actor.Subscriber || a.AccountID != acc.ID {
				t.Fatalf("the rotated token authenticates %+v", a)
			}
			// Rotating again revokes the second token too.
			third, err := e.App.Accounts.RotateToken(ctx, vera, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.App.Auth.Authenticate(ctx, newTok)
			wantCode(t, err, apperr.CodeUnauthenticated)
			e.Actor(third)
			if n := count(t, e, `SELECT COUNT(*) FROM api_tokens WHERE account_id = ? AND revoked_at IS NULL`, acc.ID); n != 1 {
				t.Fatalf("%d live subscriber tokens after two rotations, want 1", n)
			}
		})
	}
}

// docs/api.md, POST /accounts/{id}/token: 404 for an account that does not
// exist; no token is minted for it and nothing is written (docs/design.md
// §10: bad input leaves nothing behind).
func TestRotateTokenOfMissingAccountIsRefused(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			vera := e.Staff("vera", actor.Verifier)
			tokens := count(t, e, `SELECT COUNT(*) FROM api_tokens`)
			events := count(t, e, `SELECT COUNT(*) FROM audit_events`)
			tok, err := e.App.Accounts.RotateToken(ctx, vera, "acc_does_not_exist")
			if !apperr.IsKind(err, apperr.KindNotFound) {
				t.Fatalf("rotating the token of a missing account: %q, %v; want not found", tok, err)
			}
			wantCode(t, err, apperr.CodeNotFound)
			if tok != "" {
				t.Fatalf("a token was returned for a missing account: %q", tok)
			}
			if n := count(t, e, `SELECT COUNT(*) FROM api_tokens`); n != tokens {
				t.Fatalf("api_tokens: %d rows, %d before", n, tokens)
			}
			if n := count(t, e, `SELECT COUNT(*) FROM api_tokens WHERE account_id = ?`, "acc_does_not_exist"); n != 0 {
				t.Fatalf("%d tokens for the missing account", n)
			}
			if n := count(t, e, `SELECT COUNT(*) FROM audit_events`); n != events {
				t.Fatalf("audit_events: %d, %d before", n, events)
			}
		})
	}
}

// docs/design.md §5: whoever created the account, linked the organization
// to it, or issued any of its subscriber tokens acted for it, by user id,
// and each act says who did it. Someone who did none of these is not named.
func TestStaffActingForNamesCreatorLinkerAndTokenIssuer(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			creator := e.Staff("cora", actor.Verifier)
			linker := e.Staff("lina", actor.Verifier)
			rotator := e.Staff("tom", actor.Admin)
			bystander := e.Staff("bea", actor.Verifier)
			org := newOrg(t, e, bystander, "Acme Widgets Inc.")
			acc, _, err := e.App.Accounts.Create(ctx, creator, account.CreateInput{Name: "Acme Widgets"})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.App.Accounts.LinkOrganization(ctx, linker, acc.ID, org); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Accounts.RotateToken(ctx, rotator, acc.ID); err != nil {
				t.Fatal(err)
			}
			got, err := e.App.Accounts.StaffActingFor(ctx, e.App.DB, acc.ID, org)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				creator.ID: {"created account " + acc.ID, "issued subscriber token"},
				linker.ID:  {"linked organization " + org + " to account " + acc.ID},
				rotator.ID: {"issued subscriber token"},
			}
			if len(got) != len(want) {
				t.Fatalf("StaffActingFor = %v, want exactly the creator, linker and token issuer", got)
			}
			for id, parts := range want {
				for _, p := range parts {
					if !strings.Contains(got[id], p) {
						t.Errorf("StaffActingFor[%s] = %q, want it to say %q", id, got[id], p)
					}
				}
			}
			if what, ok := got[bystander.ID]; ok {
				t.Errorf("the bystander who only created the organization is named: %q", what)
			}
			// Users are compared by id, never by display name.
			for id := range got {
				if !strings.HasPrefix(id, "usr_") {
					t.Errorf("StaffActingFor keyed by %q, not a user id", id)
				}
			}
		})
	}
}

// A subscriber's token acts for its own account only (docs/api.md, GET
// /accounts/{id} and the contacts endpoints): another account is refused
// and nothing is written to it.
func TestSubscriberCannotActForAnotherAccount(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			vera := e.Staff("vera", actor.Verifier)
			mine, tok, err := e.App.Accounts.Create(ctx, vera, account.CreateInput{Name: "Acme Widgets"})
			if err != nil {
				t.Fatal(err)
			}
			other, _, err := e.App.Accounts.Create(ctx, vera, account.CreateInput{Name: "Other Corp"})
			if err != nil {
				t.Fatal(err)
			}
			sub := e.Actor(tok)
			if _, err := e.App.Accounts.Get(ctx, sub, mine.ID); err != nil {
				t.Fatalf("the subscriber cannot read its own account: %v", err)
			}
			_, err = e.App.Accounts.Get(ctx, sub, other.ID)
			wantCode(t, err, apperr.CodeForbidden)
			name, email := "Mallory", "mallory@evil.example"
			_, err = e.App.Accounts.AddContact(ctx, sub, other.ID, account.ContactInput{Name: &name, Email: &email})
			wantCode(t, err, apperr.CodeForbidden)
			if n := count(t, e, `SELECT COUNT(*) FROM contacts WHERE account_id = ?`, other.ID); n != 0 {
				t.Fatalf("%d contacts written to another account", n)
			}
			_, err = e.App.Accounts.RotateToken(ctx, sub, other.ID)
			wantCode(t, err, apperr.CodeForbidden)
			if err := e.App.Accounts.LinkOrganization(ctx, sub, mine.ID, "org_x"); !apperr.HasCode(err, apperr.CodeForbidden) {
				t.Fatalf("a subscriber linked an organization to its own account: %v", err)
			}
		})
	}
}
