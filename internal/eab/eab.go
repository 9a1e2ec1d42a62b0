// Package eab keeps External Account Binding keys (RFC 8555 §7.3.4): the
// credentials with which an ACME client ties a new ACME account to a vetca
// account (docs/design.md, "Templates and EAB keys").
//
// A key is shown once, when it is created: its key id (kid) and its HMAC
// key. The HMAC key is never stored. It is derived from the installation's
// EAB secret, a file in the key directory, and the kid
// (HMAC-SHA256(secret, kid)); the database keeps only its SHA-256 and the
// id of the secret. Someone who can read (or write) the database therefore
// cannot learn or forge a key, yet the ACME server, which holds the
// secret, can verify a client's MAC (Verify).
//
// A key binds one ACME account, once (Bind, under the key's row lock, and
// a unique index on the bound ACME account), and expires 30 days after its
// creation if it was not used. Every change is audited.
package eab

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Lifetime is how long a key may wait to be used: it expires this long
// after its creation unless it was bound first.
const Lifetime = 30 * 24 * time.Hour

// Status is where a key stands, as of a given time.
type Status string

// Key statuses.
const (
	StatusActive  Status = "active"  // may still bind an ACME account
	StatusBound   Status = "bound"   // bound an ACME account; used up
	StatusExpired Status = "expired" // not used within Lifetime
	StatusRevoked Status = "revoked"
)

// Key is an EAB key row. Its id is the kid.
type Key struct {
	ID          string    `db:"id" json:"kid"`
	AccountID   string    `db:"account_id" json:"accountId"`
	CreatedBy   string    `db:"created_by" json:"createdBy"`
	CreatedByID string    `db:"created_by_id" json:"-"` // user id of a staff creator
	CreatedAt   time.Time `db:"created_at" json:"createdAt"`
	ExpiresAt   time.Time `db:"expires_at" json:"expiresAt"`
	// HMACSHA256 is the hex SHA-256 of the HMAC key: enough to check a
	// derived key, useless for recovering it.
	HMACSHA256 string `db:"hmac_sha256" json:"-"`
	// SecretID names the installation EAB secret the key was derived from.
	SecretID           string     `db:"secret_id" json:"-"`
	BoundACMEAccountID string     `db:"bound_acme_account_id" json:"boundAcmeAccountId,omitempty"`
	BoundAt            *time.Time `db:"bound_at" json:"boundAt,omitempty"`
	RevokedAt          *time.Time `db:"revoked_at" json:"revokedAt,omitempty"`
	RevokedBy          string     `db:"revoked_by" json:"revokedBy,omitempty"`
}

// StatusAt is the key's status at t: revoked, bound, expired (t at or
// after ExpiresAt) or active.
func (k Key) StatusAt(t time.Time) Status {
	switch {
	case k.RevokedAt != nil:
		return StatusRevoked
	case k.BoundACMEAccountID != "":
		return StatusBound
	case !t.Before(k.ExpiresAt):
		return StatusExpired
	}
	return StatusActive
}

// View is a key as the API lists it: never its HMAC key.
type View struct {
	Key
	Status Status `json:"status"`
}

