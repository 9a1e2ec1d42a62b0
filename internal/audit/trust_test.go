package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// The insider of the wrong-country incident: full write access to the
// database and vetca's source, but not the audit key. Each way such a
// person can make an edit look consistent must still be refused by reads
// for decisions and reported by Verify, naming the table and row.
func TestConsistentForgeryIsCaught(t *testing.T) {
	forgeries := []struct {
		name  string
		forge func(t *testing.T, f *fixture)
	}{
		{"SQL edit with recomputed row hash and a well-chained unsigned event", func(t *testing.T, f *fixture) {
			forgeBySQL(t, f, "")
		}},
		{"the same with a signature copied from another event", func(t *testing.T, f *fixture) {
			var sig string
			if err := f.db.QueryRow(context.Background(), `SELECT sig FROM audit_events WHERE seq = 4`).Scan(&sig); err != nil {
				t.Fatal(err)
			}
			forgeBySQL(t, f, sig)
		}},
		{"vetca's own code run with a key of the attacker's own", func(t *testing.T, f *fixture) {
			evil := newTestKey(t)
			rec := newTestRecorder(t, f.db, f.clk, evil.Public(), evil)
			ctx := context.Background()
			if err := f.db.InTx(ctx, func(tx *store.Tx) error {
				var a account
				if err := rec.get(ctx, tx, "accounts", "acc_1", &a); err == nil {
					t.Error("the attacker's recorder trusted the real trail")
				}
				// The attacker writes rows directly, then vouches for them.
				if _, err := tx.Exec(ctx, `UPDATE accounts SET name = 'Mallory Ltd' WHERE id = 'acc_1'`); err != nil {
					return err
				}
				a = account{ID: "acc_1", Name: "Mallory Ltd", CreatedAt: f.clk.Now().Add(-3 * time.Minute), CreatedBy: "user:alice"} // as setup created it
				row, content, hash, err := rec.prepare(mustTable(t, rec, "accounts"), a)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE accounts SET row_hash = ? WHERE id = ?`, hash, row["id"]); err != nil {
					return err
				}
				return rec.append(ctx, tx, &Event{Actor: "user:alice", Action: "account.renamed", Op: OpUpdate, EntityType: "accounts", EntityID: "acc_1", Content: &content, RowHash: hash}, "")
			}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range forgeries {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := setup(t, db)
				tc.forge(t, f)
				ctx := context.Background()
				var a account
				err := f.rec.get(ctx, db, "accounts", "acc_1", &a)
				if !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "accounts row acc_1") || !strings.Contains(err.Error(), "audit key") {
					t.Fatalf("a decision read accepted the forged row: %v (%+v)", err, a)
				}
				if _, err := TableOf[account](f.rec, "accounts").Select(ctx, db, `ORDER BY id`); !apperr.IsKind(err, apperr.KindIntegrity) {
					t.Fatalf("Select accepted the forged row: %v", err)
				}
				rep := f.verify(t)
				if rep.OK || !hasFinding(rep, "audit_events", "6", "") || !hasFinding(rep, "accounts", "acc_1", "") {
					t.Fatalf("verify missed the forgery: %+v", rep.Findings)
				}
				// A later legitimate write cannot launder it.
				err = db.InTx(ctx, func(tx *store.Tx) error {
					return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", account{ID: "acc_1", Name: "Alpha 2", CreatedAt: f.clk.Now(), CreatedBy: "x"})
				})
				if !apperr.IsKind(err, apperr.KindIntegrity) {
					t.Fatalf("update over a forged row: %v", err)
				}
			})
		})
	}
}

// forgeBySQL edits a row, recomputes its row hash and appends an event that
// links to the chain head, as someone reading vetca's source would, with
// the given signature.
func forgeBySQL(t *testing.T, f *fixture, sig string) {
	t.Helper()
	ctx := context.Background()
	a := account{ID: "acc_1", Name: "Mallory Ltd", CreatedAt: f.clk.Now().Add(-3 * time.Minute), CreatedBy: "user:alice"} // as setup created it
	row, content, hash, err := f.rec.prepare(mustTable(t, f.rec, "accounts"), a)
	if err != nil {
		t.Fatal(err)
	}
	f.exec(t, `UPDATE accounts SET name = ?, row_hash = ? WHERE id = ?`, "Mallory Ltd", hash, row["id"])
	seq, prev, err := ChainHead(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	e := &Event{Seq: seq + 1, At: f.clk.Now(), Actor: "user:alice", Action: "account.renamed", Op: OpUpdate, EntityType: "accounts", EntityID: "acc_1",
		Content: &content, RowHash: hash, PrevHash: prev, KeyID: f.rec.PublicKey().ID(), Sig: sig}
	e.FieldHashes = fieldHashes(e)
	e.Hash = e.ComputeHash()
	f.exec(t, insertEventSQL, e.insertArgs()...)
	f.exec(t, `UPDATE audit_head SET seq = ?, head_hash = ? WHERE id = 1`, e.Seq, e.Hash)
}

func mustTable(t *testing.T, r *Recorder, name string) *store.Table {
	t.Helper()
	tb, err := r.table(name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// A process without the audit key writes nothing.
func TestWritesNeedTheAuditKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		ro := newTestRecorder(t, db, f.clk, f.rec.PublicKey(), nil)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			return ro.insert(ctx, tx, "user:mallory", "account.created", "accounts", account{ID: "acc_x", Name: "X", CreatedAt: f.clk.Now(), CreatedBy: "x"})
		})
		if !errors.Is(err, ErrNoAuditKey) {
			t.Fatalf("write without the key: %v", err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE id = 'acc_x'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows written: %d %v", n, err)
		}
		// Reads work with the public key alone.
		var a account
		if err := ro.get(ctx, db, "accounts", "acc_2", &a); err != nil || a.Name != "Beta Renamed" {
			t.Fatalf("read with the public key: %v %+v", err, a)
		}
		// A key that is not the pinned one is refused outright.
		if _, err := NewRecorder(f.rec.Schema(), f.clk, f.rec.PublicKey(), newTestKey(t)); err == nil {
			t.Fatal("a recorder accepted a key that is not the pinned one")
		}
	})
}

func newCheckpointer(t *testing.T, f *fixture, dir string, every time.Duration, burst int64) *Checkpointer {
	return NewCheckpointer(f.db, f.rec, f.clk, CheckpointerConfig{Dir: dir, Every: every, Burst: burst, Holder: "test"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (f *fixture) note(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := f.db.InTx(ctx, func(tx *store.Tx) error {
			return f.rec.note(ctx, tx, "user:bob", "account.viewed", "accounts", "acc_1", nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// The serving process signs the chain head on schedule (clock injected),
// and after a burst of writes, into a directory outside the database and
// into the database.
func TestCheckpointsOnSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		dir := filepath.Join(t.TempDir(), "checkpoints")
		c := newCheckpointer(t, f, dir, 15*time.Minute, 10)

		cp, err := c.RunOnce(ctx)
		if err != nil || cp == nil || cp.Seq != 5 {
			t.Fatalf("first checkpoint: %+v %v", cp, err)
		}
		if cp, err := c.RunOnce(ctx); err != nil || cp != nil {
			t.Fatalf("nothing new, but: %+v %v", cp, err)
		}
		f.note(t, 3)
		f.clk.Advance(14 * time.Minute)
		if cp, err := c.RunOnce(ctx); err != nil || cp != nil {
			t.Fatalf("not yet due, but: %+v %v", cp, err)
		}
		f.clk.Advance(time.Minute)
		if cp, err := c.RunOnce(ctx); err != nil || cp == nil || cp.Seq != 8 {
			t.Fatalf("due after 15 minutes: %+v %v", cp, err)
		}
		f.note(t, 10)
		if cp, err := c.RunOnce(ctx); err != nil || cp == nil || cp.Seq != 18 {
			t.Fatalf("due after a burst of 10 events: %+v %v", cp, err)
		}
		set, err := LoadCheckpoints(ctx, db, dir, f.rec.PublicKey())
		if err != nil || len(set.Findings) != 0 {
			t.Fatalf("load: %v %+v", err, set)
		}
		files, dbRows := 0, 0
		for _, c := range set.Trusted {
			if c.Source == "database" {
				dbRows++
			} else {
				files++
			}
		}
		if files != 3 || dbRows != 3 || set.Newest().Seq != 18 {
			t.Fatalf("files %d, rows %d, newest %+v", files, dbRows, set.Newest())
		}
		if rep := f.verify(t, set.Trusted...); !rep.OK {
			t.Fatalf("verify against the checkpoints: %+v", rep.Findings)
		}

		// Only the lease holder writes.
		f.note(t, 10)
		other := NewCheckpointer(db, f.rec, f.clk, CheckpointerConfig{Dir: dir, Holder: "other", Burst: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if cp, err := other.RunOnce(ctx); err != nil || cp != nil {
			t.Fatalf("a second replica wrote a checkpoint while the lease was held: %+v %v", cp, err)
		}
	})
}

// A chain truncated after the latest automatic checkpoint is reported by
// Verify, and the checkpointer refuses to sign over it or over a forgery.
func TestCheckpointCatchesTruncationAndForgery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		dir := t.TempDir()
		c := newCheckpointer(t, f, dir, time.Minute, 1000)
		f.note(t, 5)
		if cp, err := c.RunOnce(ctx); err != nil || cp == nil || cp.Seq != 10 {
			t.Fatalf("checkpoint: %+v %v", cp, err)
		}
		// Truncate: the last three events, and the database's checkpoints.
		f.exec(t, `DELETE FROM audit_events WHERE seq > 7`)
		f.exec(t, `DELETE FROM audit_checkpoints`)
		f.exec(t, `UPDATE audit_head SET seq = 7, head_hash = (SELECT hash FROM audit_events WHERE seq = 7)`)
		set, err := LoadCheckpoints(ctx, db, dir, f.rec.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		rep := f.verify(t, set.Trusted...)
		if rep.OK || !hasFinding(rep, "audit_events", "10", "") {
			t.Fatalf("truncation not reported: %+v", rep.Findings)
		}
		f.clk.Advance(time.Hour)
		if _, err := c.RunOnce(ctx); !errors.Is(err, ErrChainCheck) {
			t.Fatalf("checkpoint over a truncated chain: %v", err)
		}

		// A forged event after the checkpoint is never signed over (on a
		// fresh database of the same backend).
		fresh := storetest.OpenSQLite
		if db.Dialect() == store.Postgres {
			fresh = storetest.OpenPostgres
		}
		g := setup(t, fresh(t))
		gc := newCheckpointer(t, g, "", time.Minute, 1)
		if cp, err := gc.RunOnce(ctx); err != nil || cp == nil {
			t.Fatalf("checkpoint: %+v %v", cp, err)
		}
		forgeBySQL(t, g, "")
		if cp, err := gc.RunOnce(ctx); !errors.Is(err, ErrChainCheck) || cp != nil {
			t.Fatalf("a checkpoint was signed over a forged event: %+v %v", cp, err)
		}
	})
}

// Checkpoints signed by another installation's key are refused by name.
func TestForeignCheckpointsAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		dir := t.TempDir()
		evil := newTestKey(t)
		cp, err := SignCheckpoint(evil, 5, "ab", f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		path, err := WriteCheckpointFile(dir, cp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCheckpoint(path, f.rec.PublicKey()); !errors.Is(err, ErrForeignCheckpoint) || !strings.Contains(err.Error(), short(evil.Public().ID())) {
			t.Fatalf("read a foreign checkpoint: %v", err)
		}
		set, err := LoadCheckpoints(ctx, f.db, dir, f.rec.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Trusted) != 0 || len(set.Findings) != 1 || set.Findings[0].RowID != path {
			t.Fatalf("foreign checkpoint in the directory: %+v", set)
		}
		if err := os.WriteFile(filepath.Join(dir, "checkpoint-x.json"), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
		if set, err = LoadCheckpoints(ctx, f.db, dir, f.rec.PublicKey()); err != nil || len(set.Findings) != 2 {
			t.Fatalf("garbage checkpoint file: %v %+v", err, set)
		}
	})
}

// A row deleted by SQL is not "not found" to a decision read: the trail
// says it exists, so the read fails closed naming it.
func TestDeletedRowIsNotNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		var a account
		if err := f.rec.get(ctx, db, "accounts", "acc_404", &a); !apperr.IsKind(err, apperr.KindNotFound) {
			t.Fatalf("a row that never existed: %v", err)
		}
		f.exec(t, `DELETE FROM accounts WHERE id = 'acc_3'`)
		err := f.rec.get(ctx, db, "accounts", "acc_3", &a)
		if !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "accounts row acc_3") || !strings.Contains(err.Error(), "deleted outside vetca") {
			t.Fatalf("a row deleted by SQL: %v", err)
		}
		// Deleted through vetca, it is simply not found.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return f.rec.delete(ctx, tx, "user:bob", "account.deleted", "accounts", "acc_1")
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); !apperr.IsKind(err, apperr.KindNotFound) {
			t.Fatalf("a row deleted through vetca: %v", err)
		}
	})
}

// A read that found no row, and whose next statement sees the row's insert
// event, raced an insert (PostgreSQL READ COMMITTED, or SQLite outside a
// transaction): the row is there now, so it was not deleted, and the
// answer is not found. Replicas started together hit this as each records
// the installation's settings.
func TestRowInsertedAfterTheReadIsNotFoundNotDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		tab, err := f.rec.table("accounts")
		if err != nil {
			t.Fatal(err)
		}
		// acc_3 is there: the read that found no row ran before its insert.
		if err := f.rec.absent(context.Background(), db, tab, "acc_3"); !apperr.IsKind(err, apperr.KindNotFound) {
			t.Fatalf("a row inserted after the read: %v", err)
		}
		// Gone from both statements' view, it was deleted outside vetca.
		f.exec(t, `DELETE FROM accounts WHERE id = 'acc_3'`)
		if err := f.rec.absent(context.Background(), db, tab, "acc_3"); !apperr.IsKind(err, apperr.KindIntegrity) {
			t.Fatalf("a row deleted by SQL: %v", err)
		}
	})
}

// Verify runs beside writers (serve verifies on a schedule, and operators
// run `vetca audit verify` against a live database): a row updated after
// the events were read must not be reported as edited outside vetca.
// Events and rows are read in one snapshot.
func TestVerifyBesideWritersFindsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			for i := 0; ctx.Err() == nil; i++ {
				a := account{ID: "acc_2", Name: fmt.Sprintf("Beta %d", i), CreatedAt: f.clk.Now(), CreatedBy: "user:alice"}
				if err := db.InTx(ctx, func(tx *store.Tx) error {
					return f.rec.update(ctx, tx, "user:alice", "account.renamed", "accounts", a)
				}); err != nil && ctx.Err() == nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for i := 0; i < 40; i++ {
			if rep := f.verify(t); !rep.OK {
				cancel()
				t.Fatalf("verify %d beside a writer reported %+v", i, rep.Findings)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// The newest checkpoint is the newest that verifies, however many rows
// written by SQL (unsigned, or signed by another key) sit above it in the
// database: before, only the 20 highest were read, so 25 planted rows hid
// every real checkpoint from the sealer and the checkpointer.
func TestPlantedCheckpointRowsHideNoRealOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		real, err := SignCheckpoint(f.key, 10, strings.Repeat("ab", 32), f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := StoreCheckpoint(ctx, db, real); err != nil {
			t.Fatal(err)
		}
		evil := newTestKey(t)
		for i := int64(0); i < 25; i++ {
			planted, err := SignCheckpoint(evil, 1000+i, strings.Repeat("cd", 32), f.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := StoreCheckpoint(ctx, db, planted); err != nil {
				t.Fatal(err)
			}
		}
		got, err := NewestCheckpoint(ctx, db, "", f.rec.PublicKey())
		if err != nil || got == nil || got.Seq != 10 {
			t.Fatalf("newest checkpoint under 25 planted rows: %+v %v, want the real one at 10", got, err)
		}
	})
}
