// Package audit is vetca's tamper-evident audit trail (DESIGN invariant 6,
// BR §5.4.1).
//
// Every table with a row_hash column is audited. Domain services change
// such tables only through a Recorder, which, inside the caller's
// transaction, writes the row with its content hash and appends an event
// holding the row's new content. Events form a hash chain: each event's hash
// covers its sequence number, the previous event's hash and every field.
//
// The latest event for a row vouches for the row's content. Verify therefore
// detects both edits to the log (an edited, deleted, inserted or reordered
// event breaks the chain) and out-of-band SQL on data (a row whose content
// differs from its latest event, a row without an event, an event whose row
// is gone). Reads for decisions go through Recorder.Get, which fails closed
// with an error naming the table, row and field when a row is not vouched for.
//
// A signed checkpoint (see Checkpoint) pins the chain head; with it, Verify
// also detects a chain rewritten wholesale by someone with database access.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
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

// Event operations.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
	OpNote   = "note" // a fact about an entity that changes no row
)

// Event is one entry of the chain.
type Event struct {
	Seq         int64     `db:"seq" json:"seq"`
	At          time.Time `db:"at" json:"at"`
	Actor       string    `db:"actor" json:"actor"`
	Action      string    `db:"action" json:"action"`
	Op          string    `db:"op" json:"op"`
	EntityType  string    `db:"entity_type" json:"entityType"`
	EntityID    string    `db:"entity_id" json:"entityId"`
	Content     *string   `db:"content" json:"content,omitempty"`
	RowHash     string    `db:"row_hash" json:"rowHash,omitempty"`
	FieldHashes string    `db:"field_hashes" json:"-"`
	PrevHash    string    `db:"prev_hash" json:"prevHash"`
	Hash        string    `db:"hash" json:"hash"`
}

// Recorder performs audited writes and integrity-checked reads.
type Recorder struct {
	schema *store.Schema
	clock  clock.Clock
}

// NewRecorder returns a Recorder for a migrated database's schema.
func NewRecorder(schema *store.Schema, clk clock.Clock) *Recorder {
	return &Recorder{schema: schema, clock: clk}
}

// Schema returns the schema the recorder was built with.
func (r *Recorder) Schema() *store.Schema { return r.schema }

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
func IsAudited(t *store.Table) bool { return t.Has("row_hash") && t.Has("id") }

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

// eventFields lists the fields an event hash covers, in order.
func eventFields(e *Event) [][2]string {
	content := ""
	if e.Content != nil {
		content = *e.Content
	}
	return [][2]string{
		{"at", store.FormatTime(e.At)},
		{"actor", e.Actor},
		{"action", e.Action},
		{"op", e.Op},
		{"entity_type", e.EntityType},
		{"entity_id", e.EntityID},
		{"content", content},
		{"row_hash", e.RowHash},
	}
}

// ComputeHash recomputes the event's hash from its fields, so anyone with
// an export can check the chain offline.
func (e *Event) ComputeHash() string { return computeHash(e) }

// ComputeFieldHashes recomputes the per-field digests.
func (e *Event) ComputeFieldHashes() string { return fieldHashes(e) }

// CanonicalRow is the canonical JSON content of a row, as events hold it.
func CanonicalRow(row store.Row) (string, error) { return canonical(row) }

