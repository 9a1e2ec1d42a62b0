package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Console session defaults (vetca serve --session-idle, --session-max-age).
const (
	DefaultSessionIdle   = 30 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
	// ActivityResolution is how often a session's last-seen time is
	// written: at most once per this interval per session, so the idle
	// timeout takes effect between Idle-ActivityResolution and Idle after
	// the last request.
	ActivityResolution = time.Minute
)

// SessionConfig is how long console sessions live.
type SessionConfig struct {
	Idle   time.Duration // a session unused this long is refused
	MaxAge time.Duration // a session is refused this long after sign-in, used or not
}

func (c SessionConfig) withDefaults() SessionConfig {
	if c.Idle <= 0 {
		c.Idle = DefaultSessionIdle
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultSessionMaxAge
	}
	return c
}

// Option configures the auth service.
type Option func(*Service)

// WithSessions sets the console session lifetimes (zero fields keep the
// defaults).
func WithSessions(c SessionConfig) Option {
	return func(s *Service) { s.sessions = c.withDefaults() }
}

// WithSignInLimits sets the limits on failed console sign-ins (zero
// fields keep the defaults).
func WithSignInLimits(l SignInLimits) Option {
	return func(s *Service) { s.signIns = newSignInLimiter(l) }
}

// Session is a console session. The session id a browser holds (the
// secret) is random, 256 bits from crypto/rand, and is stored only as its
// SHA-256 (SecretHash); ID is the row's own identifier, which appears in
// the audit trail and cannot be used to sign in.
type Session struct {
	ID         string     `db:"id"`
	SecretHash string     `db:"secret_hash"`
	Kind       string     `db:"kind"` // KindStaff or KindSubscriber
	UserID     string     `db:"user_id"`
	AccountID  string     `db:"account_id"`
	TokenID    string     `db:"token_id"` // the API token that signed in
	CreatedAt  time.Time  `db:"created_at"`
	ExpiresAt  time.Time  `db:"expires_at"` // absolute expiry
	RevokedAt  *time.Time `db:"revoked_at"`
}

// SignIn is a console sign-in attempt: the user it names (a staff user's
// name, or a subscriber's account id), the API token offered, and the
// client's address (the TCP peer, never a forwarded header).
type SignIn struct {
	Name   string
	Token  string
	Remote string
}

