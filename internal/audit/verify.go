package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

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
	Findings []Finding `json:"findings"`
}

type vouch struct {
	seq     int64
	op      string
	rowHash string
}

// Verify checks the whole hash chain and every row of every audited table.
// With a checkpoint it also checks that the chain still contains the
// checkpointed head. It never stops at the first problem.
func Verify(ctx context.Context, db *store.DB, schema *store.Schema, cp *Checkpoint) (*Report, error) {
	rep := &Report{Findings: []Finding{}}
	add := func(table, id, field, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Table: table, RowID: id, Field: field, Message: fmt.Sprintf(format, args...)})
	}

	latest := map[string]vouch{} // table + "\x00" + id -> latest row event
	rows, err := db.Query(ctx, `SELECT seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash FROM audit_events ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	var (
		expectSeq  int64 = 1
		prevStored string
		prevEvent  *Event
		cpSeen     bool
	)
	for rows.Next() {
		var e Event
		var at string
		var content sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Op, &e.EntityType, &e.EntityID, &content, &e.RowHash, &e.FieldHashes, &e.PrevHash, &e.Hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read audit events: %w", err)
		}
		if content.Valid {
			e.Content = &content.String
		}
		rep.Events++
		id := strconv.FormatInt(e.Seq, 10)
		t, perr := store.ParseTime(at)
		if perr != nil {
			add("audit_events", id, "at", "time %q is not in vetca's stored form; the event was edited outside vetca", at)
		}
		e.At = t

		switch {
		case e.Seq > expectSeq:
			missing := strconv.FormatInt(expectSeq, 10)
			if e.Seq-1 > expectSeq {
				missing += "-" + strconv.FormatInt(e.Seq-1, 10)
			}
			add("audit_events", missing, "", "event(s) missing from the chain: deleted outside vetca")
		case e.Seq < expectSeq:
			add("audit_events", id, "seq", "sequence number out of order")
		}
		expectSeq = e.Seq + 1

		computed := computeHash(&e)
		if computed != e.Hash {
			// Name the field: compare each field with its recorded digest.
			recorded := parseFieldHashes(e.FieldHashes)
			current := parseFieldHashes(fieldHashes(&e))
			var changed []string
			for _, f := range eventFields(&e) {
				if recorded[f[0]] != current[f[0]] {
					changed = append(changed, f[0])
				}
			}
			switch {
			case len(changed) > 0:
				add("audit_events", id, strings.Join(changed, ","), "event content does not match its hash: edited outside vetca")
			case e.PrevHash != prevStored && prevEvent != nil:
				add("audit_events", id, "prev_hash", "event does not link to the previous event: edited or inserted outside vetca")
			default:
				add("audit_events", id, "hash", "event hash does not match its content: edited outside vetca")
			}
		} else if e.FieldHashes != fieldHashes(&e) {
			add("audit_events", id, "field_hashes", "field digests were edited outside vetca")
		}
		if prevEvent != nil && e.PrevHash != prevStored && computed == e.Hash {
			add("audit_events", id, "prev_hash", "event does not link to the previous event (%d): the chain was reordered, or events inserted or deleted outside vetca", prevEvent.Seq)
		}
		if prevEvent == nil && e.PrevHash != "" && e.Seq == 1 {
			add("audit_events", id, "prev_hash", "the first event must have an empty previous hash")
		}

		if cp != nil && e.Seq == cp.Seq {
			cpSeen = true
			if e.Hash != cp.Hash {
				add("audit_events", id, "hash", "event hash %s differs from the signed checkpoint's %s: the chain was rewritten", short(e.Hash), short(cp.Hash))
			}
		}

		if e.Op != OpNote {
			if e.Op != OpDelete {
				c := ""
				if e.Content != nil {
					c = *e.Content
				}
				if RowHash(e.EntityType, c) != e.RowHash {
					add("audit_events", id, "row_hash", "the event's row hash does not match its content")
				}
			}
			latest[e.EntityType+"\x00"+e.EntityID] = vouch{seq: e.Seq, op: e.Op, rowHash: e.RowHash}
		}
		prevStored = e.Hash
		ev := e
		prevEvent = &ev
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	rows.Close()
	rep.Head = prevStored
	if cp != nil && !cpSeen {
		add("audit_events", strconv.FormatInt(cp.Seq, 10), "", "the signed checkpoint's event is missing: the chain was truncated or rewritten")
	}

	var headSeq int64
	var headHash string
	if err := db.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		add("audit_head", "1", "", "chain head row is missing: %v", err)
	} else if prevEvent != nil && (headSeq != prevEvent.Seq || headHash != prevEvent.Hash) {
		add("audit_head", "1", "", "chain head (seq %d) does not match the last event (seq %d)", headSeq, prevEvent.Seq)
	}

	// Rows: every row of every audited table must be what its latest event
	// vouches for.
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

func verifyTable(ctx context.Context, db *store.DB, t *store.Table, latest map[string]vouch, present map[string]bool, add func(table, id, field, format string, args ...any)) error {
	rows, err := db.Query(ctx, "SELECT * FROM "+t.Name)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	maps, err := store.ScanMaps(rows)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	for _, m := range maps {
		row, err := t.Normalize(m)
		if err != nil {
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
