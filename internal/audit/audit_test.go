package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

type account struct {
	ID          string    `db:"id"`
	Name        string    `db:"name"`
	CreatedAt   time.Time `db:"created_at"`
	CreatedBy   string    `db:"created_by"`
	CreatedByID string    `db:"created_by_id"`
}

type fixture struct {
	db  *store.DB
	rec *Recorder
	clk *clock.Fake
	key *Key
}

// newTestKey returns an in-memory Ed25519 audit key.
func newTestKey(t testing.TB) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(priv, "test:audit-key")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestRecorder returns a recorder for db that writes with key.
func newTestRecorder(t testing.TB, db *store.DB, clk clock.Clock, pub *PublicKey, key *Key) *Recorder {
	t.Helper()
	schema, err := store.LoadSchema(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(schema, clk, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	key := newTestKey(t)
	f := &fixture{db: db, rec: newTestRecorder(t, db, clk, nil, key), clk: clk, key: key}
	ctx := context.Background()
	for _, a := range []account{{ID: "acc_1", Name: "Alpha"}, {ID: "acc_2", Name: "Beta"}, {ID: "acc_3", Name: "Gamma"}} {
		a.CreatedAt, a.CreatedBy = clk.Now(), "user:alice"
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return f.rec.insert(ctx, tx, "user:alice", "account.created", "accounts", a)
		}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_2", &a); err != nil {
			return err
		}
		a.Name = "Beta Renamed"
		return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return f.rec.note(ctx, tx, "user:bob", "account.viewed", "accounts", "acc_1", map[string]string{"why": "test"})
	}); err != nil {
		t.Fatal(err)
	}
	f.seal(t)
	return f
}

// seal chains every committed event (PostgreSQL), as serve's sealer does
// moments after each commit.
func (f *fixture) seal(t *testing.T) {
	t.Helper()
	if err := NewSealer(f.db, f.rec, slog.New(slog.DiscardHandler), "test", "").SealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) verify(t *testing.T, cps ...*Checkpoint) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), f.db, f.rec.Schema(), f.rec.PublicKey(), cps)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func hasFinding(rep *Report, table, id, field string) bool {
	for _, f := range rep.Findings {
		if f.Table == table && f.RowID == id && (field == "" || f.Field == field) {
			return true
		}
	}
	return false
}

func TestCleanChainVerifies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		rep := f.verify(t)
		if !rep.OK || rep.Events != 5 {
			t.Fatalf("clean chain: %+v", rep)
		}
	})
}

