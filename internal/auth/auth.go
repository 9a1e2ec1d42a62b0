// Package auth manages staff users, API tokens and console sessions.
// Tokens are random, shown once, and stored only as SHA-256 hashes. A token
// row is an audited row like any other: a token inserted with SQL outside
// vetca has no audit event vouching for it and authenticates nobody.
//
// The console signs in by exchanging a user's token for a session
// (StartSession): a random id for the browser's cookie, stored only as its
// SHA-256 in the audited console_sessions table, read integrity-checked on
// every request (Session) and refused once idle, past its absolute expiry,
// ended (EndSession) or when its token or user no longer authenticates.
// Failed sign-ins are limited per client and per named user and recorded
// as summaries (docs/architecture.md, "Console sign-in and sessions").
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/store"
)

// Token kinds.
const (
	KindStaff      = "staff"
	KindSubscriber = "subscriber"
)

// UserStatus is whether a staff user may act.
type UserStatus string

// User statuses.
const (
	UserActive          UserStatus = "active"
	UserPendingApproval UserStatus = "pending_approval" // created through the API; a second admin must approve it
	// UserDisabled is shown by ListUsers for a user whose disabled flag is
	// set (by a change request); it is never stored.
	UserDisabled UserStatus = "disabled"
	// UserDeclined is a user created through the API whose creation an
	// admin declined (DeclineUser): it never acted, and its tokens are
	// revoked.
	UserDeclined UserStatus = "declined"
)

// User is a staff user. Roles are the roles in force; PendingRoles were
// granted through the API and wait for a second admin's approval
// (PendingBy is the admin who granted them).
type User struct {
	ID           string       `db:"id" json:"id"`
	Name         string       `db:"name" json:"name"`
	Roles        []actor.Role `db:"roles,json" json:"roles"`
	Email        string       `db:"email" json:"email,omitempty"`
	CreatedAt    time.Time    `db:"created_at" json:"createdAt"`
	CreatedBy    string       `db:"created_by" json:"createdBy"`
	Disabled     bool         `db:"disabled" json:"disabled"`
	Status       UserStatus   `db:"status" json:"status"`
	PendingRoles []actor.Role `db:"pending_roles,json" json:"pendingRoles"`
	PendingBy    string       `db:"pending_by" json:"pendingBy,omitempty"`
}

// Token is a stored API token (its hash only). IssuedBy is the user id of
// the staff user who issued it ("" when the CLI or vetca did).
type Token struct {
	ID        string     `db:"id"`
	TokenHash string     `db:"token_hash"`
	Kind      string     `db:"kind"`
	UserID    string     `db:"user_id"`
	AccountID string     `db:"account_id"`
	CreatedAt time.Time  `db:"created_at"`
	RevokedAt *time.Time `db:"revoked_at"`
	IssuedBy  string     `db:"issued_by"`
}

// Service is the auth service.
type Service struct {
	db       *store.DB
	rec      *audit.Recorder
	tab      tables
	clk      clock.Clock
	sessions SessionConfig
	signIns  *signInLimiter

	beforeSessionWrite func() // tests only: runs between the token check and the session's transaction
}

