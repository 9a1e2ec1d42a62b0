package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLease takes or renews the named lease for holder until now+ttl.
// It returns false when another holder's lease is still valid. Scheduled
// jobs (CRL publication, outbox delivery, deadline alarms) hold a lease so
// that only one replica runs each at a time, and another takes over when
// the holder stops renewing.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
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
