package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vetca/vetca/internal/store"
)

// Finding is one integrity problem, naming the table, the row id and, where
// it can tell, the field.
type Finding struct {
	Table   string `json:"table"`
	RowID   string `json:"rowId"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	if f.Table == "" {
		return f.Message // the message names the row itself
	}
	s := fmt.Sprintf("%s row %s", f.Table, f.RowID)
	if f.Field != "" {
		s += " field " + f.Field
	}
	return s + ": " + f.Message
}

// Report is the result of Verify.
type Report struct {
	OK       bool      `json:"ok"`
	Events   int64     `json:"events"`
	Head     string    `json:"head"`
	KeyID    string    `json:"keyId"`
	Findings []Finding `json:"findings"`
	// Checkpoints is how many signed checkpoints the chain was checked
	// against, and Checkpoint the newest of them (nil when there was none).
	Checkpoints int         `json:"checkpoints"`
	Checkpoint  *Checkpoint `json:"checkpoint,omitempty"`
}

// latestVouch is the latest row event Verify saw for an entity.
type latestVouch struct {
	seq     int64
	op      string
	rowHash string
	forged  bool
	// uncommitted: the event was signed in another transaction than the
	// one that wrote it, a write that rolled back (seal.go)
	uncommitted bool
}

// verifyBatch is how many events are read before their signatures are
// checked in parallel.
const verifyBatch = 1024

// Verify checks the whole trail and every row of every audited table
// against pub, the installation's pinned audit public key: every event's
// signature, the chain, the sequence, each row against its latest event,
// and the chain against every checkpoint in cps (whose signatures the
// caller has checked). It never stops at the first problem.
//
// Events and rows are read in one snapshot (store.ReadTx): while serve
// writes, a row updated after the events were read would otherwise be
// compared with its previous event and reported as edited outside vetca.
func Verify(ctx context.Context, db *store.DB, schema *store.Schema, pub *PublicKey, cps []*Checkpoint) (*Report, error) {
	var rep *Report
	err := db.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		rep, err = verifySnapshot(ctx, tx, schema, pub, cps)
		return err
	})
	return rep, err
}

func verifySnapshot(ctx context.Context, db store.Querier, schema *store.Schema, pub *PublicKey, cps []*Checkpoint) (*Report, error) {
	pg := db.Dialect() == store.Postgres
	rep := &Report{Findings: []Finding{}, KeyID: pub.ID(), Checkpoints: len(cps)}
	add := func(table, id, field, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Table: table, RowID: id, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	cpAt := map[int64][]*Checkpoint{}
	for _, cp := range cps {
		cpAt[cp.Seq] = append(cpAt[cp.Seq], cp)
		if rep.Checkpoint == nil || cp.Seq > rep.Checkpoint.Seq {
			rep.Checkpoint = cp
		}
	}

	// The head is read first: on PostgreSQL, events above it are the
	// unsealed tail (seal.go), checked for everything but their links.
	// On SQLite the head is the last event itself, and there is no head
	// row to compare.
	var headSeq int64
	var headHash, headSig string
	var headErr error
	sealedUpTo := int64(math.MaxInt64) // SQLite chains every event as it is written
	if pg {
		headErr = db.QueryRow(ctx, `SELECT seq, head_hash, sig FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash, &headSig)
		if headErr == nil {
			sealedUpTo = headSeq
		}
	}
	latest := map[string]latestVouch{} // table + "\x00" + id -> latest row event
	w := &chainWalker{pub: pub, add: add, latest: latest, cpAt: cpAt, expectSeq: 1, sealedUpTo: sealedUpTo}
	writer, err := writerColumn(ctx, db, sealedUpTo)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+eventColumns+`, `+writer+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	batch := make([]Event, 0, verifyBatch)
	for rows.Next() {
		var wrote string
		e, err := scanEvent(rows, &wrote)
		e.writer = wrote
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read audit events: %w", err)
		}
		batch = append(batch, e)
		if len(batch) == verifyBatch {
			w.walk(batch)
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	rows.Close()
	w.walk(batch)
	rep.Events = w.events
	rep.Head = w.prevStored
	if err := verifyEventTypes(ctx, db, schema, add); err != nil {
		return nil, err
	}
	if err := verifyRelations(ctx, db, schema, add); err != nil {
		return nil, err
	}

	for _, cp := range cps {
		if cp.Seq > w.lastSeq {
			add("audit_events", strconv.FormatInt(cp.Seq, 10), "", "the chain ends at event %d, but the checkpoint signed at %s covers event %d: the chain was truncated or rebuilt outside vetca", w.lastSeq, cp.At, cp.Seq)
		}
	}

	switch {
	case !pg:
	case headErr != nil:
		add("audit_head", "1", "", "chain head row is missing: %v", headErr)
	case w.events > w.tail && (headSeq != w.lastSeq || headHash != w.prevStored) || w.events == w.tail && headSeq != 0:
		add("audit_head", "1", "", "chain head (seq %d) does not match the last event (seq %d)", headSeq, w.lastSeq)
	}
	if pg && headErr == nil {
		ok, err := headVouched(ctx, db, pub, headSeq, headHash, headSig)
		if err != nil {
			return nil, err
		}
		if !ok {
			add("audit_head", "1", "sig", "the chain head (event %d) is not signed by the installation's audit key: it was moved outside vetca, and the events up to it were not all linked by vetca's sealer", headSeq)
		}
	}

	// Rows: every row of every audited table must be what its latest,
	// authentic event vouches for.
	present := map[string]bool{}
	for _, name := range schema.Tables() {
		t, _ := schema.Table(name)
		if !IsAudited(t) {
			continue
		}
		if err := verifyTable(ctx, db, t, latest, present, add); err != nil {
			return nil, err
		}
	}
	for key, v := range latest {
		if v.op == OpDelete || present[key] {
			continue
		}
		table, id, _ := strings.Cut(key, "\x00")
		if _, ok := schema.Table(table); !ok {
			add(table, id, "", "the audit trail records this table, which no longer exists")
			continue
		}
		add(table, id, "", "row recorded by audit event %d is missing: deleted outside vetca", v.seq)
	}
	rep.OK = len(rep.Findings) == 0
	return rep, nil
}

