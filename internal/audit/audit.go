// Package audit is vetca's tamper-evident audit trail (docs/design.md, "The
// audit trail"; BR §5.4.1).
//
// Every table with an id and a row_hash column is audited. Domain services
// change such tables only through a Recorder, which, inside the caller's
// transaction, writes the row with its content hash and appends an event
// holding the row's new content. Each event is signed with the
// installation's audit key, which lives in the key directory or an HSM and
// never in the database, and events form a hash chain.
//
// The latest event for a row vouches for the row's content. Reads for
// decisions (Recorder.Get, Select) check, in the same statement that reads
// the row, that the row is exactly what its latest event vouches for and
// that the event's signature verifies under the pinned public key; they
// fail closed with an error naming the table, row and field. So a row edited
// by SQL is refused, and so is a row edited together with a recomputed row
// hash and a well-chained event: without the key, the event's signature
// cannot be made.
//
// Verify walks the whole trail: every signature, the chain, the sequence
// (a deleted event leaves a gap in signed sequence numbers), every audited
// row, and the signed checkpoints that `serve` writes outside the database,
// which catch a chain truncated or rebuilt from scratch.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// Recorder performs audited writes and integrity-checked reads.
type Recorder struct {
	schema *store.Schema
	clock  clock.Clock
	key    *Key       // signs events; nil in a process that may not write
	pub    *PublicKey // the pinned public key every read is checked against
	// verdicts remembers rows judged authentic, by their exact bytes.
	verdicts *verdictCache
}

// NewRecorder returns a Recorder for a migrated database's schema. pub is
// the installation's pinned audit public key; key, the private audit key,
// is nil in a process that only reads (every audited write then fails with
// ErrNoAuditKey). A key that is not pub's private half is refused.
func NewRecorder(schema *store.Schema, clk clock.Clock, pub *PublicKey, key *Key) (*Recorder, error) {
	if pub == nil && key != nil {
		pub = key.Public()
	}
	if pub == nil {
		return nil, errors.New("audit: no audit public key: reads cannot be checked")
	}
	if key != nil && !key.Public().Equal(pub) {
		return nil, fmt.Errorf("audit key %s (key id %s) is not the installation's pinned audit key (key id %s)", key.URI(), key.Public().ID(), pub.ID())
	}
	if key != nil {
		// The same key: check reads against the key's own PublicKey, whose
		// cache already holds every signature this process made, so a row
		// written here is not verified again when read back.
		pub = key.Public()
	}
	return &Recorder{schema: schema, clock: clk, key: key, pub: pub, verdicts: newVerdictCache()}, nil
}

// Schema returns the schema the recorder was built with.
func (r *Recorder) Schema() *store.Schema { return r.schema }

// PublicKey returns the pinned audit public key.
func (r *Recorder) PublicKey() *PublicKey { return r.pub }

// Key returns the private audit key, or nil in a read-only process.
func (r *Recorder) Key() *Key { return r.key }

// CanWrite reports whether the recorder holds the audit key.
func (r *Recorder) CanWrite() error {
	if r.key == nil {
		return ErrNoAuditKey
	}
	return nil
}

// table returns an audited table or an error.
func (r *Recorder) table(name string) (*store.Table, error) {
	t, ok := r.schema.Table(name)
	if !ok || !store.ValidIdent(name) {
		return nil, fmt.Errorf("audit: unknown table %q", name)
	}
	if !IsAudited(t) {
		return nil, fmt.Errorf("audit: table %s is not audited (needs id and row_hash)", name)
	}
	return t, nil
}

// IsAudited reports whether a table is audited: it has an id and a
// row_hash column. (audit_events has a row_hash but no id: it is the trail,
// not a table the trail vouches for.)
func IsAudited(t *store.Table) bool { return t.Audited() }