// Each case edits the database the way someone with a SQL client would and
// expects Verify to name the table, the row and (for updates) the field.
func TestOutOfBandEditsAreDetected(t *testing.T) {
	cases := []struct {
		name         string
		sql          string
		table, rowID string
		field        string
	}{
		{"update data row", `UPDATE accounts SET name = 'Evil Corp' WHERE id = 'acc_1'`, "accounts", "acc_1", "name"},
		{"update data row and its row_hash", `UPDATE accounts SET name = 'Evil', row_hash = 'ff' WHERE id = 'acc_3'`, "accounts", "acc_3", "name"},
		{"update only row_hash", `UPDATE accounts SET row_hash = 'ff' WHERE id = 'acc_1'`, "accounts", "acc_1", "row_hash"},
		{"insert data row", `INSERT INTO accounts (id, name, created_at, created_by, row_hash) VALUES ('acc_9', 'Sneaky', '2026-01-01T00:00:00Z', 'x', 'x')`, "accounts", "acc_9", ""},
		{"delete data row", `DELETE FROM accounts WHERE id = 'acc_2'`, "accounts", "acc_2", ""},
		{"update event actor", `UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 2`, "audit_events", "2", "actor"},
		{"update event content", `UPDATE audit_events SET content = '{"id":"acc_1"}' WHERE seq = 1`, "audit_events", "1", "content"},
		{"update event hash", `UPDATE audit_events SET hash = 'abc' WHERE seq = 3`, "audit_events", "3", "hash"},
		{"delete event", `DELETE FROM audit_events WHERE seq = 3`, "audit_events", "3", ""},
		{"update event signature", `UPDATE audit_events SET sig = 'AAAA' WHERE seq = 4`, "audit_events", "4", "sig"},
		{"insert event", `INSERT INTO audit_events (seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash)
			VALUES (99, '2026-11-23T12:00:00Z', 'user:mallory', 'account.created', 'note', 'accounts', 'acc_1', NULL, '', '', 'x', 'y')`, "audit_events", "99", ""},
		{"reorder events", "", "audit_events", "1", ""},
		// SQLite only (a PostgreSQL TEXT column holds text): the value
		// normalizes to the same text, so the row hash matches, while
		// no comparison with a text finds it; a row hidden from every
		// filter for good (docs/design.md §7).
		{"retype a value as a blob", `UPDATE accounts SET name = CAST(name AS BLOB) WHERE id = 'acc_1'`, "accounts", "acc_1", "name"},
		{"retype an id as a blob", `UPDATE accounts SET id = CAST(id AS BLOB) WHERE id = 'acc_2'`, "accounts", "acc_2", "id"},
		{"retype a text as an integer", `UPDATE accounts SET created_by = 7 WHERE id = 'acc_3'`, "accounts", "acc_3", "created_by"},
		// An event moved off its row (its newest, hidden from the lookup
		// a read makes, the row set back to what the event before it
		// vouched for): reads are judged by that older event, and only
		// verify sees the edit (docs/design.md §7).
		{"move an event to another row", `UPDATE audit_events SET entity_id = 'acc_9' WHERE entity_id = 'acc_2' AND op = 'update'`, "audit_events", "4", "entity_id"},
		{"retype an event's entity_id as a blob", `UPDATE audit_events SET entity_id = CAST(entity_id AS BLOB) WHERE entity_id = 'acc_2' AND op = 'update'`, "audit_events", "4", "entity_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := setup(t, db)
				sql := tc.sql
				if db.Dialect() == store.Postgres {
					// A PostgreSQL TEXT column holds text only: a bytea put
					// in it becomes its text form ('\x…'), a changed value.
					sql = strings.ReplaceAll(sql, "AS BLOB", "AS BYTEA")
				}
				if tc.name == "reorder events" {
					// The primary key is checked per row; swap through a free value.
					f.exec(t, `UPDATE audit_events SET seq = 1000 WHERE seq = 1`)
					f.exec(t, `UPDATE audit_events SET seq = 1 WHERE seq = 2`)
					f.exec(t, `UPDATE audit_events SET seq = 2 WHERE seq = 1000`)
				} else {
					f.exec(t, sql)
				}
				rep := f.verify(t)
				if rep.OK {
					t.Fatal("verify passed after an out-of-band edit")
				}
				field := tc.field
				if sql != tc.sql && field == "id" {
					field = "" // on PostgreSQL the row with the old id is gone, one with another inserted
				}
				if !hasFinding(rep, tc.table, tc.rowID, field) {
					t.Fatalf("no finding for %s %s %s in %+v", tc.table, tc.rowID, field, rep.Findings)
				}
			})
		})
	}
}

func TestReadsFailClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		f.exec(t, `UPDATE accounts SET name = 'Evil Corp' WHERE id = 'acc_1'`)
		var a account
		err := f.rec.get(ctx, db, "accounts", "acc_1", &a)
		if !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "accounts row acc_1") || !strings.Contains(err.Error(), "name") {
			t.Fatalf("Get after tampering: %v", err)
		}
		// A legitimate update must not launder the tampered row.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", account{ID: "acc_1", Name: "Fixed", CreatedAt: f.clk.Now(), CreatedBy: "x"})
		})
		if !apperr.IsKind(err, apperr.KindIntegrity) {
			t.Fatalf("update of tampered row: %v", err)
		}
		// An inserted row is refused too.
		f.exec(t, `INSERT INTO accounts (id, name, created_at, created_by, row_hash) VALUES ('acc_9', 'Sneaky', '2026-01-01T00:00:00Z', 'x', 'x')`)
		if _, err := TableOf[account](f.rec, "accounts").Select(ctx, db, `WHERE id = ?`, "acc_9"); !apperr.IsKind(err, apperr.KindIntegrity) {
			t.Fatalf("select of inserted row: %v", err)
		}
		// Untouched rows still read.
		if err := f.rec.get(ctx, db, "accounts", "acc_3", &a); err != nil || a.Name != "Gamma" {
			t.Fatalf("untouched row: %v %+v", err, a)
		}
		if db.Dialect() == store.SQLite {
			// A value retyped as a blob (hidden from text comparisons,
			// same row hash) fails the read that still finds the row.
			f.exec(t, `UPDATE accounts SET created_by = CAST(created_by AS BLOB) WHERE id = 'acc_3'`)
			if err := f.rec.get(ctx, db, "accounts", "acc_3", &a); !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "created_by") {
				t.Fatalf("read of a value retyped as a blob: %v", err)
			}
		}
	})
}