// New returns the auth service. Without options, console sessions and
// failed sign-in limits take their defaults.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, opts ...Option) *Service {
	s := &Service{db: db, rec: rec, tab: newTables(rec), clk: clk, sessions: SessionConfig{}.withDefaults(), signIns: newSignInLimiter(SignInLimits{})}
	for _, o := range opts {
		o(s)
	}
	return s
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckUserName refuses a staff user name AddUser would refuse, so that a
// command can check it before it writes anything (vetca init --admin-name).
func CheckUserName(name string) error {
	if !nameRE.MatchString(name) {
		return apperr.Invalid(apperr.CodeInvalidName, "name", "user name %q must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// NewToken returns a fresh random token and its stored hash.
func NewToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	token = "vetca_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func mayManageUsers(by actor.Actor) error {
	if by.Kind == actor.CLI || by.Kind == actor.System {
		return nil // an operator with local access to the database and keys
	}
	return by.Require(actor.Admin)
}

// AddUser creates a staff user and returns it with its token, which is
// shown only this once. Created by an operator on the server with the audit
// key (`vetca user add`, the ceremony path), the user is active at once.
// Created by an admin through the API, it is pending: its token
// authenticates nothing until a different admin approves it (BR §5.2.2).
func (s *Service) AddUser(ctx context.Context, by actor.Actor, name string, roles []actor.Role, email string) (User, string, error) {
	if err := mayManageUsers(by); err != nil {
		return User{}, "", err
	}
	if err := CheckUserName(name); err != nil {
		return User{}, "", err
	}
	if len(roles) == 0 {
		return User{}, "", apperr.Invalid(apperr.CodeMissingRole, "roles", "a user needs at least one role")
	}
	if err := plaintext.CheckEmail("email", email, false); err != nil {
		return User{}, "", err
	}
	now := s.clk.Now()
	u := User{ID: ids.New("usr"), Name: name, Roles: actor.NormalizeRoles(roles), Email: email, CreatedAt: now, CreatedBy: by.String(),
		Status: UserActive, PendingRoles: []actor.Role{}}
	if by.IsStaff() {
		u.Roles, u.PendingRoles, u.Status, u.PendingBy = []actor.Role{}, actor.NormalizeRoles(roles), UserPendingApproval, by.ID
	}
	token, hash := NewToken()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.Conflict(apperr.CodeNameTaken, "name", "a user named %q already exists", name)
		}
		if err := s.tab.users.Insert(ctx, tx, by, actUserCreated, u); err != nil {
			return err
		}
		return s.tab.apiTokens.Insert(ctx, tx, by, actTokenIssued, Token{
			ID: ids.New("tok"), TokenHash: hash, Kind: KindStaff, UserID: u.ID, CreatedAt: now, IssuedBy: by.UserID(),
		})
	})
	if err != nil {
		return User{}, "", err
	}
	return u, token, nil
}

// GrantRoles asks for roles to be added to a user (admin, through the
// API). They stay pending until a different admin approves them; the roles
// the user already holds keep working meanwhile.
func (s *Service) GrantRoles(ctx context.Context, by actor.Actor, userID string, roles []actor.Role) (User, error) {
	if err := by.Require(actor.Admin); err != nil {
		return User{}, err
	}
	if len(roles) == 0 {
		return User{}, apperr.Invalid(apperr.CodeMissingRole, "roles", "name at least one role to grant")
	}
	var u User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.users.Lock(ctx, tx, userID, &u); err != nil {
			return err
		}
		var add []actor.Role
		for _, r := range roles {
			if !slices.Contains(u.Roles, r) {
				add = append(add, r)
			}
		}
		if len(add) == 0 {
			return apperr.Conflict(apperr.CodeAlreadyGranted, "roles", "user %s already holds %v", u.Name, roles)
		}
		// What awaits approval is fixed from the moment it is asked for:
		// a grant added to it would change what the approving admin
		// reviewed, and one by another admin would make that admin the
		// one who asked, leaving the first free to approve their own.
		if u.Status == UserPendingApproval || len(u.PendingRoles) > 0 {
			return apperr.Conflict(apperr.CodeGrantPending, "roles", "user %s has a grant awaiting approval (%v); it must be approved before another is asked for", u.Name, u.PendingRoles)
		}
		u.PendingRoles, u.PendingBy = actor.NormalizeRoles(add), by.ID
		return s.tab.users.Update(ctx, tx, by, actUserRolesRequested, u)
	})
	return u, err
}