// verifyEventTypes reports every event value stored with another type
// than its column's (SQLite only). Events are scanned into strings, where
// an entity_id retyped as a BLOB reads as the same text and its signature
// still verifies, while the lookup a read makes for a row's latest event
// ("entity_id = ?") no longer finds it: the read would be judged by the
// event before it.
func verifyEventTypes(ctx context.Context, db store.Querier, schema *store.Schema, add func(table, id, field, format string, args ...any)) error {
	t, ok := schema.Table("audit_events")
	if !ok {
		return nil
	}
	mis, err := t.MisTyped(ctx, db, "seq")
	if err != nil {
		return err
	}
	for _, m := range mis {
		add(m.Table, m.ID, m.Column, "%s", m.Problem())
	}
	return nil
}

// writerColumn is the expression verify reads beside each event for the
// id of the transaction that wrote its row: xmin on PostgreSQL (empty for
// an event that needs no such check, writerSQL), read and checked for the
// unsealed tail only, above sealedUpTo (sealing rewrites the row). A view
// put in the table's place has no xmin; it is reported as such
// (relationsSQL), and the walk reads no writer rather than fail.
func writerColumn(ctx context.Context, db store.Querier, sealedUpTo int64) (string, error) {
	if db.Dialect() != store.Postgres {
		return `''`, nil
	}
	var table bool
	if err := db.QueryRow(ctx, `SELECT COALESCE((SELECT relkind = 'r' FROM pg_class WHERE oid = to_regclass('audit_events')), false)`).Scan(&table); err != nil {
		return "", fmt.Errorf("read audit events: %w", err)
	}
	if !table {
		return `''`, nil
	}
	return `CASE WHEN seq > ` + strconv.FormatInt(sealedUpTo, 10) + ` THEN ` + writerSQL("") + ` ELSE '' END`, nil
}