// canonical renders a row (without row_hash) as canonical JSON: sorted
// keys, integers as numbers, text as strings, blobs as base64 strings.
func canonical(row store.Row) (string, error) {
	m := make(map[string]any, len(row))
	for k, v := range row {
		if k == "row_hash" {
			continue
		}
		if b, ok := v.([]byte); ok {
			m[k] = base64.StdEncoding.EncodeToString(b)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// CanonicalRow is the canonical JSON content of a row, as events hold it.
func CanonicalRow(row store.Row) (string, error) { return canonical(row) }

// RowHash is the content hash of a row of table: SHA-256 over a domain
// separator, the table name and the canonical JSON of its columns.
func RowHash(table, canonicalJSON string) string {
	h := sha256.New()
	h.Write([]byte("vetca-row-v1\n"))
	h.Write([]byte(table))
	h.Write([]byte{'\n'})
	h.Write([]byte(canonicalJSON))
	return hex.EncodeToString(h.Sum(nil))
}

// append adds an event to the trail inside tx, after executing the row
// write stmt (if any) in the same transaction. The event is signed with the
// audit key before it is written.
//
// On SQLite, whose one writer holds the database for the whole
// transaction, the event is chained at once: it takes the next sequence
// number after the last event and links to it. The last event is the
// chain head; no head row is written, so an audited write costs one
// B-tree page fewer (each page is a WAL frame at commit). On PostgreSQL nothing is
// locked: the event takes its number from the sequence audit_seq, and the
// row write and the event travel as one statement (data-modifying CTEs);
// the Sealer chains the committed events in order shortly after (seal.go).
func (r *Recorder) append(ctx context.Context, tx *store.Tx, e *Event, stmt string, args ...any) error {
	if r.key == nil {
		return ErrNoAuditKey
	}
	pg := tx.Dialect() == store.Postgres
	if pg {
		seq, xid, err := nextNumber(ctx, tx)
		if err != nil {
			return err
		}
		e.Seq, e.Xid = seq, xid
	} else {
		seq, prev, err := chainTip(ctx, tx)
		if err != nil {
			return fmt.Errorf("audit: read chain head: %w", err)
		}
		e.Seq, e.PrevHash = seq+1, prev
	}
	e.At = r.clock.Now().UTC().Truncate(time.Second)
	// The fields, and so the content's digest, are computed once.
	fields := eventFields(e)
	e.FieldHashes = fieldHashesOf(fields)
	digest := digestOf(e.Seq, fields)
	if err := e.signDigest(r.key, digest); err != nil {
		return err
	}
	if pg {
		// Unchained (prev_hash and hash empty) until sealed.
		q, all := insertEventSQL, e.insertArgs()
		if stmt != "" {
			q = "WITH w AS (" + stmt + " RETURNING 1) " + insertEventSQL
			all = append(append([]any(nil), args...), all...)
		}
		if _, err := tx.Exec(ctx, q, all...); err != nil {
			return fmt.Errorf("audit: write %s %s with its event: %w", e.EntityType, e.EntityID, err)
		}
		holdWritten(tx, e)
		return nil
	}
	e.Hash = chainHash(e.PrevHash, digest)
	if stmt != "" {
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("audit: write %s %s: %w", e.EntityType, e.EntityID, err)
		}
	}
	if _, err := tx.Exec(ctx, insertEventSQL, e.insertArgs()...); err != nil {
		return fmt.Errorf("audit: append event: %w", err)
	}
	tx.Remember(chainTipKey{}, chainTipValue{seq: e.Seq, hash: e.Hash})
	holdWritten(tx, e)
	return nil
}

// insertEventSQL writes one event; insertArgs are its values.
const insertEventSQL = `INSERT INTO audit_events (` + eventColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertArgs are e's values for insertEventSQL, in eventColumns order.
func (e *Event) insertArgs() []any {
	return []any{e.Seq, store.FormatTime(e.At), e.Actor, e.Action, e.Op, e.EntityType, e.EntityID, e.Content, e.RowHash, e.FieldHashes, e.PrevHash, e.Hash, e.KeyID, e.Sig, e.Xid}
}

// prepare encodes v for table, returning the normalized row, its canonical
// content and its hash.
func (r *Recorder) prepare(t *store.Table, v any) (store.Row, string, string, error) {
	raw, err := store.Encode(v)
	if err != nil {
		return nil, "", "", fmt.Errorf("audit: %s: %w", t.Name, err)
	}
	return r.prepareRow(t, raw)
}

func (r *Recorder) prepareRow(t *store.Table, raw map[string]any) (store.Row, string, string, error) {
	raw = maps.Clone(raw)
	delete(raw, "row_hash")
	for _, c := range t.Columns {
		if _, ok := raw[c.Name]; !ok && c.Name != "row_hash" {
			return nil, "", "", fmt.Errorf("audit: %s: value has no field for column %s", t.Name, c.Name)
		}
	}
	row, err := t.Normalize(raw)
	if err != nil {
		return nil, "", "", fmt.Errorf("audit: %w", err)
	}
	id, ok := row["id"].(string)
	if !ok || id == "" {
		return nil, "", "", fmt.Errorf("audit: %s: row has no id", t.Name)
	}
	content, err := canonical(row)
	if err != nil {
		return nil, "", "", fmt.Errorf("audit: %s: %w", t.Name, err)
	}
	return row, content, RowHash(t.Name, content), nil
}

// insert writes v (a struct with db tags covering every column but
// row_hash) as a new row of table and appends an insert event.
func (r *Recorder) insert(ctx context.Context, tx *store.Tx, actor, action, table string, v any) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, content, hash, err := r.prepare(t, v)
	if err != nil {
		return err
	}
	cols, args := columnValues(t, row, hash)
	return r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpInsert, EntityType: table, EntityID: row["id"].(string), Content: &content, RowHash: hash}, insertSQL(table, cols), args...)
}