// ApproveUser approves a user created, or roles granted, through the API.
// The approver must be an admin other than the one who asked, and not the
// user itself: no one person grants a privileged role (BR §5.2.2).
func (s *Service) ApproveUser(ctx context.Context, by actor.Actor, userID string) (User, error) {
	if err := by.Require(actor.Admin); err != nil {
		return User{}, err
	}
	var u User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.users.Lock(ctx, tx, userID, &u); err != nil {
			return err
		}
		switch {
		case u.Status != UserPendingApproval && len(u.PendingRoles) == 0:
			return apperr.Conflict(apperr.CodeNothingPending, apperr.NoField, "user %s has nothing awaiting approval", u.Name)
		case u.PendingBy == by.ID:
			return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you asked for this grant; a second admin must approve it")
		case u.ID == by.ID:
			return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you cannot approve roles for yourself; a second admin must approve them")
		}
		u.Roles = actor.NormalizeRoles(append(u.Roles, u.PendingRoles...))
		u.PendingRoles, u.PendingBy, u.Status = []actor.Role{}, "", UserActive
		return s.tab.users.Update(ctx, tx, by, actUserApproved, u)
	})
	return u, err
}

// DeclineUser withdraws what awaits approval for a user: a grant of roles
// (the roles already held keep working) or, for a user created through
// the API, its creation (the user is declined and its tokens revoked).
// Any admin may decline, the one who asked included (withdrawing it):
// declining grants nothing, so it needs no second person, and a grant
// asked for in error would otherwise block every other grant to that user
// until someone approved it.
func (s *Service) DeclineUser(ctx context.Context, by actor.Actor, userID string) (User, error) {
	if err := by.Require(actor.Admin); err != nil {
		return User{}, err
	}
	var u User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.users.Lock(ctx, tx, userID, &u); err != nil {
			return err
		}
		created := u.Status == UserPendingApproval
		if !created && len(u.PendingRoles) == 0 {
			return apperr.Conflict(apperr.CodeNothingPending, apperr.NoField, "user %s has nothing awaiting approval", u.Name)
		}
		u.PendingRoles, u.PendingBy = []actor.Role{}, ""
		if created {
			u.Status = UserDeclined
		}
		if err := s.tab.users.Update(ctx, tx, by, actUserDeclined, u); err != nil {
			return err
		}
		if created {
			return s.revokeTokens(ctx, tx, by, "user_id", u.ID)
		}
		return nil
	})
	return u, err
}

