package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// Vouched returns the content the audit trail last vouched for a row:
// exists is false when the latest event deleted it, recorded is false when
// no event recorded it. The latest event must be authentic: content from an
// event written without the audit key, nor one of a write that rolled
// back (put back outside vetca, not yet removed by the sealer), is never
// returned.
func (r *Recorder) Vouched(ctx context.Context, q store.Querier, table, id string) (row store.Row, exists bool, recorded bool, err error) {
	t, err := r.table(table)
	if err != nil {
		return nil, false, false, err
	}
	e, writer, found, err := latestEvent(ctx, q, table, id)
	if err != nil || !found {
		return nil, false, false, err
	}
	if !e.VerifySignature(r.pub) {
		return nil, false, true, apperr.Integrity(table, id, "audit event %d, the latest for this row, was not written with the installation's audit key; its content cannot be trusted", e.Seq)
	}
	if putBack(writer, e.Xid) {
		return nil, false, true, uncommitted(table, id, e.Seq, e.Xid, writer)
	}
	if e.Op == OpDelete {
		return nil, false, true, nil
	}
	content := ""
	if e.Content != nil {
		content = *e.Content
	}
	if RowHash(table, content) != e.RowHash {
		return nil, false, true, apperr.Integrity(table, id, "audit event %d's content does not match its row hash", e.Seq)
	}
	row, err = decodeContent(t, content)
	return row, true, true, err
}

// latestEvent reads the latest row event of table's row id, with the
// writer of its row while it is unsealed (unsealedWriter).
func latestEvent(ctx context.Context, q store.Querier, table, id string) (e Event, writer string, found bool, err error) {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+`, `+unsealedWriter(q.Dialect())+` FROM audit_events e WHERE entity_type = ? AND entity_id = ? AND op <> 'note' ORDER BY seq DESC LIMIT 1`, table, id)
	if err != nil {
		return Event{}, "", false, readFailed(err, "read latest event for %s %s", table, id)
	}
	defer rows.Close()
	if rows.Next() {
		if e, err = scanEvent(rows, &writer); err != nil {
			return Event{}, "", false, fmt.Errorf("read latest event for %s %s: %w", table, id, err)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return Event{}, "", false, fmt.Errorf("read latest event for %s %s: %w", table, id, err)
	}
	return e, writer, found, nil
}

// decodeContent turns an event's canonical JSON back into a typed row.
func decodeContent(t *store.Table, content string) (store.Row, error) {
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("audit content of %s: %w", t.Name, err)
	}
	row := store.Row{}
	for col, v := range m {
		k, ok := t.Kind(col)
		if !ok {
			return nil, fmt.Errorf("audit content of %s names unknown column %s", t.Name, col)
		}
		switch x := v.(type) {
		case nil:
			row[col] = nil
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return nil, fmt.Errorf("audit content of %s.%s: %w", t.Name, col, err)
			}
			row[col] = n
		case string:
			if k == store.KindBlob {
				b, err := base64.StdEncoding.DecodeString(x)
				if err != nil {
					return nil, fmt.Errorf("audit content of %s.%s: %w", t.Name, col, err)
				}
				row[col] = b
			} else {
				row[col] = x
			}
		default:
			return nil, fmt.Errorf("audit content of %s.%s: unexpected %T", t.Name, col, v)
		}
	}
	return row, nil
}

// Restore puts a row back to the state its latest event vouches for: it
// rewrites a row changed outside vetca, re-inserts a row deleted outside
// vetca, and deletes a row inserted outside vetca (or re-inserted after its
// recorded deletion). It appends an event for what it did. It is the only
// write that does not first require the current row to be intact, and
// vetca calls it only to apply an approved change request. It returns what
// it did: "rewritten", "reinserted", "deleted" or "" when the row was
// already intact.
func (r *Recorder) Restore(ctx context.Context, tx *store.Tx, actor, action, table, id string) (string, error) {
	t, err := r.table(table)
	if err != nil {
		return "", err
	}
	vouched, exists, _, err := r.Vouched(ctx, tx, table, id)
	if err != nil {
		return "", err
	}
	if _, err := r.load(ctx, tx, t, id, true); err == nil {
		return "", nil
	} else if !apperr.IsKind(err, apperr.KindNotFound) && !apperr.IsKind(err, apperr.KindIntegrity) {
		return "", err
	}
	// Whether the row is there is asked on its own: a row edited and a row
	// deleted outside vetca fail the judged read alike, and only the
	// first can be rewritten in place.
	present, err := r.RowPresent(ctx, tx, table, id)
	if err != nil {
		return "", err
	}
	switch {
	case !exists && !present:
		return "", nil
	case !exists:
		return "deleted", r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpDelete, EntityType: table, EntityID: id}, "DELETE FROM "+table+" WHERE id = ?", id)
	}
	content, err := canonical(vouched)
	if err != nil {
		return "", err
	}
	hash := RowHash(table, content)
	cols, args := columnValues(t, vouched, hash)
	did := "reinserted"
	q := insertSQL(table, cols)
	if present {
		// UPDATE in place, so rows referring to this one stay valid.
		did = "rewritten"
		sets := make([]string, len(cols))
		for i, c := range cols {
			sets[i] = c + " = ?"
		}
		q, args = "UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, id)
	}
	return did, r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpUpdate, EntityType: table, EntityID: id, Content: &content, RowHash: hash}, q, args...)
}

// The rest of this file is the corrective path of change requests, which
// act on any audited table by name under dual control: the only place
// where a table is chosen at run time rather than through its owner's
// typed handle.

// CheckRow checks the row of table with the given id against the trail.
func (r *Recorder) CheckRow(ctx context.Context, q store.Querier, table, id string) error {
	return r.check(ctx, q, table, id)
}

// RowPresent reports whether table has a row with the given id, without
// judging it (a row the trail never recorded can still be restored away).
func (r *Recorder) RowPresent(ctx context.Context, q store.Querier, table, id string) (bool, error) {
	t, err := r.table(table)
	if err != nil {
		return false, err
	}
	var n int
	if err := q.QueryRow(ctx, "SELECT COUNT(*) FROM "+t.Name+" WHERE id = ?", id).Scan(&n); err != nil {
		return false, fmt.Errorf("read %s %s: %w", table, id, err)
	}
	return n > 0, nil
}

// Amend locks the row of table with the given id after the integrity
// check, lets set change its column values, and writes it back with an
// update event.
func (r *Recorder) Amend(ctx context.Context, tx *store.Tx, by actor.Actor, action Action, table, id string, set func(t *store.Table, row map[string]any) error) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, err := r.load(ctx, tx, t, id, true)
	if err != nil {
		return err
	}
	m := map[string]any(row)
	delete(m, "row_hash")
	if err := set(t, m); err != nil {
		return err
	}
	return r.updateRow(ctx, tx, by.String(), string(action), table, m)
}