// Someone with the audit key (or a stolen copy of it) could rebuild a chain
// whose signatures verify; only a checkpoint kept outside the database
// catches that. Someone without the key cannot even get that far.
func TestCheckpointDetectsWholesaleRewrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		seq, hash, err := readHeadEvent(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := SignCheckpoint(f.key, seq, hash, f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Verify(f.rec.PublicKey()); err != nil {
			t.Fatal(err)
		}
		if rep := f.verify(t, cp); !rep.OK {
			t.Fatalf("clean chain fails its checkpoint: %+v", rep.Findings)
		}

		// Rewrite history: change a row, then rebuild a consistent chain
		// from scratch, signed with the real key.
		rebuild := func(rec *Recorder) {
			t.Helper()
			f.exec(t, `DELETE FROM audit_events`)
			f.exec(t, `UPDATE audit_head SET seq = 0, head_hash = ''`)
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `DELETE FROM accounts`); err != nil {
					return err
				}
				for _, a := range []account{{ID: "acc_1", Name: "Alpha"}, {ID: "acc_2", Name: "Mallory Ltd"}, {ID: "acc_3", Name: "Gamma"}} {
					a.CreatedAt, a.CreatedBy = f.clk.Now(), "user:alice"
					if err := rec.insert(ctx, tx, "user:alice", "account.created", "accounts", a); err != nil {
						return err
					}
				}
				for i := 0; i < 2; i++ {
					if err := rec.note(ctx, tx, "user:alice", "filler", "accounts", "acc_1", nil); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		rebuild(f.rec)
		if rep := f.verify(t); !rep.OK {
			t.Fatalf("the rebuilt chain should be self-consistent: %+v", rep.Findings)
		}
		rep := f.verify(t, cp)
		// SQLite: event 5 differs from the checkpoint; PostgreSQL: the
		// rebuilt events stay unsealed (the sealer will not go below a
		// checkpoint), so the chain ends before event 5.
		if rep.OK || !hasFinding(rep, "audit_events", "5", "") {
			t.Fatalf("checkpoint did not catch the rewrite: %+v", rep)
		}

		// The same rebuild with a key of the attacker's own fails on every
		// event, with or without a checkpoint.
		evil := newTestKey(t)
		rebuild(newTestRecorder(t, db, f.clk, evil.Public(), evil))
		rep = f.verify(t)
		first := "1"
		if db.Dialect() == store.Postgres {
			// The attacker's events took the sequence's next numbers.
			if err := db.QueryRow(ctx, `SELECT CAST(MIN(seq) AS TEXT) FROM audit_events`).Scan(&first); err != nil {
				t.Fatal(err)
			}
		}
		if rep.OK || !hasFinding(rep, "audit_events", first, "key_id") || !hasFinding(rep, "accounts", "acc_2", "") {
			t.Fatalf("a chain signed with another key passed: %+v", rep.Findings)
		}

		// An altered checkpoint, and one signed by another key, are refused.
		cp2 := *cp
		cp2.Seq = 1
		if err := cp2.Verify(f.rec.PublicKey()); err == nil {
			t.Fatal("altered checkpoint verified")
		}
		cp3, err := SignCheckpoint(evil, seq, hash, f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cp3.Verify(f.rec.PublicKey()); !errors.Is(err, ErrForeignCheckpoint) {
			t.Fatalf("checkpoint signed by another key: %v", err)
		}
	})
}

func TestList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		evs, err := List(ctx, db, Filter{EntityType: "accounts", EntityID: "acc_2"})
		if err != nil || len(evs) != 2 || evs[0].Action != "account.created" || evs[1].Actor != "user:bob" {
			t.Fatalf("by entity: %v %+v", err, evs)
		}
		evs, err = List(ctx, db, Filter{Actor: "user:bob"})
		if err != nil || len(evs) != 2 {
			t.Fatalf("by actor: %v %+v", err, evs)
		}
		evs, err = List(ctx, db, Filter{After: 3, Limit: 1})
		if err != nil || len(evs) != 1 || evs[0].Seq != 4 {
			t.Fatalf("paging: %v %+v", err, evs)
		}
		evs, err = List(ctx, db, Filter{Since: f.clk.Now().Add(-90 * time.Second)})
		if err != nil || len(evs) != 3 {
			t.Fatalf("since: %v, %d events", err, len(evs))
		}
	})
}

// Integrity-checked reads racing with legitimate updates must never report
// tampering: the row and the hash its latest event vouches for are read
// from one snapshot.
func TestReadsRacingUpdatesAreNotTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		done := make(chan struct{})
		errs := make(chan error, 1000)
		go func() {
			defer close(done)
			for i := 0; i < 150; i++ {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					var a account
					if err := f.rec.get(ctx, tx, "accounts", "acc_1", &a); err != nil {
						return err
					}
					a.Name = fmt.Sprintf("Alpha %d", i)
					return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
		for reading := true; reading; {
			select {
			case <-done:
				reading = false
			default:
			}
			var a account
			if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); err != nil {
				errs <- err
			}
			if _, err := TableOf[account](f.rec, "accounts").Select(ctx, db, `ORDER BY id`); err != nil {
				errs <- err
			}
		}
		close(errs)
		for err := range errs {
			t.Fatalf("a read racing an update failed: %v", err)
		}
	})
}