// columnValues lists t's columns in table order with row_hash last, and
// their values: row's, then hash.
func columnValues(t *store.Table, row store.Row, hash string) ([]string, []any) {
	cols := make([]string, 0, len(t.Columns))
	args := make([]any, 0, len(t.Columns))
	for _, c := range t.Columns {
		if c.Name == "row_hash" {
			continue
		}
		cols = append(cols, c.Name)
		args = append(args, row[c.Name])
	}
	return append(cols, "row_hash"), append(args, hash)
}

// insertSQL is the INSERT of one row of table with the given columns.
func insertSQL(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
}

// update replaces the row of table whose id is v's id with v, after
// checking (fail closed) that the current row is the one the audit trail
// vouches for, so an out-of-band edit can never be laundered by a later
// legitimate update. It appends an update event.
func (r *Recorder) update(ctx context.Context, tx *store.Tx, actor, action, table string, v any) error {
	raw, err := store.Encode(v)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", table, err)
	}
	return r.updateRow(ctx, tx, actor, action, table, raw)
}

// updateRow is update for a row given as column values (every column but
// row_hash).
func (r *Recorder) updateRow(ctx context.Context, tx *store.Tx, actor, action, table string, raw map[string]any) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, content, hash, err := r.prepareRow(t, raw)
	if err != nil {
		return err
	}
	id := row["id"].(string)
	if err := r.hold(ctx, tx, t, id); err != nil {
		return err
	}
	sets := make([]string, 0, len(row))
	args := make([]any, 0, len(row)+1)
	for _, c := range t.Columns {
		if c.Name == "row_hash" || c.Name == "id" {
			continue
		}
		sets = append(sets, c.Name+" = ?")
		args = append(args, row[c.Name])
	}
	sets = append(sets, "row_hash = ?")
	args = append(args, hash, id)
	return r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpUpdate, EntityType: table, EntityID: id, Content: &content, RowHash: hash},
		"UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = ?", args...)
}

// check reads the row of table with the given id and checks it is what
// the audit trail vouches for, without decoding it.
func (r *Recorder) check(ctx context.Context, q store.Querier, table, id string) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	_, err = r.load(ctx, q, t, id, false)
	return err
}

// delete removes a vouched-for row and appends a delete event.
func (r *Recorder) delete(ctx context.Context, tx *store.Tx, actor, action, table, id string) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	if err := r.hold(ctx, tx, t, id); err != nil {
		return err
	}
	return r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpDelete, EntityType: table, EntityID: id}, "DELETE FROM "+table+" WHERE id = ?", id)
}