// Created is what Create returns, once: the kid and the HMAC key
// (base64url without padding, 32 bytes).
type Created struct {
	Kid       string    `json:"kid"`
	HMACKey   string    `json:"hmacKey"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Accounts confirms that an account exists and is intact (package account).
type Accounts interface {
	CheckAccount(ctx context.Context, q store.Querier, id string) error
}

// Config is where the installation EAB secret comes from.
type Config struct {
	// Secret is the secret this process opened, or nil.
	Secret *Secret
	// SecretPath is the secret's file (KEY-DIR/eab.secret).
	SecretPath string
	// CreateSecret lets a process that writes create the secret at the
	// first key, when it has none and no key exists yet. A process that
	// only reads never creates it.
	CreateSecret bool
}

// Service is the EAB key service.
type Service struct {
	db       *store.DB
	tab      tables
	clk      clock.Clock
	accounts Accounts
	path     string
	create   bool
	mu       sync.Mutex // guards secret
	secret   *Secret
}

// New returns the EAB key service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, accounts Accounts, cfg Config) *Service {
	return &Service{db: db, tab: newTables(rec), clk: clk, accounts: accounts, path: cfg.SecretPath, create: cfg.CreateSecret, secret: cfg.Secret}
}

// SecretID is the id of the secret this process holds, or "".
func (s *Service) SecretID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret == nil {
		return ""
	}
	return s.secret.ID()
}

// cli reports whether by is the operator on the server, holding the audit
// key (the ceremony path), who may act on any account.
func cli(by actor.Actor) bool { return by.Kind == actor.CLI }

// Create makes a key for accountID (verifier or admin, or the operator on
// the server) and returns its kid and HMAC key, which are never shown again.
func (s *Service) Create(ctx context.Context, by actor.Actor, accountID string) (Created, error) {
	if !cli(by) {
		if err := by.Require(actor.Verifier, actor.Admin); err != nil {
			return Created{}, err
		}
	}
	if strings.TrimSpace(accountID) == "" {
		return Created{}, apperr.Invalid(apperr.CodeMissingField, "accountId", "name the account the key binds to")
	}
	secret, err := s.secretForCreate(ctx)
	if err != nil {
		return Created{}, err
	}
	now := s.clk.Now().UTC().Truncate(time.Second)
	kid := ids.New("eab")
	hmacKey := secret.KeyFor(kid)
	k := Key{
		ID: kid, AccountID: accountID, CreatedBy: by.String(), CreatedByID: by.UserID(), CreatedAt: now,
		ExpiresAt: now.Add(Lifetime), HMACSHA256: keyHash(hmacKey), SecretID: secret.ID(),
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.checkAccount(ctx, tx, accountID); err != nil {
			return err
		}
		if err := s.sameSecret(ctx, tx, secret); err != nil {
			return err
		}
		return s.tab.keys.Insert(ctx, tx, by, actEABKeyCreated, k)
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Kid: kid, HMACKey: base64.RawURLEncoding.EncodeToString(hmacKey), ExpiresAt: k.ExpiresAt}, nil
}

func keyHash(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])
}

func (s *Service) checkAccount(ctx context.Context, q store.Querier, accountID string) error {
	if err := s.accounts.CheckAccount(ctx, q, accountID); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return apperr.NotFound(apperr.CodeNotFound, "accountId", "account %s not found", accountID)
		}
		return err
	}
	return nil
}

// secretForCreate returns the secret new keys are derived from, creating
// it if this process may (ensureSecret).
func (s *Service) secretForCreate(ctx context.Context) (*Secret, error) {
	sec, _, err := s.ensureSecret(ctx)
	return sec, err
}

// EnsureSecret creates the installation EAB secret when this process has
// none and may create it (`vetca init`), and reports whether it did. See
// ensureSecret for when it refuses.
func (s *Service) EnsureSecret(ctx context.Context) (bool, error) {
	_, created, err := s.ensureSecret(ctx)
	return created, err
}

// ensureSecret returns this process's secret. A process that writes and
// has none creates it (at init, or at the first key of an installation
// that predates EAB keys); but when keys already exist they were derived
// from a secret this process lacks, and a new one would split the
// installation in two, so it refuses and says which file to restore.
func (s *Service) ensureSecret(ctx context.Context) (*Secret, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret != nil {
		return s.secret, false, nil
	}
	if !s.create || s.path == "" {
		return nil, false, apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField, "this process has no EAB secret (%s)", s.path)
	}
	any, err := s.tab.keys.Select(ctx, s.db, `ORDER BY created_at, id LIMIT 1`)
	if err != nil {
		return nil, false, err
	}
	if len(any) > 0 {
		return nil, false, apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField,
			"the EAB secret %s is missing, but EAB keys in the database were derived from secret %s: restore that file from the installation's key directory", s.path, any[0].SecretID)
	}
	sec, created, err := OpenOrCreateSecret(s.path)
	if err != nil {
		return nil, false, err
	}
	s.secret = sec
	return sec, created, nil
}

// sameSecret refuses to derive a key from secret when existing keys came
// from another one: every replica must hold the key directory's secret.
func (s *Service) sameSecret(ctx context.Context, q store.Querier, secret *Secret) error {
	other, err := s.tab.keys.Select(ctx, q, `WHERE secret_id <> ? ORDER BY created_at, id LIMIT 1`, secret.ID())
	if err != nil {
		return err
	}
	if len(other) > 0 {
		return apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField,
			"EAB key %s was derived from EAB secret %s, but this process holds %s: every replica must use the installation's eab.secret", other[0].ID, other[0].SecretID, secret.ID())
	}
	return nil
}

// List returns one page of an account's keys, newest first, with their
// status now (staff, the account's subscriber, or the operator).
func (s *Service) List(ctx context.Context, by actor.Actor, accountID string, p store.Page) ([]View, string, error) {
	if !cli(by) {
		if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin, actor.Compliance, actor.Auditor); err != nil {
			return nil, "", err
		}
	}
	if err := s.checkAccount(ctx, s.db, accountID); err != nil {
		return nil, "", err
	}
	var w store.Where
	w.Add("account_id = ?", accountID)
	list, next, err := s.tab.keys.NewestFirst(ctx, s.db, w, p, func(k Key) (time.Time, string) { return k.CreatedAt, k.ID })
	if err != nil {
		return nil, "", err
	}
	now := s.clk.Now()
	out := make([]View, 0, len(list))
	for _, k := range list {
		out = append(out, View{Key: k, Status: k.StatusAt(now)})
	}
	return out, next, nil
}

// Revoke revokes a key (verifier, admin, compliance, the account's
// subscriber, or the operator). accountID, when not empty, must be the
// key's account; the operator may leave it empty.
func (s *Service) Revoke(ctx context.Context, by actor.Actor, accountID, kid string) (View, error) {
	if !cli(by) {
		if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin, actor.Compliance); err != nil {
			return View{}, err
		}
	}
	var k Key
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.keys.Lock(ctx, tx, kid, &k); err != nil {
			if apperr.IsKind(err, apperr.KindNotFound) {
				return apperr.NotFound(apperr.CodeNotFound, "kid", "EAB key %s not found", kid)
			}
			return err
		}
		if accountID != "" && k.AccountID != accountID {
			return apperr.NotFound(apperr.CodeNotFound, "kid", "EAB key %s not found on account %s", kid, accountID)
		}
		if k.RevokedAt != nil {
			return apperr.Conflict(apperr.CodeEABKeyRevoked, "kid", "EAB key %s was already revoked at %s", kid, k.RevokedAt.Format(time.RFC3339))
		}
		now := s.clk.Now().UTC().Truncate(time.Second)
		k.RevokedAt, k.RevokedBy = &now, by.String()
		return s.tab.keys.Update(ctx, tx, by, actEABKeyRevoked, k)
	})
	if err != nil {
		return View{}, err
	}
	return View{Key: k, Status: k.StatusAt(s.clk.Now())}, nil
}

// derive returns the HMAC key of k, checked against its stored hash, or
// an error when this process lacks the secret k was derived from.
func (s *Service) derive(k Key) ([]byte, error) {
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	if secret == nil {
		return nil, apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField, "this process has no EAB secret (%s); EAB key %s cannot be checked", s.path, k.ID)
	}
	if k.SecretID != secret.ID() {
		return nil, apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField,
			"EAB key %s was derived from EAB secret %s, but this process holds %s", k.ID, k.SecretID, secret.ID())
	}
	key := secret.KeyFor(k.ID)
	if !hmac.Equal([]byte(keyHash(key)), []byte(k.HMACSHA256)) {
		return nil, apperr.Unavailable(apperr.CodeEABSecretUnavailable, apperr.NoField,
			"the key derived for EAB key %s does not hash to the stored value: the EAB secret is not the one that made it", k.ID)
	}
	return key, nil
}

// Verify checks an External Account Binding for the future ACME server:
// kid names a key of this installation, mac is the HMAC-SHA256 of
// macInput (the JWS signing input) under the key's HMAC key (compared in
// constant time), and the key may still bind an ACME account: not
// revoked, not bound, not expired (by the injected clock). The MAC is
// checked before the key's state, so only the key's holder learns it.
// Each refusal has its own code: eab_unknown_kid, eab_bad_mac,
// eab_key_revoked, eab_key_bound, eab_key_expired (all 401), or 503
// eab_secret_unavailable when this process lacks the key's secret.
func (s *Service) Verify(ctx context.Context, kid string, macInput, mac []byte) (Key, error) {
	var k Key
	if err := s.tab.keys.Get(ctx, s.db, kid, &k); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Key{}, apperr.Unauthenticated(apperr.CodeEABUnknownKid, "kid", "no EAB key %q", kid)
		}
		return Key{}, err
	}
	key, err := s.derive(k)
	if err != nil {
		return Key{}, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(macInput)
	if !hmac.Equal(m.Sum(nil), mac) {
		return Key{}, apperr.Unauthenticated(apperr.CodeEABBadMAC, "mac", "the MAC does not verify with EAB key %s", kid)
	}
	if code, why := refusal(k, s.clk.Now()); code != "" {
		return Key{}, apperr.Unauthenticated(code, "kid", "%s", why)
	}
	return k, nil
}

// refusal says why k may no longer bind an ACME account at now (its code
// and a message), or returns an empty code when it may.
func refusal(k Key, now time.Time) (apperr.Code, string) {
	switch k.StatusAt(now) {
	case StatusRevoked:
		return apperr.CodeEABKeyRevoked, "EAB key " + k.ID + " was revoked at " + k.RevokedAt.Format(time.RFC3339)
	case StatusBound:
		return apperr.CodeEABKeyBound, "EAB key " + k.ID + " already bound ACME account " + k.BoundACMEAccountID
	case StatusExpired:
		return apperr.CodeEABKeyExpired, "EAB key " + k.ID + " expired unused at " + k.ExpiresAt.Format(time.RFC3339)
	}
	return "", ""
}

// Bind binds the key kid to the ACME account acmeAccountID, once, inside
// the caller's transaction (the one that creates the ACME account). It
// holds the key's row lock, so of concurrent binds on any replicas one
// succeeds and the others get 409 eab_key_bound; an ACME account already
// bound by another key is refused the same way (a unique index). A
// revoked or expired key is 409 eab_key_revoked or eab_key_expired.
func (s *Service) Bind(ctx context.Context, tx *store.Tx, kid, acmeAccountID string) (Key, error) {
	if strings.TrimSpace(acmeAccountID) == "" {
		return Key{}, apperr.Invalid(apperr.CodeMissingField, "acmeAccountId", "name the ACME account to bind")
	}
	var k Key
	if err := s.tab.keys.Lock(ctx, tx, kid, &k); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Key{}, apperr.Unauthenticated(apperr.CodeEABUnknownKid, "kid", "no EAB key %q", kid)
		}
		return Key{}, err
	}
	now := s.clk.Now().UTC().Truncate(time.Second)
	if code, why := refusal(k, now); code != "" {
		return Key{}, apperr.Conflict(code, "kid", "%s", why)
	}
	k.BoundACMEAccountID, k.BoundAt = acmeAccountID, &now
	if err := s.tab.keys.Update(ctx, tx, actor.SystemActor("acme"), actEABKeyBound, k); err != nil {
		if store.IsUniqueViolation(err) {
			return Key{}, apperr.Conflict(apperr.CodeEABKeyBound, "acmeAccountId", "ACME account %s is already bound by another EAB key", acmeAccountID)
		}
		return Key{}, err
	}
	return k, nil
}

// Binding reads key kid as it stands, integrity-checked, in q. The ACME
// server reads the key that bound an ACME account on every request of
// that account: revoking a bound key cuts off the ACME account it bound
// (docs/design.md §15). Keys are never deleted, so a kid an ACME account
// names that is not found is an integrity error.
func (s *Service) Binding(ctx context.Context, q store.Querier, kid string) (Key, error) {
	var k Key
	if err := s.tab.keys.Get(ctx, q, kid, &k); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Key{}, apperr.Integrity("eab_keys", kid, "EAB key %s, which bound an ACME account, is missing", kid)
		}
		return Key{}, err
	}
	return k, nil
}

// CreatorsBefore names, by user id, the staff users who created an EAB
// key of accountID (any key, whatever its state) no later than before, or
// ever when before is zero, each with what they did. They acted for the
// account: none of them may approve its templates, and `vetca scan`
// judges a certificate issued under a template by who had created one
// when it was issued.
func (s *Service) CreatorsBefore(ctx context.Context, q store.Querier, accountID string, before time.Time) (map[string]string, error) {
	// store.TextIs: a row whose account_id was retyped outside vetca is
	// found, and fails the audited read, instead of hiding its creator.
	byAccount, args := store.TextIs(q, "account_id", accountID)
	keys, err := s.tab.keys.Select(ctx, q, `WHERE `+byAccount+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range keys {
		if !before.IsZero() && k.CreatedAt.After(before) {
			continue
		}
		if k.CreatedByID != "" && out[k.CreatedByID] == "" {
			out[k.CreatedByID] = "created EAB key " + k.ID + " of account " + accountID
		}
	}
	return out, nil
}

// DerivedKey returns a key derived from the installation EAB secret for
// another purpose (Secret.Derive), creating the secret as ensureSecret
// may. Every replica holds the same secret, so every replica derives the
// same key: the ACME server's nonces are checked with it.
func (s *Service) DerivedKey(ctx context.Context, label string) ([]byte, error) {
	sec, _, err := s.ensureSecret(ctx)
	if err != nil {
		return nil, err
	}
	return sec.Derive(label), nil
}
