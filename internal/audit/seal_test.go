package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// The sealer exists on PostgreSQL, where events are numbered by a sequence
// and chained after they commit (seal.go).

func newTestSealer(f *fixture) *Sealer {
	return NewSealer(f.db, f.rec, slog.New(slog.DiscardHandler), "test", "")
}

func headSeq(t *testing.T, db *store.DB) int64 {
	t.Helper()
	seq, _, err := ChainHead(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func gapEvents(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT entity_id FROM audit_events WHERE op = 'gap' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// A number held by a transaction that is still running stops the sealer
// there, even when later numbers have committed: it must not be taken for
// a rollback (a false gap, then a false "inserted" finding when it commits).
func TestSealerWaitsForARunningTransaction(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	s := newTestSealer(f)
	before := headSeq(t, db)

	numbered, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.InTx(ctx, func(tx *store.Tx) error {
			if err := f.rec.note(ctx, tx, "user:slow", "slow", "accounts", "acc_1", nil); err != nil {
				return err
			}
			close(numbered)
			<-finish
			return nil
		})
	}()
	<-numbered
	f.note(t, 2) // later numbers, committed
	for i := 0; i < 5; i++ {
		if _, err := s.SealOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if h := headSeq(t, db); h != before {
		t.Fatalf("sealed to %d past event %d, whose transaction is still running", h, before+1)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.SealAll(ctx); err != nil {
		t.Fatal(err)
	}
	if h := headSeq(t, db); h != before+3 {
		t.Fatalf("head %d, want %d", h, before+3)
	}
	if g := gapEvents(t, db); len(g) != 0 {
		t.Fatalf("gap events for committed numbers: %v", g)
	}
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("findings: %v", rep.Findings)
	}
}

// A rolled-back number becomes a signed gap event; an event deleted after
// sealing is reported, as it was before the sealer.
func TestSealerSignsRolledBackNumbersAndDeletionsStayVisible(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	boom := errors.New("rolled back")
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := f.rec.note(ctx, tx, "user:bob", "will.roll.back", "accounts", "acc_1", nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	f.note(t, 1)
	f.seal(t)
	gaps := gapEvents(t, db)
	if len(gaps) != 1 {
		t.Fatalf("gap events: %v", gaps)
	}
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("a signed gap is not a finding: %v", rep.Findings)
	}
	// An unsigned gap event is one.
	f.exec(t, `UPDATE audit_events SET sig = '' WHERE op = 'gap'`)
	if rep := f.verify(t); rep.OK || !hasFinding(rep, "audit_events", gaps[0], "") {
		t.Fatalf("an unsigned gap passed: %v", rep.Findings)
	}
	f.exec(t, `DELETE FROM audit_events WHERE op = 'gap'`)
	if rep := f.verify(t); rep.OK || !hasFinding(rep, "audit_events", gaps[0], "") {
		t.Fatalf("a deleted sealed event passed: %v", rep.Findings)
	}
}

// Someone who deletes the newest events and moves the head back must not
// get the sealer to record the deleted numbers as signed gaps.
func TestSealerRefusesAHeadMovedBack(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	s := newTestSealer(f)
	f.note(t, 3)
	if err := s.SealAll(ctx); err != nil {
		t.Fatal(err)
	}
	top := headSeq(t, db)
	f.exec(t, `DELETE FROM audit_events WHERE seq > ?`, top-2)
	f.exec(t, `UPDATE audit_head SET seq = ?, head_hash = (SELECT hash FROM audit_events WHERE seq = ?)`, top-2, top-2)
	if _, err := s.SealOnce(ctx); !errors.Is(err, ErrChainCheck) {
		t.Fatalf("sealed over a head moved back: %v", err)
	}
	if g := gapEvents(t, db); len(g) != 0 {
		t.Fatalf("deleted events recorded as gaps: %v", g)
	}
	// (Verify catches such a truncation against a checkpoint; see
	// TestCheckpointCatchesTruncationAndForgery.)
}

// Many writers and a sealer running at once: every event is chained in
// order, none is taken for a gap, and verify is clean.
func TestSealerUnderConcurrentWriters(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	s := newTestSealer(f)
	sealed := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := s.SealOnce(ctx); err != nil && ctx.Err() == nil {
				sealed <- err
				return
			}
		}
		sealed <- nil
	}()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				a := account{ID: fmt.Sprintf("acc_w%d_%d", w, i), Name: "Writer " + strconv.Itoa(w), CreatedAt: f.clk.Now(), CreatedBy: "user:alice"}
				if err := db.InTx(context.Background(), func(tx *store.Tx) error {
					return f.rec.insert(context.Background(), tx, "user:alice", "account.created", "accounts", a)
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	cancel()
	if err := <-sealed; err != nil {
		t.Fatal(err)
	}
	f.seal(t)
	if g := gapEvents(t, db); len(g) != 0 {
		t.Fatalf("committed events taken for gaps: %v", g)
	}
	if rep := f.verify(t); !rep.OK || rep.Events != headSeq(t, db) {
		t.Fatalf("verify: %d events, head %d, findings %v", rep.Events, headSeq(t, db), rep.Findings)
	}
}

// A row judged authentic once is remembered by its exact bytes; an edit
// of the row or of its vouching event after that is still refused.
func TestVerdictCacheNeverHidesAnEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		read := func() error {
			var a account
			return f.rec.get(ctx, db, "accounts", "acc_1", &a)
		}
		for i := 0; i < 2; i++ {
			if err := read(); err != nil {
				t.Fatal(err)
			}
		}
		f.exec(t, `UPDATE accounts SET name = 'Alphb' WHERE id = 'acc_1'`)
		if err := read(); err == nil || !strings.Contains(err.Error(), "name") {
			t.Fatalf("an edited row was served from the cache: %v", err)
		}
		f.exec(t, `UPDATE accounts SET name = 'Alpha' WHERE id = 'acc_1'`)
		if err := read(); err != nil {
			t.Fatalf("the row as vouched for: %v", err)
		}
		f.exec(t, `UPDATE audit_events SET actor = 'user:mallory' WHERE entity_type = 'accounts' AND entity_id = 'acc_1'`)
		if err := read(); err == nil {
			t.Fatal("a row vouched for by an edited event was served from the cache")
		}
	})
}