// relationsSQL lists, for the tables named (comma-separated), what could
// make a read see something else than the rows verify checks: each must
// be an ordinary table of this schema, with no row-level security, no
// trigger and no rule. A view put in a table's place can show a decision
// read (in a read-write transaction) an older authentic row while this
// READ ONLY snapshot sees the real one; row-level security can hide rows
// from one and not the other; triggers and rules can do either. vetca
// creates none of these.
const relationsSQL = `SELECT t.name, COALESCE(c.relkind::text, ''), COALESCE(c.relrowsecurity, false),
		COALESCE((SELECT COUNT(*) FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), 0),
		COALESCE((SELECT COUNT(*) FROM pg_rewrite r WHERE r.ev_class = c.oid), 0)
	FROM unnest(string_to_array(?, ',')) AS t(name)
	LEFT JOIN pg_class c ON c.relname = t.name AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
	ORDER BY t.name`

// sqliteRelationsSQL is relationsSQL on SQLite: a trigger on, or a view in
// the place of, a table named.
const sqliteRelationsSQL = `SELECT tbl_name, type FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY tbl_name, name`

// verifyRelations reports a vetca table that is no longer a plain table
// of its own (relationsSQL). Found by verify, not prevented: the insider
// with the database's owner rights can make these, as any other edit.
func verifyRelations(ctx context.Context, db store.Querier, schema *store.Schema, add func(table, id, field, format string, args ...any)) error {
	names := schema.Tables()
	if !slices.Contains(names, "audit_head") {
		names = append(names, "audit_head")
	}
	if db.Dialect() != store.Postgres {
		return verifySQLiteRelations(ctx, db, names, add)
	}
	rows, err := db.Query(ctx, relationsSQL, strings.Join(names, ","))
	if err != nil {
		return fmt.Errorf("audit: read the tables' kinds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, kind string
		var rls bool
		var triggers, rules int
		if err := rows.Scan(&name, &kind, &rls, &triggers, &rules); err != nil {
			return fmt.Errorf("audit: read the tables' kinds: %w", err)
		}
		if kind != "r" && kind != "p" {
			add(name, "", "", "%s is not a table of this schema (relation kind %q): a view or another object was put in its place outside vetca", name, kind)
		}
		if rls {
			add(name, "", "", "row-level security was enabled on %s outside vetca: reads may not see every row", name)
		}
		if triggers > 0 || rules > 0 {
			add(name, "", "", "%s has %d triggers and %d rules, made outside vetca", name, triggers, rules)
		}
	}
	return rows.Err()
}

func verifySQLiteRelations(ctx context.Context, db store.Querier, names []string, add func(table, id, field, format string, args ...any)) error {
	rows, err := db.Query(ctx, sqliteRelationsSQL)
	if err != nil {
		return fmt.Errorf("audit: read the schema: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			return fmt.Errorf("audit: read the schema: %w", err)
		}
		if slices.Contains(names, name) {
			add(name, "", "", "a %s on %s was made outside vetca", kind, name)
		}
	}
	return rows.Err()
}

// chainWalker checks events in sequence order.
type chainWalker struct {
	pub        *PublicKey
	add        func(table, id, field, format string, args ...any)
	latest     map[string]latestVouch
	cpAt       map[int64][]*Checkpoint
	expectSeq  int64
	prevStored string
	lastSeq    int64
	events     int64
	sealedUpTo int64 // events above it are the unsealed tail
	tail       int64 // how many of events are in the tail
}

// walk checks a batch: signatures in parallel, then everything else in
// order.
func (w *chainWalker) walk(batch []Event) {
	sigOK := verifySignatures(batch, w.pub)
	for i := range batch {
		w.check(&batch[i], sigOK[i])
	}
}

func verifySignatures(batch []Event, pub *PublicKey) []bool {
	ok := make([]bool, len(batch))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(batch); i += workers {
				ok[i] = batch[i].VerifySignature(pub)
			}
		}(w)
	}
	wg.Wait()
	return ok
}

