package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/store"
)

// Action names what an audited write did ("order.approved"). Each domain
// package declares its actions as constants next to the code that performs
// them; the audit trail stores the string.
type Action string

// Table is a typed handle on one audited table whose rows decode into T.
// The package that owns the table creates its handle (unexported, in its
// store type) and every audited read and write of the table goes through
// it: no table names or actions as loose strings at call sites, and no
// other package can reach the table without asking its owner.
type Table[T any] struct {
	rec  *Recorder
	name string
	err  error // the table is not an audited table of the schema
}

// TableOf returns the handle of table name. A name that is not an audited
// table of the schema makes every call on the handle fail with that error
// (a programming error that the owning package's tests catch at once).
func TableOf[T any](rec *Recorder, name string) *Table[T] {
	if rec == nil {
		return &Table[T]{name: name, err: fmt.Errorf("audit: table %s: no recorder", name)}
	}
	_, err := rec.table(name)
	return &Table[T]{rec: rec, name: name, err: err}
}

// Name is the table's name.
func (t *Table[T]) Name() string { return t.name }

// Insert writes v as a new row and appends an insert event.
func (t *Table[T]) Insert(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, v T) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.insert(ctx, tx, by.String(), string(action), t.name, v)
}

// Update replaces the row whose id is v's id with v, after the fail-closed
// check of the current row, and appends an update event.
func (t *Table[T]) Update(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, v T) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.update(ctx, tx, by.String(), string(action), t.name, v)
}

// UpdateColumns is Update for a row given as column values (every column
// but row_hash), for tables whose Go type does not carry every column.
func (t *Table[T]) UpdateColumns(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, raw map[string]any) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.updateRow(ctx, tx, by.String(), string(action), t.name, raw)
}

// Delete removes a vouched-for row and appends a delete event.
func (t *Table[T]) Delete(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, id string) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.delete(ctx, tx, by.String(), string(action), t.name, id)
}

// Get reads the row with the given id into dst after the integrity check:
// not found (apperr) when there is none, an integrity error naming the
// table, row and field when it was changed or deleted outside vetca.
func (t *Table[T]) Get(ctx context.Context, q store.Querier, id string, dst *T) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.get(ctx, q, t.name, id, dst)
}

// Lock is Get that also locks the row until the transaction ends.
func (t *Table[T]) Lock(ctx context.Context, tx *store.Tx, id string, dst *T) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.lock(ctx, tx, t.name, id, dst)
}

// Check checks the row with the given id without decoding it.
func (t *Table[T]) Check(ctx context.Context, q store.Querier, id string) error {
	if t.err != nil {
		return t.err
	}
	return t.rec.check(ctx, q, t.name, id)
}

// Select reads whole rows, each integrity-checked: clause is what follows
// "SELECT * FROM table" (WHERE, ORDER BY, LIMIT; may be empty).
func (t *Table[T]) Select(ctx context.Context, q store.Querier, clause string, args ...any) ([]T, error) {
	if t.err != nil {
		return nil, t.err
	}
	if clause = strings.TrimSpace(clause); clause != "" {
		clause = " " + clause
	}
	return selectRows[T](ctx, t.rec, q, t.name, clause, args...)
}

// InsertOrder is an ORDER BY term for Select that puts the table's rows in
// the order they were inserted: by the number of the event that inserted
// each. Times are stored to the second, so rows written within one second
// (the steps of one run, a timeline) otherwise tie. It only orders: every
// row is still integrity-checked as it is read.
func (t *Table[T]) InsertOrder() string {
	return `(SELECT MIN(e.seq) FROM audit_events e WHERE e.entity_type = '` + t.name + `' AND e.entity_id = t.id)`
}

// InsertedAt is when the row with the given id was inserted: the time of
// the event that inserted it, which later updates of the row leave as it
// was; false when the trail has no such event. It is a time to report, not
// a check of the row (audit verify checks the event).
func (t *Table[T]) InsertedAt(ctx context.Context, q store.Querier, id string) (time.Time, bool, error) {
	if t.err != nil {
		return time.Time{}, false, t.err
	}
	var at sql.NullString
	if err := q.QueryRow(ctx, `SELECT MIN(at) FROM audit_events WHERE entity_type = ? AND entity_id = ? AND op = ?`,
		t.name, id, OpInsert).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("audit: insertion of %s %s: %w", t.name, id, err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	ts, err := store.ParseTime(at.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("audit: insertion of %s %s: %w", t.name, id, err)
	}
	return ts, true, nil
}

// NewestFirst reads one page of the rows matching w, newest first by
// (created_at, id), each integrity-checked as by Select, and the cursor of
// the next page ("" after the last). created gives a row's created_at and
// id.
func (t *Table[T]) NewestFirst(ctx context.Context, q store.Querier, w store.Where, p store.Page, created func(T) (time.Time, string)) ([]T, string, error) {
	tail, err := store.Keyset{Cols: []string{"created_at", "id"}, Desc: true}.Apply(&w, p)
	if err != nil {
		return nil, "", err
	}
	rows, err := t.Select(ctx, q, w.Clause()+tail, w.Args()...)
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Finish(rows, p, func(v T) []string {
		at, id := created(v)
		return []string{store.FormatTime(at), id}
	})
	return rows, next, nil
}

// First is Select for at most one row: the row and whether there was one.
func (t *Table[T]) First(ctx context.Context, q store.Querier, clause string, args ...any) (T, bool, error) {
	rs, err := t.Select(ctx, q, clause, args...)
	if err != nil || len(rs) == 0 {
		var zero T
		return zero, false, err
	}
	if len(rs) > 1 {
		var zero T
		return zero, false, fmt.Errorf("audit: %s: %d rows where at most one was expected", t.name, len(rs))
	}
	return rs[0], true, nil
}

// Note appends an event that records a fact about an entity (of any kind,
// named by its type and id) without changing a row, such as a refused
// finalization or a summary of failed sign-ins. details is stored as JSON.
func (r *Recorder) Note(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, entityType, entityID string, details any) error {
	return r.note(ctx, tx, by.String(), string(action), entityType, entityID, details)
}
