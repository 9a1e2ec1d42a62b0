package acme

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// Nonces (RFC 8555 §6.5). A nonce is 8 bytes of expiry (Unix seconds),
// 16 random bytes and the first 16 bytes of an HMAC-SHA256 of both under
// a key every replica derives from the installation's EAB secret; it is
// base64url without padding (54 characters). Handing one out writes
// nothing. Using one checks its MAC and expiry, then inserts it into
// acme_nonces, whose primary key refuses a second use on any replica.
const (
	nonceLifetime = time.Hour
	nonceRawLen   = 8 + 16 + 16
	nonceLabel    = "acme-nonce-v1"
	// prunePeriod is how many uses pass between prunes of expired rows.
	prunePeriod = 256
	// pruneGrace is how long past its expiry a used nonce's row is kept:
	// replicas' clocks differ, and a replica whose clock runs ahead must
	// not delete the record of a nonce another replica still accepts.
	pruneGrace = 10 * time.Minute
)

// NonceKeys gives the nonce MAC key (eab.Service.DerivedKey).
type NonceKeys interface {
	DerivedKey(ctx context.Context, label string) ([]byte, error)
}

type nonces struct {
	db   *store.DB
	keys NonceKeys
	clk  clock.Clock
	uses atomic.Int64
}

func (n *nonces) key(ctx context.Context) ([]byte, error) {
	k, err := n.keys.DerivedKey(ctx, nonceLabel)
	if err != nil {
		return nil, fmt.Errorf("acme: nonce key: %w", err)
	}
	return k, nil
}

func nonceMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)[:16]
}

// issue returns a fresh nonce.
func (n *nonces) issue(ctx context.Context) (string, error) {
	key, err := n.key(ctx)
	if err != nil {
		return "", err
	}
	raw := make([]byte, nonceRawLen)
	binary.BigEndian.PutUint64(raw[:8], uint64(n.clk.Now().Add(nonceLifetime).Unix()))
	if _, err := rand.Read(raw[8:24]); err != nil {
		return "", err
	}
	copy(raw[24:], nonceMAC(key, raw[:24]))
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// use consumes nonce: a badNonce problem when it is not one of ours, has
// expired, or was used before.
func (n *nonces) use(ctx context.Context, nonce string) error {
	key, err := n.key(ctx)
	if err != nil {
		return err
	}
	now := n.clk.Now()
	exp, err := checkNonce(key, nonce, now)
	if err != nil {
		return err
	}
	if n.uses.Add(1)%prunePeriod == 0 {
		if _, err := n.db.Exec(ctx, `DELETE FROM acme_nonces WHERE expires_at < ?`, store.FormatTime(now.Add(-pruneGrace))); err != nil {
			return fmt.Errorf("acme: prune used nonces: %w", err)
		}
	}
	if _, err := n.db.Exec(ctx, `INSERT INTO acme_nonces (nonce, expires_at) VALUES (?, ?)`, nonce, store.FormatTime(exp)); err != nil {
		if store.IsUniqueViolation(err) {
			return problem(ProbBadNonce, http.StatusBadRequest, "the nonce was used before")
		}
		return fmt.Errorf("acme: record a used nonce: %w", err)
	}
	return nil
}

// checkNonce checks a nonce's form, MAC and expiry at now, and returns
// its expiry; any failure is a badNonce problem. The form is the one
// spelling issue made: acme_nonces is keyed on the string, so a second
// spelling of the same bytes would be a second use of the nonce (RFC 8555
// §6.5). A lenient decoder accepts 16 spellings of 40 bytes (the last
// character has 4 unused low bits) and skips CR and LF anywhere, even in
// strict mode; so the decoding is strict and the nonce must also be the
// canonical encoding of what it decodes to.
func checkNonce(key []byte, nonce string, now time.Time) (time.Time, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if nonce == "" || err != nil || len(raw) != nonceRawLen {
		return time.Time{}, problem(ProbBadNonce, http.StatusBadRequest, "the nonce is missing or not one this server issued")
	}
	if base64.RawURLEncoding.EncodeToString(raw) != nonce {
		return time.Time{}, problem(ProbBadNonce, http.StatusBadRequest, "the nonce is not spelled as this server issued it (base64url, RFC 8555 §6.5.1)")
	}
	if !hmac.Equal(nonceMAC(key, raw[:24]), raw[24:]) {
		return time.Time{}, problem(ProbBadNonce, http.StatusBadRequest, "the nonce is not one this server issued")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	if !now.Before(exp) {
		return time.Time{}, problem(ProbBadNonce, http.StatusBadRequest, "the nonce expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return exp, nil
}