func (w *chainWalker) check(e *Event, sigOK bool) {
	w.events++
	id := strconv.FormatInt(e.Seq, 10)
	if e.badAt != "" {
		w.add("audit_events", id, "at", "time %q is not in vetca's stored form; the event was edited outside vetca", e.badAt)
	}
	inTail := e.Seq > w.sealedUpTo
	if inTail {
		w.tail++
	}
	switch {
	case e.Seq > w.expectSeq && !inTail:
		missing := strconv.FormatInt(w.expectSeq, 10)
		if e.Seq-1 > w.expectSeq {
			missing += "-" + strconv.FormatInt(e.Seq-1, 10)
		}
		w.add("audit_events", missing, "", "event(s) missing from the chain: deleted outside vetca")
	case e.Seq < w.expectSeq:
		w.add("audit_events", id, "seq", "sequence number out of order")
	}
	w.expectSeq = e.Seq + 1

	if !sigOK {
		// Name the field an edit changed, through the per-field digests.
		recorded := parseFieldHashes(e.FieldHashes)
		current := parseFieldHashes(fieldHashes(e))
		var changed []string
		for _, f := range eventFields(e) {
			if recorded[f[0]] != current[f[0]] {
				changed = append(changed, f[0])
			}
		}
		switch {
		case len(changed) > 0 && e.KeyID == w.pub.ID():
			w.add("audit_events", id, strings.Join(changed, ","), "the event no longer matches its signature: edited outside vetca")
		case e.KeyID != w.pub.ID():
			w.add("audit_events", id, "key_id", "the event is signed by key %s, not the installation's audit key %s: it was written outside vetca with another key", short(e.KeyID), short(w.pub.ID()))
		default:
			w.add("audit_events", id, "sig", "the event's signature does not verify under the installation's audit key: it was written or edited without the key")
		}
	}
	if inTail {
		// Not chained yet: the sealer links it once every number below it
		// is settled. Its signature, digests and row are checked below.
		// The seal writes the chain fields and the head in one
		// transaction, so a chained event above the head means the head
		// row was moved back outside vetca (every event above it would
		// then escape the gap and link checks).
		if e.Hash != "" || e.PrevHash != "" {
			w.add("audit_events", id, "hash", "the event is chained but above the chain head (seq %d): the head was moved back outside vetca", w.sealedUpTo)
		}
		if sigOK && e.FieldHashes != fieldHashes(e) {
			w.add("audit_events", id, "field_hashes", "field digests were edited outside vetca")
		}
		if sigOK && putBack(e.writer, e.Xid) {
			w.add("audit_events", id, "xid", "the event was signed in transaction %s, but its row was written by transaction %s: the event of a write that rolled back was inserted outside vetca", e.Xid, e.writer)
			w.vouchFor(e, id, sigOK)
			w.latest[e.EntityType+"\x00"+e.EntityID] = latestVouch{seq: e.Seq, op: e.Op, rowHash: e.RowHash, uncommitted: true}
			return
		}
		w.vouchFor(e, id, sigOK)
		return
	}
	computed := e.ComputeHash()
	first := w.events == 1
	switch {
	case !first && e.PrevHash != w.prevStored:
		w.add("audit_events", id, "prev_hash", "the event does not link to the previous event (%d): the chain was reordered, or events inserted or deleted outside vetca", w.lastSeq)
	case first && e.PrevHash != "" && e.Seq == 1:
		w.add("audit_events", id, "prev_hash", "the first event must have an empty previous hash")
	case computed != e.Hash && sigOK:
		w.add("audit_events", id, "hash", "the event's chain hash does not match its content: edited outside vetca")
	}
	if sigOK && e.FieldHashes != fieldHashes(e) {
		w.add("audit_events", id, "field_hashes", "field digests were edited outside vetca")
	}
	for _, cp := range w.cpAt[e.Seq] {
		if e.Hash != cp.Hash || computed != cp.Hash {
			w.add("audit_events", id, "hash", "the event's hash differs from the checkpoint signed at %s (%s): the chain was rewritten outside vetca", cp.At, short(cp.Hash))
		}
	}
	w.vouchFor(e, id, sigOK)
	w.prevStored = e.Hash
	w.lastSeq = e.Seq
}