// note appends an event that records a fact without changing a row, such as
// a refused finalization or a sign-in. details is stored as JSON content.
func (r *Recorder) note(ctx context.Context, tx *store.Tx, actor, action, entityType, entityID string, details any) error {
	var content *string
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("audit: note details: %w", err)
		}
		s := string(b)
		content = &s
	}
	return r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpNote, EntityType: entityType, EntityID: entityID, Content: content}, "")
}

// get reads the row of table with the given id into dst, after checking
// that it is exactly what the audit trail vouches for. It returns an
// apperr not-found error naming field when there is no such row, and an
// apperr integrity error naming the table, row and field when the row was
// changed outside vetca.
func (r *Recorder) get(ctx context.Context, q store.Querier, table, id string, dst any) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, err := r.load(ctx, q, t, id, false)
	if err != nil {
		return err
	}
	return store.Decode(row, dst)
}

// selectRows reads whole rows of table, "SELECT * FROM table" followed by
// rest (empty, or starting with a space), and decodes each row into a T
// after the same integrity check as get. Each row is read together with the
// latest event that vouches for it, in the same statement.
func selectRows[T any](ctx context.Context, r *Recorder, q store.Querier, table, rest string, args ...any) ([]T, error) {
	t, err := r.table(table)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT t.*, "+vouchColumn(q.Dialect(), table)+" FROM "+table+" t"+rest, args...)
	if err != nil {
		return nil, readFailed(err, "select %s", table)
	}
	maps, err := store.ScanMaps(rows)
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", table, err)
	}
	out := make([]T, 0, len(maps))
	for _, m := range maps {
		row, err := r.vouchedRow(ctx, q, t, m)
		if err != nil {
			return nil, err
		}
		if tx, ok := q.(*store.Tx); ok {
			if id, ok := row["id"].(string); ok {
				if tx.HoldsWhatItReads() {
					holdRead(tx, table, id, row)
				} else {
					noteSeen(tx, table, id, row)
				}
			}
		}
		var v T
		if err := store.Decode(row, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// vouchColumn is added to integrity-checked reads: the fields of the row's
// latest event that its signature covers (all but the content, which must
// equal the row itself), joined by "|" with the free-text fields last. It is
// read in the same statement as the row, so both come from one snapshot
// even while other transactions update the row. The table name is a
// validated identifier.
//
// On PostgreSQL it also carries, for an event not sealed yet, the id of
// the transaction that wrote the event's row (xmin): judge requires it to
// be the one the event was signed with (Event.Xid), so an event of a
// transaction that rolled back, inserted afterwards, vouches for nothing
// even before the sealer finds it. Sealing rewrites the row, so a sealed
// event's xmin is the sealer's; the sealer has checked it by then.
func vouchColumn(d store.Dialect, table string) string {
	return `(SELECT e.seq || '|' || e.at || '|' || e.op || '|' || e.row_hash || '|' || e.key_id || '|' || e.sig || '|' || e.xid || '|' || ` + unsealedWriter(d) + ` || '|' || e.action || '|' || e.actor
		FROM audit_events e WHERE e.entity_type = '` + table + `' AND e.entity_id = t.id AND e.op <> 'note' ORDER BY e.seq DESC LIMIT 1) AS vetca_vouch`
}

// unsealedWriter is an expression for the event e: on PostgreSQL, while
// e is not sealed, the id of the transaction that wrote its row (xmin),
// unless that check is not needed (writerSQL); otherwise empty.
func unsealedWriter(d store.Dialect) string {
	if d != store.Postgres {
		return `''`
	}
	return `CASE WHEN e.hash = '' OR e.seq > (SELECT h.seq FROM audit_head h WHERE h.id = 1) THEN ` + writerSQL("e.") + ` ELSE '' END`
}

// writerSQL is a PostgreSQL expression for the event whose columns are
// named with prefix: the id of the transaction that wrote its row (xmin),
// which must then be the one the event was signed in (writtenBy); or empty
// when the event needs no such check: it has no transaction id, or its
// transaction is known to have committed. A committed event's row may have
// been written again by another transaction (a logical restore, pg_dump
// and pg_restore, of a database with events not sealed yet): it is the
// event of a write that happened all the same. A rolled-back transaction's
// status stays "aborted" as long as its number can be unsealed (a running
// transaction holding the seal point also holds back the truncation of
// the status log), so its event put back is still checked. An id from
// beyond this server's transactions (a copy from another server) has no
// status here and counts as committed: a copy holds only committed rows.
// So does one too old for the server to know its status any more: a
// rolled-back transaction's number is sealed as a gap within moments, so
// an event of one cannot be put back at its number that much later. An
// id that is not a number is checked, and fails (writtenBy).
func writerSQL(prefix string) string {
	x := prefix + `xid`
	return `CASE WHEN ` + x + ` = '' THEN ''
		WHEN ` + x + ` !~ '^[0-9]{1,19}$' THEN ` + prefix + `xmin::text
		WHEN ` + x + `::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) THEN ''
		WHEN COALESCE(pg_xact_status(` + x + `::xid8), 'committed') = 'committed' THEN ''
		ELSE ` + prefix + `xmin::text END`
}

// readFailed wraps the error of an integrity-checked read. The read takes
// the writer (xmin) of an unsealed event from audit_events; a relation put
// in the table's place outside vetca (a view) has none, and the read fails
// closed with an integrity error that says so, which verify also reports.
func readFailed(err error, format string, args ...any) error {
	if store.IsNoSuchColumn(err, "xmin") {
		return apperr.Integrity("audit_events", "", "audit_events is not a table (its rows have no xmin): a view or another relation was put in its place outside vetca")
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// uncommitted is the integrity error for a row whose latest event, number
// seq, was signed in transaction xid but written by transaction writer.
func uncommitted(table, id string, seq int64, xid, writer string) error {
	return apperr.Integrity(table, id, "audit event %d, the latest for this row, was signed in transaction %s but written by transaction %s: the event of a write that rolled back was inserted outside vetca", seq, xid, writer)
}

// vouch is the part of a row's latest event read with it.
type vouch struct {
	seq     int64
	at      time.Time
	op      string
	rowHash string
	keyID   string
	sig     string
	xid     string
	writer  string // the unsealed event row's xmin (PostgreSQL), else empty
	action  string
	actor   string
}

// parseVouch splits vouchColumn's value. A value that does not parse (an
// event edited outside vetca) yields ok == false.
func parseVouch(s string) (vouch, bool) {
	p := strings.SplitN(s, "|", 10)
	if len(p) != 10 {
		return vouch{}, false
	}
	seq, err := strconv.ParseInt(p[0], 10, 64)
	if err != nil {
		return vouch{}, false
	}
	at, err := store.ParseTime(p[1])
	if err != nil {
		return vouch{}, false
	}
	return vouch{seq: seq, at: at, op: p[2], rowHash: p[3], keyID: p[4], sig: p[5], xid: p[6], writer: p[7], action: p[8], actor: p[9]}, true
}

// putBack reports whether an event signed in transaction xid, whose row
// was written by transaction writer (empty when no check is needed,
// writerSQL), is the event of a write that rolled back, put back outside
// vetca: its row was written by another transaction.
func putBack(writer, xid string) bool {
	return writer != "" && xid != "" && !writtenBy(writer, xid)
}

// writtenBy reports whether a row whose xmin is writer was written by the
// transaction xid (pg_current_xact_id, the 64-bit id with its epoch; xmin
// is its low 32 bits). Either one unparseable is "no".
func writtenBy(writer, xid string) bool {
	x, err := strconv.ParseUint(xid, 10, 64)
	if err != nil {
		return false
	}
	w, err := strconv.ParseUint(writer, 10, 32)
	return err == nil && uint32(x) == uint32(w)
}

// load reads one row with its vouching event and judges it. With lock, the
// row is first locked in a statement of its own (PostgreSQL; SQLite's write
// transaction already holds the database): a locking read that waited for a
// concurrent update sees the updated row but would evaluate the vouching
// subquery in its original snapshot, a false alarm. The read after the lock
// starts a new snapshot that holds both the row and its event.
func (r *Recorder) load(ctx context.Context, q store.Querier, t *store.Table, id string, lock bool) (store.Row, error) {
	tx, isTx := q.(*store.Tx)
	if isTx {
		if row, ok := heldRow(tx, t.Name, id); ok {
			return row, nil
		}
		if lock && tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, "SELECT id FROM "+t.Name+" WHERE id = ? FOR UPDATE", id); err != nil {
				return nil, fmt.Errorf("lock %s %s: %w", t.Name, id, err)
			}
		}
	}
	rows, err := q.Query(ctx, "SELECT t.*, "+vouchColumn(q.Dialect(), t.Name)+" FROM "+t.Name+" t WHERE t.id = ?", id)
	if err != nil {
		return nil, readFailed(err, "read %s %s", t.Name, id)
	}
	maps, err := store.ScanMaps(rows)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t.Name, id, err)
	}
	if len(maps) == 0 {
		return nil, r.absent(ctx, q, t, id)
	}
	raw, _ := asString(maps[0]["vetca_vouch"])
	row, err := r.vouchedRow(ctx, q, t, maps[0])
	if err == nil && isTx {
		if v, ok := parseVouch(raw); ok && lock {
			dropReservedUpTo(tx, v.seq)
		}
		if lock || tx.HoldsWhatItReads() {
			holdRead(tx, t.Name, id, row)
		} else {
			noteSeen(tx, t.Name, id, row)
		}
	}
	return row, err
}

