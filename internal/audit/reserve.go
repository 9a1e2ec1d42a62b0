package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/vetca/vetca/internal/store"
)

// On PostgreSQL each event takes its number from the sequence audit_seq, a
// round trip of its own before the event is signed (the signature covers
// the number). A transaction that knows how many events it is about to
// write takes their numbers in one statement (Reserve); its events then use
// them in ascending order, so each event still has a higher number than
// the transaction's earlier ones. A number reserved and never used is a
// number whose event never committed: the sealer records it as a signed
// gap, exactly as for a transaction that rolled back (seal.go). Callers
// therefore reserve only what they are sure to write on success.

// reservedKey is the memo key of a transaction's unused reserved numbers.
type reservedKey struct{}

// xidKey is the memo key of the transaction's id, read with its first
// numbers: every event tx writes carries it (Event.Xid).
type xidKey struct{}

// Reserve takes the numbers of the next n events tx will write, in one
// statement (PostgreSQL; on SQLite events are numbered from the chain tip
// and Reserve does nothing). Reserving fewer than tx writes is harmless:
// the rest take a number each. Reserving more leaves signed gaps.
func (r *Recorder) Reserve(ctx context.Context, tx *store.Tx, n int) error {
	if tx.Dialect() != store.Postgres || n < 2 {
		return nil
	}
	nums, err := takeNumbers(ctx, tx, n)
	if err != nil {
		return err
	}
	// Numbers reserved earlier and still unused are lower: they go first.
	tx.Remember(reservedKey{}, append(reserved(tx), nums...))
	return nil
}

// dropReservedUpTo gives up tx's reserved numbers up to seq, the newest
// event of a row tx has just locked. They were taken before the lock, and
// another transaction may have written that row's event seq and committed
// in between: an event of tx's numbered below it would not be the row's
// newest, and the row would read as changed outside vetca. The numbers
// given up become signed gaps; the next event takes a fresh number, higher
// than any taken so far.
func dropReservedUpTo(tx *store.Tx, seq int64) {
	nums := reserved(tx)
	i := 0
	for i < len(nums) && nums[i] <= seq {
		i++
	}
	if i > 0 {
		tx.Remember(reservedKey{}, nums[i:])
	}
}

// reserved returns tx's unused reserved numbers, lowest first.
func reserved(tx *store.Tx) []int64 {
	v, _ := tx.Recall(reservedKey{})
	nums, _ := v.([]int64)
	return nums
}

// nextNumber returns the number of the next event tx writes on PostgreSQL
// (its lowest reserved one, else a new one from the sequence) and tx's id.
func nextNumber(ctx context.Context, tx *store.Tx) (int64, string, error) {
	if nums := reserved(tx); len(nums) > 0 {
		tx.Remember(reservedKey{}, nums[1:])
		return nums[0], txID(tx), nil
	}
	nums, err := takeNumbers(ctx, tx, 1)
	if err != nil {
		return 0, "", err
	}
	return nums[0], txID(tx), nil
}

// txID is tx's id as takeNumbers read it.
func txID(tx *store.Tx) string {
	v, _ := tx.Recall(xidKey{})
	id, _ := v.(string)
	return id
}

// takeNumbers takes n numbers from audit_seq in one statement, lowest
// first, and remembers the transaction's id (txID), which the same
// statement reads. The transaction gets its id before any number, so the sealer can
// tell a number still held by a running transaction from one that will
// never commit (seal.go): the filter that assigns the id refers to no row,
// so PostgreSQL plans it as a one-time filter, run before the first row is
// produced and so before any nextval in the select list.
func takeNumbers(ctx context.Context, tx *store.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval('audit_seq'), s.x::text FROM (SELECT pg_current_xact_id() AS x) s CROSS JOIN generate_series(1, ?) WHERE s.x IS NOT NULL`, n)
	if err != nil {
		return nil, fmt.Errorf("audit: take %d sequence numbers: %w", n, err)
	}
	defer rows.Close()
	nums := make([]int64, 0, n)
	var xid string
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq, &xid); err != nil {
			return nil, fmt.Errorf("audit: take %d sequence numbers: %w", n, err)
		}
		nums = append(nums, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: take %d sequence numbers: %w", n, err)
	}
	if len(nums) != n {
		return nil, fmt.Errorf("audit: took %d sequence numbers, want %d", len(nums), n)
	}
	slices.Sort(nums)
	tx.Remember(xidKey{}, xid)
	return nums, nil
}