// vouchFor records what a row event vouches for.
func (w *chainWalker) vouchFor(e *Event, id string, sigOK bool) {
	if e.Op == OpGap && (e.Content != nil || e.EntityType != "audit_events" || e.EntityID != id) {
		w.add("audit_events", id, "op", "a gap event must name only its own number")
	}
	if e.Op == OpNote && e.Action == ActionHeadWentBack && sigOK {
		c := ""
		if e.Content != nil {
			c = *e.Content
		}
		w.add("audit_events", id, "action", "vetca found the chain head below an event it had seen (%s): events were deleted outside vetca, and the numbers after the head it found were used again", c)
	}
	if e.Op == OpNote && e.Action == ActionRemovedEvent && sigOK {
		c := ""
		if e.Content != nil {
			c = *e.Content
		}
		w.add("audit_events", id, "action", "the sealer removed an event whose row another transaction wrote than the one it was signed in: the event of a write that rolled back was inserted outside vetca (%s)", c)
	}
	if e.Op != OpNote && e.Op != OpGap {
		if e.Op != OpDelete {
			c := ""
			if e.Content != nil {
				c = *e.Content
			}
			if RowHash(e.EntityType, c) != e.RowHash {
				w.add("audit_events", id, "row_hash", "the event's row hash does not match its content")
			}
		}
		w.latest[e.EntityType+"\x00"+e.EntityID] = latestVouch{seq: e.Seq, op: e.Op, rowHash: e.RowHash, forged: !sigOK}
	}
}

func verifyTable(ctx context.Context, db store.Querier, t *store.Table, latest map[string]latestVouch, present map[string]bool, add func(table, id, field, format string, args ...any)) error {
	rows, err := db.Query(ctx, "SELECT * FROM "+t.Name)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	maps, err := store.ScanMaps(rows)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	for _, m := range maps {
		row, err := t.NormalizeStored(m)
		if ste := (*store.StoredTypeError)(nil); errors.As(err, &ste) {
			present[t.Name+"\x00"+ste.ID] = true
			add(t.Name, ste.ID, ste.Column, "%s (a value no SQL comparison with its text finds, so the row is hidden from the reads that look for it)", ste.Problem())
			continue
		} else if err != nil {
			return err
		}
		id, _ := row["id"].(string)
		key := t.Name + "\x00" + id
		present[key] = true
		content, err := canonical(row)
		if err != nil {
			return err
		}
		computed := RowHash(t.Name, content)
		v, ok := latest[key]
		switch {
		case !ok:
			add(t.Name, id, "", "row has no audit event: inserted outside vetca")
		case v.op == OpDelete:
			add(t.Name, id, "", "row was deleted by audit event %d but exists again: inserted outside vetca", v.seq)
		case computed != v.rowHash:
			var vouched sql.NullString
			if err := db.QueryRow(ctx, `SELECT content FROM audit_events WHERE seq = ?`, v.seq).Scan(&vouched); err != nil {
				return fmt.Errorf("read event %d: %w", v.seq, err)
			}
			for _, f := range diffFields(vouched.String, content) {
				add(t.Name, id, f, "value differs from audit event %d: updated outside vetca", v.seq)
			}
		case row["row_hash"] != computed:
			add(t.Name, id, "row_hash", "stored row hash was changed outside vetca")
		case v.forged:
			add(t.Name, id, "", "the row is vouched for only by audit event %d, which was not written with the installation's audit key: row and event were forged outside vetca", v.seq)
		case v.uncommitted:
			add(t.Name, id, "", "the row is vouched for only by audit event %d, the event of a write that rolled back, inserted outside vetca", v.seq)
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
