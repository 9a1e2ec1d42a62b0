package audit

import (
	"context"
	"fmt"
	"maps"

	"github.com/vetca/vetca/internal/store"
)

// What a write transaction already knows need not be read again inside it
// (docs/architecture.md, "Performance"). Two facts are kept in the
// transaction's memo (store.Tx.Remember), and die with it:
//
//   - the rows it holds: read with their integrity checked while it held
//     them (PostgreSQL SELECT ... FOR UPDATE; any read in a SQLite write
//     transaction, which holds the database's one write lock from BEGIN),
//     or written by it through this package. Nobody else can change such a
//     row before the transaction ends, so an update or delete of it needs
//     no second integrity check, and a second read of one it read returns
//     what the first read returned. A row it wrote is known to be held but
//     not its stored form, so a read of it still goes to the database;
//   - on SQLite, the chain tip its own last event left, so the next event
//     it appends does not read it back.

// heldKey names one row in a transaction's memo.
type heldKey struct{ table, id string }

// seenKey names a row the transaction read without holding it (a
// PostgreSQL read without FOR UPDATE); the memo keeps the row_hash it read
// first.
type seenKey struct{ table, id string }

// noteSeen remembers the row_hash of a row tx read without holding it,
// unless it already read that row.
func noteSeen(tx *store.Tx, table, id string, row store.Row) {
	k := seenKey{table, id}
	if _, ok := tx.Recall(k); ok {
		return
	}
	h, _ := row["row_hash"].(string)
	tx.Remember(k, h)
}

// chainTipKey is the memo key of the SQLite chain tip.
type chainTipKey struct{}

type chainTipValue struct {
	seq  int64
	hash string
}

// heldRow returns a copy of the row the transaction read while holding it,
// if it did.
func heldRow(tx *store.Tx, table, id string) (store.Row, bool) {
	v, ok := tx.Recall(heldKey{table, id})
	if !ok {
		return nil, false
	}
	row, _ := v.(store.Row)
	if row == nil {
		return nil, false // held, but written here: its stored form is read
	}
	return maps.Clone(row), true
}

// holdRead remembers a row the transaction read, checked, while holding it.
func holdRead(tx *store.Tx, table, id string, row store.Row) {
	tx.Remember(heldKey{table, id}, maps.Clone(row))
}

// holdWritten records what e, just written in tx, changed: a row it
// inserted or updated is held (by its row lock on PostgreSQL, by the write
// lock on SQLite), and a row it deleted is gone.
func holdWritten(tx *store.Tx, e *Event) {
	k := heldKey{e.EntityType, e.EntityID}
	switch e.Op {
	case OpInsert, OpUpdate:
		tx.Remember(k, store.Row(nil))
	case OpDelete:
		tx.Forget(k)
	}
}

// hold makes sure tx holds the row of t with the given id and that the row
// is what the audit trail vouches for, before tx overwrites or deletes it:
// from the memo when tx already holds it, else by a locking, checked read.
//
// If tx read the row earlier without holding it and another transaction
// has changed it since, the write was decided from what the row was and
// would undo that change (a lost update: two edits of a contact at once,
// each keeping the other's field as it was). hold then refuses with
// store.ErrConcurrentUpdate, and store.DB.InTx runs the transaction again
// from a fresh read.
func (r *Recorder) hold(ctx context.Context, tx *store.Tx, t *store.Table, id string) error {
	if _, ok := tx.Recall(heldKey{t.Name, id}); ok {
		return nil
	}
	row, err := r.load(ctx, tx, t, id, true)
	if err != nil {
		return err
	}
	if read, ok := tx.Recall(seenKey{t.Name, id}); ok && read != row["row_hash"] {
		return fmt.Errorf("audit: %s %s changed since this transaction read it: %w", t.Name, id, store.ErrConcurrentUpdate)
	}
	return nil
}

// chainTip returns the SQLite chain tip the next event extends: what this
// transaction's last event left, or else the last event in the table.
func chainTip(ctx context.Context, tx *store.Tx) (int64, string, error) {
	if v, ok := tx.Recall(chainTipKey{}); ok {
		tip := v.(chainTipValue)
		return tip.seq, tip.hash, nil
	}
	return readHeadEvent(ctx, tx)
}