// TestVerifyBesideWritersFindsNothing with what serve runs beside verify
// on PostgreSQL: many writers inserting and renaming, rolled-back
// numbers, and the sealer chaining behind them. Whatever moment verify's
// snapshot catches (numbers taken and not yet committed, committed events
// not yet sealed, rows renamed over unsealed inserts), it must report
// nothing: a false alarm there is a defect.
func TestVerifyBesideWritersAndSealerFindsNothing(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var db *store.DB
			if backend == "sqlite" {
				db = storetest.OpenSQLite(t)
			} else {
				db = storetest.OpenPostgres(t)
			}
			f := setup(t, db)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var bg sync.WaitGroup
			if backend == "postgres" {
				s := newTestSealer(f)
				bg.Add(1)
				go func() {
					defer bg.Done()
					for ctx.Err() == nil {
						if _, err := s.SealOnce(ctx); err != nil && ctx.Err() == nil {
							t.Errorf("seal: %v", err)
							return
						}
					}
				}()
			}
			// Writers keep going until verify has completed a few times
			// beside them, however slow the machine.
			const minVerifies = 3
			var verifies atomic.Int64
			bg.Add(1)
			go func() {
				defer bg.Done()
				for ctx.Err() == nil {
					rep, err := Verify(ctx, db, f.rec.Schema(), f.rec.PublicKey(), nil)
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						t.Errorf("verify: %v", err)
						return
					}
					if !rep.OK {
						t.Errorf("verify during writes: %v", rep.Findings)
						return
					}
					verifies.Add(1)
				}
			}()
			var wg sync.WaitGroup
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < 30 || verifies.Load() < minVerifies && i < 3000 && !t.Failed(); i++ {
						id := fmt.Sprintf("acc_v%d_%d", w, i)
						err := db.InTx(context.Background(), func(tx *store.Tx) error {
							a := account{ID: id, Name: "Writer " + strconv.Itoa(w), CreatedAt: f.clk.Now(), CreatedBy: "user:alice"}
							return f.rec.insert(context.Background(), tx, "user:alice", "account.created", "accounts", a)
						})
						if err == nil {
							// Rename it at once, often over its unsealed insert.
							err = db.InTx(context.Background(), func(tx *store.Tx) error {
								var a account
								if err := f.rec.get(context.Background(), tx, "accounts", id, &a); err != nil {
									return err
								}
								a.Name += " renamed"
								return f.rec.update(context.Background(), tx, "user:bob", "account.renamed", "accounts", a)
							})
						}
						if err == nil && i%5 == 0 {
							// A rolled-back write leaves a number unused.
							err = db.InTx(context.Background(), func(tx *store.Tx) error {
								if err := f.rec.note(context.Background(), tx, "user:bob", "account.viewed", "accounts", id, map[string]string{"why": "test"}); err != nil {
									return err
								}
								return errRollback
							})
							if errors.Is(err, errRollback) {
								err = nil
							}
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			cancel()
			bg.Wait()
			if t.Failed() {
				return
			}
			if n := verifies.Load(); n < minVerifies {
				t.Fatalf("verify completed %d times during the writes, want %d", n, minVerifies)
			}
			f.seal(t)
			if rep := f.verify(t); !rep.OK {
				t.Fatalf("verify after the writes: %v", rep.Findings)
			}
			t.Logf("%d verifies during the writes", verifies.Load())
		})
	}
}

