// Package actor names who is doing something: a staff user with roles, a
// subscriber acting for one account, the public, or vetca itself. Domain
// services receive an Actor and check roles themselves, so authorization
// sits beside the rules it protects rather than only in HTTP routing.
package actor

import (
	"slices"
	"sort"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
)

// Role is a staff role; docs/api.md says which roles may call each endpoint.
type Role string

// Staff roles.
const (
	Admin      Role = "admin"
	Verifier   Role = "verifier"
	Compliance Role = "compliance"
	Auditor    Role = "auditor"
)

// AllRoles lists the staff roles.
var AllRoles = []Role{Admin, Verifier, Compliance, Auditor}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range AllRoles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", apperr.Invalid(apperr.CodeInvalidRole, "role", "role %q is not one of admin, verifier, compliance, auditor", s)
}

// Kind is the kind of actor.
type Kind string

// Actor kinds.
const (
	Staff      Kind = "user"
	Subscriber Kind = "account"
	System     Kind = "system"
	Public     Kind = "public"
	CLI        Kind = "cli"
)

// Actor is an authenticated (or deliberately anonymous) party.
type Actor struct {
	Kind      Kind
	ID        string // user id, account id, or a system job name
	Name      string // user name; account name
	Roles     []Role // staff only
	AccountID string // subscriber only
	TokenID   string // the API token (or console session's token) that authenticated it
	// ACMEAccountID is set when a subscriber acts through one of its ACME
	// accounts (package acme): the request was signed by that account's
	// key, bound to AccountID by an EAB key.
	ACMEAccountID string
}

// ACMEActor returns the actor of a request signed by an ACME account's
// key: a subscriber of the vetca account the account is bound to.
func ACMEActor(accountID, acmeAccountID string) Actor {
	return Actor{Kind: Subscriber, ID: accountID, Name: "acme:" + acmeAccountID, AccountID: accountID, ACMEAccountID: acmeAccountID}
}

// String is the actor as recorded in audit events, e.g. "user:alice",
// "account:acc_x", "account:acc_x/acme:acme_y" (through an ACME account),
// "system:outbox", "cli:root", "public".
func (a Actor) String() string {
	switch a.Kind {
	case Staff:
		return "user:" + a.Name
	case Subscriber:
		if a.ACMEAccountID != "" {
			return "account:" + a.AccountID + "/acme:" + a.ACMEAccountID
		}
		return "account:" + a.AccountID
	case Public:
		return "public"
	}
	return string(a.Kind) + ":" + a.Name
}

// Has reports whether a staff actor holds role r.
func (a Actor) Has(r Role) bool { return a.Kind == Staff && slices.Contains(a.Roles, r) }

// UserID is a staff actor's user id, or "" for anyone else. Multi-person
// controls compare user ids, never display strings.
func (a Actor) UserID() string {
	if a.Kind == Staff {
		return a.ID
	}
	return ""
}

// IsStaff reports whether a is a staff user.
func (a Actor) IsStaff() bool { return a.Kind == Staff }

// Require returns a 403 unless a is staff holding at least one of roles.
func (a Actor) Require(roles ...Role) error {
	for _, r := range roles {
		if a.Has(r) {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "this action needs the %s role", strings.Join(names, " or "))
}

// CanActForAccount reports whether a may act for account id: the account's
// own subscriber, or staff holding one of roles.
func (a Actor) CanActForAccount(accountID string, roles ...Role) error {
	if a.Kind == Subscriber && a.AccountID == accountID {
		return nil
	}
	if a.Kind == Subscriber {
		return apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "this token acts for another account")
	}
	return a.Require(roles...)
}

// SystemActor returns the actor for one of vetca's own jobs.
func SystemActor(job string) Actor { return Actor{Kind: System, ID: job, Name: job} }

// CLIActor returns the actor for an operator running a local command.
func CLIActor(osUser string) Actor { return Actor{Kind: CLI, ID: osUser, Name: osUser} }

// NormalizeRoles sorts and de-duplicates roles.
func NormalizeRoles(rs []Role) []Role {
	out := slices.Clone(rs)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return slices.Compact(out)
}