// RotateUserToken revokes a user's tokens and issues a new one.
func (s *Service) RotateUserToken(ctx context.Context, by actor.Actor, name string) (string, error) {
	if err := mayManageUsers(by); err != nil {
		return "", err
	}
	token, hash := NewToken()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		users, err := s.tab.users.Select(ctx, tx, `WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return apperr.NotFound(apperr.CodeNotFound, "name", "no user named %q", name)
		}
		if err := s.revokeTokens(ctx, tx, by, "user_id", users[0].ID); err != nil {
			return err
		}
		return s.tab.apiTokens.Insert(ctx, tx, by, actTokenIssued, Token{
			ID: ids.New("tok"), TokenHash: hash, Kind: KindStaff, UserID: users[0].ID, CreatedAt: s.clk.Now(), IssuedBy: by.UserID(),
		})
	})
	return token, err
}

func (s *Service) revokeTokens(ctx context.Context, tx *store.Tx, by actor.Actor, col, id string) error {
	cond, args := store.TextIs(tx, col, id)
	toks, err := s.tab.apiTokens.Select(ctx, tx, `WHERE `+cond+` AND revoked_at IS NULL`, args...)
	if err != nil {
		return err
	}
	now := s.clk.Now()
	for _, t := range toks {
		t.RevokedAt = &now
		if err := s.tab.apiTokens.Update(ctx, tx, by, actTokenRevoked, t); err != nil {
			return err
		}
	}
	return nil
}

// IssueAccountToken creates a subscriber token for an account inside the
// caller's transaction and returns it. The caller (package account) has
// checked that the account exists. The issuing staff user is recorded: they
// acted for the account and may not approve its orders.
func (s *Service) IssueAccountToken(ctx context.Context, tx *store.Tx, by actor.Actor, accountID string) (string, error) {
	token, hash := NewToken()
	err := s.tab.apiTokens.Insert(ctx, tx, by, actTokenIssued, Token{
		ID: ids.New("tok"), TokenHash: hash, Kind: KindSubscriber, AccountID: accountID, CreatedAt: s.clk.Now(), IssuedBy: by.UserID(),
	})
	return token, err
}

// RotateAccountToken revokes an account's subscriber tokens and issues a
// new one, in the caller's transaction.
func (s *Service) RotateAccountToken(ctx context.Context, tx *store.Tx, by actor.Actor, accountID string) (string, error) {
	if err := s.revokeTokens(ctx, tx, by, "account_id", accountID); err != nil {
		return "", err
	}
	return s.IssueAccountToken(ctx, tx, by, accountID)
}

// TokenIssuers returns the user ids of the staff users who issued any
// subscriber token of the account, now or in the past, with what they did;
// with a non-zero before, only tokens issued no later than before.
func (s *Service) TokenIssuers(ctx context.Context, q store.Querier, accountID string, before time.Time) (map[string]string, error) {
	cond, args := store.TextIs(q, "account_id", accountID)
	toks, err := s.tab.apiTokens.Select(ctx, q, `WHERE `+cond+` AND kind = ?`, append(args, KindSubscriber)...)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range toks {
		if !before.IsZero() && t.CreatedAt.After(before) {
			continue
		}
		if t.IssuedBy != "" && out[t.IssuedBy] == "" {
			out[t.IssuedBy] = "issued subscriber token " + t.ID + " of account " + accountID
		}
	}
	return out, nil
}

// RotateOwnToken revokes a staff user's own tokens and issues a new one.
func (s *Service) RotateOwnToken(ctx context.Context, by actor.Actor) (string, error) {
	if !by.IsStaff() {
		return "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "only staff users rotate their own token here; a subscriber's token is rotated by staff")
	}
	token, hash := NewToken()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// Rotations of one user's token take turns, and each checks again
		// that the token it was asked with is still good: of two at once
		// with the same token, the second is refused as it would be in
		// turn, instead of revoking the token the first just handed out.
		var u User
		if err := s.tab.users.Lock(ctx, tx, by.ID, &u); err != nil {
			return err
		}
		if by.TokenID != "" {
			var cur Token
			if err := s.tab.apiTokens.Get(ctx, tx, by.TokenID, &cur); err != nil {
				return err
			}
			if cur.RevokedAt != nil {
				return apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "%v", ErrBadToken)
			}
		}
		if err := s.revokeTokens(ctx, tx, by, "user_id", by.ID); err != nil {
			return err
		}
		return s.tab.apiTokens.Insert(ctx, tx, by, actTokenIssued, Token{
			ID: ids.New("tok"), TokenHash: hash, Kind: KindStaff, UserID: by.ID, CreatedAt: s.clk.Now(), IssuedBy: by.ID,
		})
	})
	return token, err
}

// ErrBadToken is returned for an unknown, revoked or malformed token.
var ErrBadToken = errors.New("invalid or revoked token")

// Authenticate resolves a bearer token to an actor. The token row and the
// user row must both be vouched for by authentic audit events: a token or
// user written without the audit key (by SQL, or by vetca's own code run
// with another key) authenticates nobody. Such a failure is a 401 whose
// code, integrity_violation, and message name the table and row.
func (s *Service) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	a, err := s.authenticate(ctx, token)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindIntegrity {
		return actor.Actor{}, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: e.Code, Message: e.Message, Err: err}
	}
	return a, err
}

func (s *Service) authenticate(ctx context.Context, token string) (actor.Actor, error) {
	if !strings.HasPrefix(token, "vetca_") || len(token) > 128 {
		return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "%v", ErrBadToken)
	}
	toks, err := s.tab.apiTokens.Select(ctx, s.db, `WHERE token_hash = ?`, HashToken(token))
	if err != nil {
		return actor.Actor{}, err
	}
	if len(toks) == 0 || toks[0].RevokedAt != nil {
		return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "%v", ErrBadToken)
	}
	return s.actorFor(ctx, toks[0])
}

// actorFor is the actor an unrevoked token authenticates, after the
// integrity-checked checks of its user.
func (s *Service) actorFor(ctx context.Context, t Token) (actor.Actor, error) {
	switch t.Kind {
	case KindStaff:
		var u User
		if err := s.tab.users.Get(ctx, s.db, t.UserID, &u); err != nil {
			return actor.Actor{}, err
		}
		if u.Disabled {
			return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "user %s is disabled", u.Name)
		}
		if u.Status == UserDeclined {
			return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "user %s was declined", u.Name)
		}
		if u.Status != UserActive {
			return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "user %s awaits approval by a second admin", u.Name)
		}
		return actor.Actor{Kind: actor.Staff, ID: u.ID, Name: u.Name, Roles: u.Roles, TokenID: t.ID}, nil
	case KindSubscriber:
		return actor.Actor{Kind: actor.Subscriber, ID: t.AccountID, AccountID: t.AccountID, TokenID: t.ID}, nil
	}
	return actor.Actor{}, fmt.Errorf("token %s has unknown kind %q", t.ID, t.Kind)
}

// GetUser returns a user by id (integrity-checked).
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	err := s.tab.users.Get(ctx, s.db, id, &u)
	return u, err
}

// Verifying returns, of the given user ids, those of users who are active
// verifiers now: not disabled, approved, and holding the verifier role.
// Each row is integrity-checked; an id with no user is left out.
func (s *Service) Verifying(ctx context.Context, q store.Querier, ids []string) (map[string]bool, error) {
	roles, err := s.ActiveRoles(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = slices.Contains(roles[id], actor.Verifier)
	}
	return out, nil
}

// ActiveRoles returns, of the given user ids, the roles each user holds
// now if the user is active (not disabled, approved); a disabled or
// pending user, or an id with no user, is left out. Each row is
// integrity-checked. Multi-person controls count a standing approval only
// while its approver is in this map with a role that may give it.
func (s *Service) ActiveRoles(ctx context.Context, q store.Querier, ids []string) (map[string][]actor.Role, error) {
	out := make(map[string][]actor.Role, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		var u User
		if err := s.tab.users.Get(ctx, q, id, &u); apperr.IsKind(err, apperr.KindNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if !u.Disabled && u.Status == UserActive {
			out[id] = u.Roles
		}
	}
	return out, nil
}

// UserByName returns the staff user with the given name, integrity-checked,
// and whether there is one.
func (s *Service) UserByName(ctx context.Context, name string) (User, bool, error) {
	return s.tab.users.First(ctx, s.db, `WHERE name = ?`, name)
}

// ListUsers lists one page of staff users by name (admin or auditor, or
// an operator on the server).
func (s *Service) ListUsers(ctx context.Context, by actor.Actor, p store.Page) ([]User, string, error) {
	if by.Kind != actor.CLI {
		if err := by.Require(actor.Admin, actor.Auditor); err != nil {
			return nil, "", err
		}
	}
	var w store.Where
	tail, err := store.Keyset{Cols: []string{"name", "id"}}.Apply(&w, p)
	if err != nil {
		return nil, "", err
	}
	users, err := s.tab.users.Select(ctx, s.db, w.Clause()+tail, w.Args()...)
	if err != nil {
		return nil, "", err
	}
	users, next := store.Finish(users, p, func(u User) []string { return []string{u.Name, u.ID} })
	for i := range users {
		if users[i].Disabled {
			users[i].Status = UserDisabled // its token authenticates nobody
		}
	}
	return users, next, nil
}

// CountUsers returns how many staff users exist.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// UsersWithRole returns enabled users holding role, for notifications.
func (s *Service) UsersWithRole(ctx context.Context, r actor.Role) ([]User, error) {
	all, err := s.tab.users.Select(ctx, s.db, `WHERE disabled = 0 AND status = ? ORDER BY name`, UserActive)
	if err != nil {
		return nil, err
	}
	var out []User
	for _, u := range all {
		for _, ur := range u.Roles {
			if ur == r {
				out = append(out, u)
				break
			}
		}
	}
	return out, nil
}