// computeHash is the event hash: SHA-256 over a domain separator, the
// sequence number, the previous hash and every field, length-prefixed.
func computeHash(e *Event) string {
	h := sha256.New()
	write := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	write("vetca-audit-v1")
	write(strconv.FormatInt(e.Seq, 10))
	write(e.PrevHash)
	for _, f := range eventFields(e) {
		write(f[0])
		write(f[1])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fieldHashes is a short digest of each field. It is not part of the chain's
// security (the event hash is); it lets Verify name the field that a
// one-column UPDATE on audit_events changed.
func fieldHashes(e *Event) string {
	var parts []string
	for _, f := range eventFields(e) {
		sum := sha256.Sum256([]byte(f[0] + "\x00" + f[1]))
		parts = append(parts, f[0]+":"+hex.EncodeToString(sum[:8]))
	}
	return strings.Join(parts, ",")
}

func parseFieldHashes(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(p, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// append adds an event to the chain inside tx, after executing the row
// write stmt (if any) in the same transaction. On PostgreSQL the row write,
// the event insert and the head update travel as one statement (data-
// modifying CTEs), so an audited write costs one round trip more than a
// plain one: the locked read of the chain head.
func (r *Recorder) append(ctx context.Context, tx *store.Tx, e *Event, stmt string, args ...any) error {
	var seq int64
	var prev string
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+tx.ForUpdate()).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	e.Seq = seq + 1
	e.PrevHash = prev
	e.At = r.clock.Now().UTC().Truncate(time.Second)
	e.FieldHashes = fieldHashes(e)
	e.Hash = computeHash(e)
	const insertEvent = `INSERT INTO audit_events (seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	evArgs := []any{e.Seq, store.FormatTime(e.At), e.Actor, e.Action, e.Op, e.EntityType, e.EntityID, e.Content, e.RowHash, e.FieldHashes, e.PrevHash, e.Hash}
	const advance = `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
	if tx.Dialect() == store.Postgres {
		q := "WITH ev AS (" + insertEvent + " RETURNING seq) "
		all := append([]any(nil), evArgs...)
		if stmt != "" {
			q = "WITH w AS (" + stmt + " RETURNING 1), ev AS (" + insertEvent + " RETURNING seq) "
			all = append(append([]any(nil), args...), evArgs...)
		}
		q += advance
		all = append(all, e.Seq, e.Hash)
		if _, err := tx.Exec(ctx, q, all...); err != nil {
			return fmt.Errorf("audit: write %s %s with its event: %w", e.EntityType, e.EntityID, err)
		}
		return nil
	}
	if stmt != "" {
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("audit: write %s %s: %w", e.EntityType, e.EntityID, err)
		}
	}
	if _, err := tx.Exec(ctx, insertEvent, evArgs...); err != nil {
		return fmt.Errorf("audit: append event: %w", err)
	}
	if _, err := tx.Exec(ctx, advance, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("audit: advance chain head: %w", err)
	}
	return nil
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

// Insert writes v (a struct with db tags covering every column but
// row_hash) as a new row of table and appends an insert event.
func (r *Recorder) Insert(ctx context.Context, tx *store.Tx, actor, action, table string, v any) error {
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

// Update replaces the row of table whose id is v's id with v, after
// checking (fail closed) that the current row is the one the audit trail
// vouches for, so an out-of-band edit can never be laundered by a later
// legitimate update. It appends an update event.
func (r *Recorder) Update(ctx context.Context, tx *store.Tx, actor, action, table string, v any) error {
	raw, err := store.Encode(v)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", table, err)
	}
	return r.UpdateRow(ctx, tx, actor, action, table, raw)
}

// UpdateRow is Update for a row given as column values (every column but
// row_hash).
func (r *Recorder) UpdateRow(ctx context.Context, tx *store.Tx, actor, action, table string, raw map[string]any) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	row, content, hash, err := r.prepareRow(t, raw)
	if err != nil {
		return err
	}
	id := row["id"].(string)
	if _, err := r.load(ctx, tx, t, id, true); err != nil {
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

// Check reads the row of table with the given id and checks it is what
// the audit trail vouches for, without decoding it.
func (r *Recorder) Check(ctx context.Context, q store.Querier, table, id string) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	_, err = r.load(ctx, q, t, id, false)
	return err
}

// Delete removes a vouched-for row and appends a delete event.
func (r *Recorder) Delete(ctx context.Context, tx *store.Tx, actor, action, table, id string) error {
	t, err := r.table(table)
	if err != nil {
		return err
	}
	if _, err := r.load(ctx, tx, t, id, true); err != nil {
		return err
	}
	return r.append(ctx, tx, &Event{Actor: actor, Action: action, Op: OpDelete, EntityType: table, EntityID: id}, "DELETE FROM "+table+" WHERE id = ?", id)
}

// Note appends an event that records a fact without changing a row, such as
// a refused finalization or a sign-in. details is stored as JSON content.
func (r *Recorder) Note(ctx context.Context, tx *store.Tx, actor, action, entityType, entityID string, details any) error {
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

// Get reads the row of table with the given id into dst, after checking
// that it is exactly what the audit trail vouches for. It returns an
// apperr not-found error naming field when there is no such row, and an
// apperr integrity error naming the table, row and field when the row was
// changed outside vetca.
func (r *Recorder) Get(ctx context.Context, q store.Querier, table, id string, dst any) error {
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

// Select runs query (which must select whole rows of table, "SELECT * FROM
// table ...") and decodes each row into a T after the same integrity check
// as Get. Use it where the rows feed a decision. Each row is read together
// with the hash its latest event vouches for, in the same statement.
func Select[T any](ctx context.Context, r *Recorder, q store.Querier, table, query string, args ...any) ([]T, error) {
	t, err := r.table(table)
	if err != nil {
		return nil, err
	}
	prefix := "SELECT * FROM " + table
	rest, ok := strings.CutPrefix(query, prefix)
	if !ok || (rest != "" && rest[0] != ' ') {
		return nil, fmt.Errorf("audit: Select needs a query starting %q", prefix)
	}
	rows, err := q.Query(ctx, "SELECT t.*"+vouchedColumns+" FROM "+table+" t"+rest, append([]any{table, table}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", table, err)
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
		var v T
		if err := store.Decode(row, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// vouchedColumns are added to integrity-checked reads: the row hash and
// operation of the row's latest event, read in the same statement as the
// row, so both come from one snapshot even while other transactions update
// the row.
const vouchedColumns = `,
	(SELECT e.row_hash FROM audit_events e WHERE e.entity_type = ? AND e.entity_id = t.id AND e.op <> 'note' ORDER BY e.seq DESC LIMIT 1) AS vetca_vouched_hash,
	(SELECT e.op FROM audit_events e WHERE e.entity_type = ? AND e.entity_id = t.id AND e.op <> 'note' ORDER BY e.seq DESC LIMIT 1) AS vetca_vouched_op`

func (r *Recorder) load(ctx context.Context, q store.Querier, t *store.Table, id string, lock bool) (store.Row, error) {
	query := "SELECT t.*" + vouchedColumns + " FROM " + t.Name + " t WHERE t.id = ?"
	if tx, ok := q.(*store.Tx); ok && lock {
		query += tx.ForUpdate()
	}
	rows, err := q.Query(ctx, query, t.Name, t.Name, id)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t.Name, id, err)
	}
	maps, err := store.ScanMaps(rows)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t.Name, id, err)
	}
	if len(maps) == 0 {
		return nil, apperr.NotFound("", "%s %s not found", strings.TrimSuffix(t.Name, "s"), id)
	}
	return r.vouchedRow(ctx, q, t, maps[0])
}

// vouchedRow takes a row read with vouchedColumns, separates the vouched
// hash and operation from the row's own columns, and judges the row.
func (r *Recorder) vouchedRow(ctx context.Context, q store.Querier, t *store.Table, m map[string]any) (store.Row, error) {
	vouched, _ := asString(m["vetca_vouched_hash"])
	op, hasEvent := asString(m["vetca_vouched_op"])
	delete(m, "vetca_vouched_hash")
	delete(m, "vetca_vouched_op")
	row, err := t.Normalize(m)
	if err != nil {
		return nil, err
	}
	if err := r.judge(ctx, q, t, row, vouched, op, hasEvent); err != nil {
		return nil, err
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

// check compares a row, already read, with its stored row_hash and with
// the latest event for it. When they disagree it re-reads the row together
// with its latest event in one statement: if that is consistent, the first
// read raced with a legitimate update and the fresh row is returned.
func (r *Recorder) check(ctx context.Context, q store.Querier, t *store.Table, row store.Row) (store.Row, error) {
	id, _ := row["id"].(string)
	var vouched, op string
	err := q.QueryRow(ctx, `SELECT row_hash, op FROM audit_events WHERE entity_type = ? AND entity_id = ? AND op <> 'note' ORDER BY seq DESC LIMIT 1`,
		t.Name, id).Scan(&vouched, &op)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("audit: read latest event for %s %s: %w", t.Name, id, err)
	}
	if r.judge(ctx, q, t, row, vouched, op, err == nil) == nil {
		return row, nil
	}
	fresh, ferr := r.load(ctx, q, t, id, false)
	if ferr != nil {
		if apperr.IsKind(ferr, apperr.KindNotFound) {
			return nil, apperr.Integrity(t.Name, id, "the row vanished while it was read")
		}
		return nil, ferr
	}
	return fresh, nil
}

// judge decides whether a row is what its latest event vouches for.
func (r *Recorder) judge(ctx context.Context, q store.Querier, t *store.Table, row store.Row, vouched, op string, hasEvent bool) error {
	id, _ := row["id"].(string)
	content, err := canonical(row)
	if err != nil {
		return err
	}
	computed := RowHash(t.Name, content)
	stored, _ := row["row_hash"].(string)
	switch {
	case !hasEvent:
		return apperr.Integrity(t.Name, id, "no audit event records this row; it was inserted outside vetca")
	case op == OpDelete:
		return apperr.Integrity(t.Name, id, "the audit trail records this row as deleted; it was re-inserted outside vetca")
	case computed != vouched:
		var vouchedContent sql.NullString
		_ = q.QueryRow(ctx, `SELECT content FROM audit_events WHERE entity_type = ? AND entity_id = ? AND op <> 'note' ORDER BY seq DESC LIMIT 1`,
			t.Name, id).Scan(&vouchedContent)
		fields := diffFields(vouchedContent.String, content)
		return apperr.Integrity(t.Name, id, "field %s differs from the audited value; it was changed outside vetca", strings.Join(fields, ", "))
	case stored != computed:
		return apperr.Integrity(t.Name, id, "field row_hash was changed outside vetca")
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