var errRollback = errors.New("roll back")

// A long write transaction in another database of the same PostgreSQL
// cluster (another application, a migration) holds no event number and
// does not hold sealing up. Before, the sealer waited for the oldest
// running transaction id of a snapshot, which counts every database of the
// cluster, so events stayed unsealed (and checkpoints failed) until that
// transaction ended.
func TestSealerIgnoresTransactionsOfOtherDatabases(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	other, err := sql.Open("pgx", otherDatabase(t, storetest.PostgresDSN(t), "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	var xid string
	if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	f.note(t, 2)
	s := newTestSealer(f)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.SealAll(sctx); err != nil {
		t.Fatalf("sealing beside transaction %s of another database: %v", xid, err)
	}
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("findings: %v", rep.Findings)
	}
}

// otherDatabase returns dsn pointed at database name, without the search
// path of the test's schema.
func otherDatabase(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}

// captureRows reads, inside tx, the rows a query selects, to put them back
// later as an insider would who read them from the server.
func captureRows(ctx context.Context, tx *store.Tx, q string, args ...any) ([]map[string]any, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return store.ScanMaps(rows)
}

// replayRow inserts m into table with plain SQL, outside vetca.
func replayRow(t *testing.T, db *store.DB, table string, m map[string]any) {
	t.Helper()
	cols := make([]string, 0, len(m))
	args := make([]any, 0, len(m))
	for c, v := range m {
		cols = append(cols, c)
		args = append(args, v)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rolledBack runs write in a transaction, captures the event it wrote and
// the rows the capture query selects, and rolls the transaction back.
func rolledBack(t *testing.T, f *fixture, write func(tx *store.Tx) error, rowQuery string, args ...any) (event map[string]any, rows []map[string]any) {
	t.Helper()
	ctx := context.Background()
	boom := errors.New("rolled back")
	err := f.db.InTx(ctx, func(tx *store.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		evs, err := captureRows(ctx, tx, `SELECT * FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)`)
		if err != nil || len(evs) != 1 {
			return fmt.Errorf("capture the event: %v (%d rows)", err, len(evs))
		}
		event = evs[0]
		if rowQuery != "" {
			if rows, err = captureRows(ctx, tx, rowQuery, args...); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	return event, rows
}

func hasFindingSaying(rep *Report, table, id, field, text string) bool {
	for _, fd := range rep.Findings {
		if fd.Table == table && fd.RowID == id && (field == "" || fd.Field == field) && strings.Contains(fd.Message, text) {
			return true
		}
	}
	return false
}

// On PostgreSQL an event is signed before its transaction commits. An
// insider who reads a rolled-back transaction's event and row from the
// server (dead tuples, the write-ahead log) and inserts both before the
// sealer reaches the number must not make a write vetca refused part of
// the record: the event carries its transaction's id, and the row holding
// it was written by another. Reads refuse the row at once, verify names
// both, and the sealer takes the event out and seals the number as a gap,
// keeping the event in a signed note.
func TestRolledBackEventPutBackIsRefused(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	ev, rows := rolledBack(t, f, func(tx *store.Tx) error {
		return f.rec.insert(ctx, tx, "user:mallory", "account.created", "accounts",
			account{ID: "acc_9", Name: "Zeta", CreatedAt: f.clk.Now(), CreatedBy: "user:mallory"})
	}, `SELECT * FROM accounts WHERE id = 'acc_9'`)
	if xid, _ := ev["xid"].(string); xid == "" {
		t.Fatal("the event was written without its transaction's id")
	}
	replayRow(t, db, "accounts", rows[0])
	replayRow(t, db, "audit_events", ev)
	seq := strconv.FormatInt(ev["seq"].(int64), 10)

	var a account
	if err := f.rec.get(ctx, db, "accounts", "acc_9", &a); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("read of the put-back row: %v, want an integrity error", err)
	}
	rep := f.verify(t)
	if !hasFindingSaying(rep, "audit_events", seq, "xid", "rolled back") || !hasFindingSaying(rep, "accounts", "acc_9", "", "rolled back") {
		t.Fatalf("verify before sealing: %v", rep.Findings)
	}

	f.seal(t)
	if g := gapEvents(t, db); !slices.Contains(g, seq) {
		t.Fatalf("event %s was chained, not sealed as a gap (gaps %v)", seq, g)
	}
	if err := f.rec.get(ctx, db, "accounts", "acc_9", &a); err == nil {
		t.Fatal("the put-back row reads as authentic after sealing")
	}
	rep = f.verify(t)
	if !hasRemovedNote(rep, seq) {
		t.Fatalf("no finding for the removed event: %v", rep.Findings)
	}
	if !hasFindingSaying(rep, "accounts", "acc_9", "", "no audit event") {
		t.Fatalf("the put-back row is not reported: %v", rep.Findings)
	}
}

func hasRemovedNote(rep *Report, seq string) bool {
	for _, fd := range rep.Findings {
		if fd.Field == "action" && strings.Contains(fd.Message, "sealer removed") && strings.Contains(fd.Message, `"seq":`+seq+`,`) {
			return true
		}
	}
	return false
}

// The same for a delete that rolled back: the row removed outside vetca
// and the delete event put back must not read as "never existed".
func TestRolledBackDeletePutBackIsRefused(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	ev, _ := rolledBack(t, f, func(tx *store.Tx) error {
		return f.rec.delete(ctx, tx, "user:mallory", "account.deleted", "accounts", "acc_3")
	}, "")
	f.exec(t, `DELETE FROM accounts WHERE id = 'acc_3'`)
	replayRow(t, db, "audit_events", ev)

	var a account
	err := f.rec.get(ctx, db, "accounts", "acc_3", &a)
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("read of the row whose delete rolled back: %v, want an integrity error", err)
	}
	f.seal(t)
	if err := f.rec.get(ctx, db, "accounts", "acc_3", &a); err == nil || !strings.Contains(err.Error(), "deleted outside vetca") {
		t.Fatalf("read after sealing: %v, want the row reported deleted outside vetca", err)
	}
}

// The writer check compares the 64-bit transaction id the event was signed
// with against the row's 32-bit xmin.
func TestWrittenBy(t *testing.T) {
	for _, c := range []struct {
		writer, xid string
		want        bool
	}{
		{"727", "727", true},
		{"5", strconv.FormatUint(1<<32+5, 10), true}, // after wraparound, with its epoch
		{"6", "5", false},
		{"", "5", false},
		{"5", "", false},
		{"5", "5x", false},
		{"4294967301", "4294967301", false}, // xmin never exceeds 32 bits
	} {
		if got := writtenBy(c.writer, c.xid); got != c.want {
			t.Errorf("writtenBy(%q, %q) = %v, want %v", c.writer, c.xid, got, c.want)
		}
	}
}

// A logical copy of the database (pg_dump and pg_restore, or any copy made
// with SQL) taken while committed events are not sealed yet rewrites their
// rows: each is then written by the restoring transaction, not by the one
// it was signed in. Those events committed; the sealer must chain them,
// and reads must accept the rows they vouch for, not take them for the
// events of rolled-back writes and delete them.
func TestCommittedEventCopiedBackIsKept(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return f.rec.insert(ctx, tx, "user:alice", "account.created", "accounts",
			account{ID: "acc_r", Name: "Restored", CreatedAt: f.clk.Now(), CreatedBy: "user:alice"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, q := range []string{
			`CREATE TEMP TABLE copied_events ON COMMIT DROP AS SELECT * FROM audit_events`,
			`DELETE FROM audit_events`,
			`INSERT INTO audit_events SELECT * FROM copied_events`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var a account
	if err := f.rec.get(ctx, db, "accounts", "acc_r", &a); err != nil {
		t.Fatalf("read of a committed row after the copy: %v", err)
	}
	if rep := f.verify(t); len(rep.Findings) != 0 {
		t.Fatalf("verify before sealing: %v", rep.Findings)
	}
	f.seal(t)
	if rep := f.verify(t); len(rep.Findings) != 0 {
		t.Fatalf("verify after sealing: %v", rep.Findings)
	}
	if err := f.rec.get(ctx, db, "accounts", "acc_r", &a); err != nil {
		t.Fatalf("read after sealing: %v", err)
	}
}

// Writers on several connections at once, some rolling back and some
// retried after a concurrent update, with the sealer and integrity-checked
// reads running beside them: the sealer takes no committed event for one
// that rolled back, reads never refuse a row as such, and the trail
// verifies.
func TestConcurrentWritersLoseNoEvent(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx, stop := context.WithCancel(context.Background())
	errs := make(chan error, 100)
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for s := newTestSealer(f); ctx.Err() == nil; time.Sleep(time.Millisecond) {
			if _, err := s.SealOnce(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("seal: %w", err)
			}
		}
	}()
	go func() {
		defer bg.Done()
		for ctx.Err() == nil {
			var a account
			if err := f.rec.get(ctx, db, "accounts", "acc_2", &a); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("read: %w", err)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := concurrentWrite(f, g, i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	stop()
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f.seal(t)
	var removed int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = ?`, ActionRemovedEvent).Scan(&removed); err != nil || removed != 0 {
		t.Fatalf("%d committed events removed as rolled back (%v)", removed, err)
	}
	if rep := f.verify(t); len(rep.Findings) != 0 {
		t.Fatalf("verify: %v", rep.Findings)
	}
}

var errOnPurpose = errors.New("rolled back on purpose")

// concurrentWrite inserts an account and renames acc_2 in one transaction,
// which every fifth call rolls back.
func concurrentWrite(f *fixture, g, i int) error {
	ctx := context.Background()
	err := f.db.InTx(ctx, func(tx *store.Tx) error {
		if err := f.rec.insert(ctx, tx, "user:alice", "account.created", "accounts",
			account{ID: fmt.Sprintf("acc_g%d_%d", g, i), Name: "N", CreatedAt: f.clk.Now(), CreatedBy: "user:alice"}); err != nil {
			return err
		}
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_2", &a); err != nil {
			return err
		}
		a.Name = fmt.Sprintf("Beta %d %d", g, i)
		if err := f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a); err != nil {
			return err
		}
		if i%5 == 4 {
			return errOnPurpose
		}
		return nil
	})
	if err == nil || errors.Is(err, errOnPurpose) || errors.Is(err, store.ErrConcurrentUpdate) {
		return nil
	}
	return fmt.Errorf("write %d/%d: %w", g, i, err)
}

// The corrective restore of a change request puts a row back to what its
// latest event vouches for. While a rolled-back write's event, put back
// outside vetca, is that latest event (before the sealer removes it), the
// restore must refuse: it would otherwise write the rolled-back content
// again with an authentic event of its own, and the write vetca refused
// would become part of the record for good.
func TestRestoreRefusesARolledBackEventPutBack(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	ev, _ := rolledBack(t, f, func(tx *store.Tx) error {
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_1", &a); err != nil {
			return err
		}
		a.Name = "Mallory's"
		return f.rec.update(ctx, tx, "user:mallory", "account.renamed", "accounts", a)
	}, "")
	f.exec(t, `UPDATE accounts SET name = 'Mallory''s' WHERE id = 'acc_1'`)
	replayRow(t, db, "audit_events", ev)

	var did string
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		did, err = f.rec.Restore(ctx, tx, "user:alice", "change.applied", "accounts", "acc_1")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("restore to the put-back event: %q, %v; want an integrity error", did, err)
	}
	f.seal(t)
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		did, err = f.rec.Restore(ctx, tx, "user:alice", "change.applied", "accounts", "acc_1")
		return err
	}); err != nil || did != "rewritten" {
		t.Fatalf("restore once the sealer removed the event: %q, %v", did, err)
	}
	var a account
	if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); err != nil || a.Name != "Alpha" {
		t.Fatalf("after the restore: %+v, %v; want Alpha", a, err)
	}
}

// Linking an event needs no key. An insider who puts a rolled-back event
// back already linked to the head, and moves the head row over it, must
// not get it past the sealer, nor past verify: the head row is signed by
// the sealer each time it moves it, and this one is not.
func TestHeadMovedOverAnEventLinkedOutsideVetcaIsRefused(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	head, prev, err := ChainHead(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ev, rows := rolledBack(t, f, func(tx *store.Tx) error {
		return f.rec.insert(ctx, tx, "user:mallory", "account.created", "accounts",
			account{ID: "acc_9", Name: "Zeta", CreatedAt: f.clk.Now(), CreatedBy: "user:mallory"})
	}, `SELECT * FROM accounts WHERE id = 'acc_9'`)
	if ev["seq"].(int64) != head+1 {
		t.Fatalf("the rolled-back event is %d, not next to the head %d", ev["seq"], head)
	}
	replayRow(t, db, "accounts", rows[0])
	replayRow(t, db, "audit_events", ev)
	e, ok, err := queryEvent(ctx, db, `WHERE seq = ?`, head+1)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	e.PrevHash = prev
	e.Hash = e.ComputeHash()
	f.exec(t, `UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?`, e.PrevHash, e.Hash, e.Seq)
	f.exec(t, `UPDATE audit_head SET seq = ?, head_hash = ? WHERE id = 1`, e.Seq, e.Hash)

	if err := newTestSealer(f).SealAll(ctx); !errors.Is(err, ErrChainCheck) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("sealing past a head moved outside vetca: %v, want a refusal", err)
	}
	rep := f.verify(t)
	if !hasFinding(rep, "audit_head", "1", "sig") {
		t.Fatalf("verify does not report the head moved outside vetca: %v", rep.Findings)
	}
}