// newSecret returns a fresh session id and its stored hash.
func newSecret() (secret, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a session id: its SHA-256, hex.
func HashSecret(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// wellFormedSecret reports whether s can be a session id (43 base64url
// characters encoding 32 bytes). An API token never is: it starts with
// "vetca_" and is longer.
func wellFormedSecret(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

var errNoSession = errors.New("no such console session")

// StartSession signs a user in to the console: it checks the attempt
// against the failed sign-in limits, authenticates the token, checks that
// the token belongs to the user the attempt names, and records a new
// session. It returns the session id for the cookie, which is stored
// nowhere. A throttled attempt returns a *ThrottledError before the token
// is looked at. Failed attempts are counted and summarized in the audit
// trail (console.sign_in_failures); a successful one is recorded at once
// (console.sign_in, with the new session's row).
func (s *Service) StartSession(ctx context.Context, in SignIn) (string, Session, error) {
	now := s.clk.Now()
	name := normalizeName(in.Name)
	key := limitName(name)
	if wait, ok := s.signIns.take(now, in.Remote, key); !ok {
		s.flushDue(ctx, now)
		return "", Session{}, &ThrottledError{RetryAfter: wait}
	}
	by, err := s.Authenticate(ctx, in.Token)
	if err == nil && !namesActor(name, by) {
		err = apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the token does not belong to %q", in.Name)
	}
	if err != nil {
		s.signIns.fail(now, in.Remote, key)
		s.flushDue(ctx, now)
		return "", Session{}, err
	}
	s.signIns.succeed(now, in.Remote, key)
	s.flushDue(ctx, now)
	secret, hash := newSecret()
	sess := Session{ID: ids.New("ses"), SecretHash: hash, Kind: KindStaff, UserID: by.UserID(), AccountID: by.AccountID,
		TokenID: by.TokenID, CreatedAt: now, ExpiresAt: now.Add(s.sessions.MaxAge)}
	if by.Kind == actor.Subscriber {
		sess.Kind = KindSubscriber
	}
	if s.beforeSessionWrite != nil {
		s.beforeSessionWrite()
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.stillActive(ctx, tx, by); err != nil {
			return err
		}
		if err := s.tab.consoleSessions.Insert(ctx, tx, by, actSessionStarted, sess); err != nil {
			return err
		}
		if err := touch(ctx, tx, sess.ID, now); err != nil {
			return err
		}
		entity, id := "users", by.ID
		if by.Kind == actor.Subscriber {
			entity, id = "accounts", by.AccountID
		}
		// BR §5.4.1(3): successful access attempts are logged.
		return s.rec.Note(ctx, tx, by, actConsoleSignIn, entity, id, map[string]string{"remote": in.Remote, "session": sess.ID})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("start console session: %w", err)
	}
	return secret, sess, nil
}

// stillActive locks a staff user's row in tx and refuses a user no longer
// active. The token was checked before the session's transaction; a change
// request disabling the user may have committed in between, and its
// ending of the user's sessions would not have seen this one, which
// enabling the user again would then bring back. The lock orders the two.
func (s *Service) stillActive(ctx context.Context, tx *store.Tx, by actor.Actor) error {
	if by.Kind != actor.Staff {
		return nil
	}
	var u User
	if err := s.tab.users.Lock(ctx, tx, by.ID, &u); err != nil {
		return err
	}
	if u.Disabled || u.Status != UserActive {
		return apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "user %s is no longer active", u.Name)
	}
	return nil
}

// flushDue writes the failed sign-in summaries that are due, if any:
// when throttling has just started, and otherwise at most every 30
// seconds. Summaries that cannot be written stay queued for the next
// flush (serve's loop logs the error), so a failure here does not change
// the attempt's answer.
func (s *Service) flushDue(ctx context.Context, now time.Time) {
	if s.signIns.due(now) {
		_ = s.FlushSignInFailures(context.WithoutCancel(ctx), false)
	}
}

// namesActor reports whether the name given at sign-in is the actor's: a
// staff user's name, or a subscriber's account id.
func namesActor(name string, a actor.Actor) bool {
	switch a.Kind {
	case actor.Staff:
		return name == strings.ToLower(a.Name)
	case actor.Subscriber:
		return name == strings.ToLower(a.AccountID)
	}
	return false
}

// Session resolves a console session id to the actor it signed in, like
// Authenticate does for an API token, with the same TokenID. It is
// refused (401) when the session is unknown, revoked, past its absolute
// expiry or idle too long; when its API token has been revoked since (so
// rotating a token signs out its sessions); when the user is disabled or
// no longer active; and when the session, token or user row fails its
// integrity check (401 with code integrity_violation naming the row).
func (s *Service) Session(ctx context.Context, secret string) (actor.Actor, error) {
	a, _, err := s.session(ctx, secret)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindIntegrity {
		return actor.Actor{}, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: e.Code, Message: e.Message, Err: err}
	}
	return a, err
}

func (s *Service) session(ctx context.Context, secret string) (actor.Actor, Session, error) {
	sess, err := s.lookupSession(ctx, secret)
	if err != nil {
		return actor.Actor{}, Session{}, err
	}
	now := s.clk.Now()
	switch {
	case sess.RevokedAt != nil:
		return actor.Actor{}, sess, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the console session has ended")
	case !now.Before(sess.ExpiresAt) || !now.Before(sess.CreatedAt.Add(s.sessions.MaxAge)):
		return actor.Actor{}, sess, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the console session has expired; sign in again")
	}
	last, err := s.lastSeen(ctx, sess)
	if err != nil {
		return actor.Actor{}, sess, err
	}
	if !now.Before(last.Add(s.sessions.Idle)) {
		return actor.Actor{}, sess, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the console session was idle too long; sign in again")
	}
	var t Token
	if err := s.tab.apiTokens.Get(ctx, s.db, sess.TokenID, &t); err != nil {
		return actor.Actor{}, sess, err
	}
	if t.RevokedAt != nil {
		return actor.Actor{}, sess, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the API token this console session signed in with was revoked")
	}
	if t.Kind != sess.Kind || t.UserID != sess.UserID || t.AccountID != sess.AccountID {
		return actor.Actor{}, sess, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the console session does not match its API token")
	}
	a, err := s.actorFor(ctx, t)
	if err != nil {
		return actor.Actor{}, sess, err
	}
	if now.Sub(last) >= ActivityResolution {
		if _, err := s.db.Exec(ctx, touchSQL, sess.ID, store.FormatTime(now)); err != nil {
			return actor.Actor{}, sess, fmt.Errorf("record console session activity: %w", err)
		}
	}
	return a, sess, nil
}

// lookupSession reads the session a secret names, integrity-checked.
func (s *Service) lookupSession(ctx context.Context, secret string) (Session, error) {
	if !wellFormedSecret(secret) {
		return Session{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "%v", errNoSession)
	}
	list, err := s.tab.consoleSessions.Select(ctx, s.db, `WHERE secret_hash = ?`, HashSecret(secret))
	if err != nil {
		return Session{}, err
	}
	if len(list) == 0 {
		return Session{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "%v", errNoSession)
	}
	return list[0], nil
}

// lastSeen is when the session was last used. It comes from
// console_session_activity, which is not audited: writing a signed,
// fsynced audit event for every request would be wrong, and the value is
// safe to keep outside the trail. Someone who can write the database but
// does not hold a session id cannot use any session, whatever last_seen
// says (the id is stored only as a hash, and the session row itself is
// integrity-checked); moving last_seen forward only extends the idle time
// of a session whose holder can use it anyway, while the absolute expiry,
// revocation and the token check, all in audited rows, still apply; and
// moving it back or deleting it only signs its holder out sooner. A
// missing row counts from the sign-in time, and a time in the future
// counts as now.
func (s *Service) lastSeen(ctx context.Context, sess Session) (time.Time, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT last_seen FROM console_session_activity WHERE session_id = ?`, sess.ID).Scan(&v)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sess.CreatedAt, nil
		}
		return time.Time{}, fmt.Errorf("read console session activity: %w", err)
	}
	t, err := store.ParseTime(v)
	if err != nil || t.Before(sess.CreatedAt) {
		return sess.CreatedAt, nil
	}
	if now := s.clk.Now(); t.After(now) {
		return now, nil
	}
	return t, nil
}

const touchSQL = `INSERT INTO console_session_activity (session_id, last_seen) VALUES (?, ?)
	ON CONFLICT (session_id) DO UPDATE SET last_seen = excluded.last_seen`

func touch(ctx context.Context, tx *store.Tx, id string, now time.Time) error {
	if _, err := tx.Exec(ctx, touchSQL, id, store.FormatTime(now)); err != nil {
		return fmt.Errorf("record console session activity: %w", err)
	}
	return nil
}

// EndSession signs a console session out: its row is revoked (an audited
// update), so the session id is refused from then on. Ending a session
// that is unknown or already revoked does nothing.
func (s *Service) EndSession(ctx context.Context, secret string) error {
	sess, err := s.lookupSession(ctx, secret)
	if apperr.IsKind(err, apperr.KindUnauthenticated) {
		return nil
	}
	if err != nil {
		return err
	}
	if sess.RevokedAt != nil {
		return nil
	}
	by := actor.Actor{Kind: actor.Subscriber, ID: sess.AccountID, AccountID: sess.AccountID}
	if sess.Kind == KindStaff {
		u, err := s.GetUser(ctx, sess.UserID)
		if err != nil {
			return err
		}
		by = actor.Actor{Kind: actor.Staff, ID: u.ID, Name: u.Name}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur Session
		if err := s.tab.consoleSessions.Lock(ctx, tx, sess.ID, &cur); err != nil {
			return err
		}
		if cur.RevokedAt != nil {
			return nil
		}
		now := s.clk.Now()
		cur.RevokedAt = &now
		return s.tab.consoleSessions.Update(ctx, tx, by, actSessionEnded, cur)
	})
}

// EndUserSessions ends, in the caller's transaction, every console session
// of staff user userID that is neither ended nor expired (an audited
// update of each, as sign-out makes). A change request that disables the
// user calls it: a session ends when its user is disabled, and enabling
// the user again does not bring it back.
func (s *Service) EndUserSessions(ctx context.Context, tx *store.Tx, by actor.Actor, userID string) error {
	cond, args := store.TextIs(tx, "user_id", userID)
	list, err := s.tab.consoleSessions.Select(ctx, tx, `WHERE `+cond+` AND revoked_at IS NULL`, args...)
	if err != nil {
		return fmt.Errorf("read the console sessions of user %s: %w", userID, err)
	}
	now := s.clk.Now()
	for _, sess := range list {
		if !now.Before(sess.ExpiresAt) {
			continue
		}
		sess.RevokedAt = &now
		if err := s.tab.consoleSessions.Update(ctx, tx, by, actSessionEnded, sess); err != nil {
			return fmt.Errorf("end console session %s: %w", sess.ID, err)
		}
	}
	return nil
}