// absent is the error for a row that is not there: not found, unless the
// trail's latest authentic event for it says it exists — then it was
// deleted outside vetca, and the read fails closed.
//
// The event is read in a statement of its own, which outside a
// REPEATABLE READ transaction (PostgreSQL READ COMMITTED; SQLite reads
// outside a transaction) has a newer snapshot than the read that found no
// row: a row inserted by another transaction in between, with its insert
// event, would look deleted. So the same statement also asks whether the
// row is there now; if it is, the row was not deleted but inserted after
// the read, and not found is the answer for the moment of that read. An
// insider gains nothing from this: a row that is there is judged whenever
// it is read.
func (r *Recorder) absent(ctx context.Context, q store.Querier, t *store.Table, id string) error {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+`, EXISTS (SELECT 1 FROM `+t.Name+` WHERE id = ?) AS vetca_row_now, `+unsealedWriter(q.Dialect())+`
		FROM audit_events e WHERE entity_type = ? AND entity_id = ? AND op <> 'note' ORDER BY seq DESC LIMIT 1`, id, t.Name, id)
	if err != nil {
		return readFailed(err, "read latest event for %s %s", t.Name, id)
	}
	defer rows.Close()
	var e Event
	var rowNow bool
	var writer string
	found := rows.Next()
	if found {
		if e, err = scanEvent(rows, &rowNow, &writer); err != nil {
			return fmt.Errorf("read latest event for %s %s: %w", t.Name, id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read latest event for %s %s: %w", t.Name, id, err)
	}
	if found && !rowNow && !e.VerifySignature(r.pub) {
		// The row's latest event was edited (or forged): whether the row
		// should exist cannot be told, so the read fails closed rather
		// than answer "never existed" (a deleted revocation would read as
		// a certificate never revoked).
		return apperr.Integrity(t.Name, id, "audit event %d, the latest for this row, does not verify under the installation's audit key: it was edited outside vetca", e.Seq)
	}
	if found && !rowNow && putBack(writer, e.Xid) {
		// A delete that rolled back, put back with its event.
		return uncommitted(t.Name, id, e.Seq, e.Xid, writer)
	}
	if found && !rowNow && e.Op != OpDelete {
		return apperr.Integrity(t.Name, id, "audit event %d records this row, but it is gone: it was deleted outside vetca", e.Seq)
	}
	return apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "%s %s not found", strings.TrimSuffix(t.Name, "s"), id)
}

