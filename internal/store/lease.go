package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// leaseStatementTimeout bounds a lease statement that runs on after its
// caller's context ended.
const leaseStatementTimeout = 10 * time.Second

// AcquireLease takes or renews the named lease for holder until now+ttl.
// It returns false when another holder's lease is still valid. Scheduled
// jobs (CRL publication, outbox delivery, deadline alarms) hold a lease so
// that only one replica runs each at a time, and another takes over when
// the holder stops renewing.
//
// Once sent, the statement is not abandoned when ctx ends (a replica
// shutting down): a PostgreSQL statement cancelled in flight can still
// commit after the caller has gone on, here after its loop released the
// lease on the way out, and the stopped replica would then hold the lease
// until it expired instead of handing it over at once. So it runs to its
// end (for at most leaseStatementTimeout), and a ctx already ended takes
// nothing.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseStatementTimeout)
	defer cancel()
	res, err := db.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < ?`,
		name, holder, FormatTime(now.Add(ttl)), FormatTime(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up a lease held by holder.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.Exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// LeaseExpiry returns when the lease name expires, and whether it exists.
func (db *DB) LeaseExpiry(ctx context.Context, name string) (time.Time, bool, error) {
	var exp string
	err := db.QueryRow(ctx, `SELECT expires_at FROM leases WHERE name = ?`, name).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read lease %s: %w", name, err)
	}
	t, err := ParseTime(exp)
	return t, err == nil, err
}