// lock locks the row of table with the given id until the transaction ends
// (PostgreSQL SELECT ... FOR UPDATE; SQLite's write transaction already
// holds the database) and returns it after the integrity check.
func (r *Recorder) lock(ctx context.Context, tx *store.Tx, table, id string, dst any) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, err := r.load(ctx, tx, t, id, true)
	if err != nil {
		return err
	}
	return store.Decode(row, dst)
}

// vouchedRow takes a row read with vouchColumn, separates the vouch from
// the row's own columns, and judges the row.
func (r *Recorder) vouchedRow(ctx context.Context, q store.Querier, t *store.Table, m map[string]any) (store.Row, error) {
	raw, hasEvent := asString(m["vetca_vouch"])
	delete(m, "vetca_vouch")
	key, cacheable := verdictKey(t, raw, m)
	cacheable = cacheable && hasEvent
	if cacheable {
		if row, ok := r.verdicts.get(key); ok {
			return maps.Clone(row), nil // callers may change their copy
		}
	}
	row, err := t.NormalizeStored(m)
	if ste := (*store.StoredTypeError)(nil); errors.As(err, &ste) {
		return nil, apperr.Integrity(t.Name, ste.ID, "%s", ste.Problem())
	} else if err != nil {
		return nil, err
	}
	if err := r.judge(ctx, q, t, row, raw, hasEvent); err != nil {
		return nil, err
	}
	if cacheable {
		r.verdicts.put(key, maps.Clone(row))
	}
	return row, nil
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// judge decides whether a row is exactly what its latest event vouches
// for, and whether that event was written by a holder of the audit key.
func (r *Recorder) judge(ctx context.Context, q store.Querier, t *store.Table, row store.Row, rawVouch string, hasEvent bool) error {
	id, _ := row["id"].(string)
	if !hasEvent {
		return apperr.Integrity(t.Name, id, "no audit event records this row; it was inserted outside vetca")
	}
	v, ok := parseVouch(rawVouch)
	if !ok {
		return apperr.Integrity(t.Name, id, "the audit event that vouches for this row is malformed; it was edited outside vetca")
	}
	if v.op == OpDelete {
		return apperr.Integrity(t.Name, id, "the audit trail records this row as deleted (event %d); it was re-inserted outside vetca", v.seq)
	}
	content, err := canonical(row)
	if err != nil {
		return err
	}
	computed := RowHash(t.Name, content)
	if computed != v.rowHash {
		var vouched sql.NullString
		if err := q.QueryRow(ctx, `SELECT content FROM audit_events WHERE seq = ?`, v.seq).Scan(&vouched); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit: read event %d: %w", v.seq, err)
		}
		fields := diffFields(vouched.String, content)
		return apperr.Integrity(t.Name, id, "field %s differs from the audited value (event %d); it was changed outside vetca", strings.Join(fields, ", "), v.seq)
	}
	if stored, _ := row["row_hash"].(string); stored != computed {
		return apperr.Integrity(t.Name, id, "field row_hash was changed outside vetca")
	}
	e := Event{Seq: v.seq, At: v.at, Actor: v.actor, Action: v.action, Op: v.op, EntityType: t.Name, EntityID: id,
		Content: &content, RowHash: v.rowHash, KeyID: v.keyID, Sig: v.sig, Xid: v.xid}
	if !e.VerifySignature(r.pub) {
		return apperr.Integrity(t.Name, id, "audit event %d, which vouches for this row, was not written with the installation's audit key (key id %s): the row and its event were forged outside vetca", v.seq, short(r.pub.ID()))
	}
	if putBack(v.writer, v.xid) {
		return uncommitted(t.Name, id, v.seq, v.xid, v.writer)
	}
	return nil
}

// diffFields names the columns whose values differ between two canonical
// JSON row contents.
func diffFields(a, b string) []string {
	var ma, mb map[string]any
	_ = json.Unmarshal([]byte(a), &ma)
	_ = json.Unmarshal([]byte(b), &mb)
	seen := map[string]bool{}
	var out []string
	for k, v := range ma {
		seen[k] = true
		if w, ok := mb[k]; !ok || fmt.Sprint(v) != fmt.Sprint(w) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = []string{"(unknown)"}
	}
	return out
}
