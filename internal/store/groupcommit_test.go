package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// groupOfThree runs first, then second and third queued behind it, so that
// the three share one SQLite transaction: first's function waits until the
// other two are queued on the write semaphore.
func groupOfThree(t *testing.T, db *store.DB, first, second, third func(tx *store.Tx) error, secondCtx context.Context) (e1, e2, e3 error) {
	t.Helper()
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var once sync.Once
		e1 = db.InTx(ctx, func(tx *store.Tx) error {
			once.Do(func() { close(started); <-release })
			return first(tx)
		})
	}()
	<-started // first holds the write semaphore
	go func() { defer wg.Done(); e2 = db.InTx(secondCtx, second) }()
	for db.Queued() < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() { defer wg.Done(); e3 = db.InTx(ctx, third) }()
	for db.Queued() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	return e1, e2, e3
}

func insertLease(name string) func(tx *store.Tx) error {
	return func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO leases (name, holder, expires_at) VALUES (?, 'h', 'e')`, name)
		return err
	}
}

func leases(t *testing.T, db *store.DB) map[string]bool {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT name FROM leases`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[n] = true
	}
	return out
}

// TestGroupCommitUndoesOnlyTheFailedCaller: three callers share one commit;
// the one whose function fails after writing loses its write, the other
// two keep theirs, and all three had one fsync between them.
func TestGroupCommitUndoesOnlyTheFailedCaller(t *testing.T) {
	db := storetest.OpenSQLite(t)
	boom := errors.New("boom")
	before := db.GroupCommits()
	e1, e2, e3 := groupOfThree(t, db, insertLease("one"), func(tx *store.Tx) error {
		if err := insertLease("two")(tx); err != nil {
			return err
		}
		return boom
	}, insertLease("three"), context.Background())
	if e1 != nil || !errors.Is(e2, boom) || e3 != nil {
		t.Fatalf("errors: %v / %v / %v", e1, e2, e3)
	}
	got := leases(t, db)
	if !got["one"] || got["two"] || !got["three"] || len(got) != 3-1 {
		t.Fatalf("rows after the group: %v", got)
	}
	if n := db.GroupCommits() - before; n != 1 {
		t.Fatalf("%d commits for one group of three", n)
	}
}

// TestGroupCommitIgnoresAnotherCallersCancellation: a caller whose context
// is cancelled while its statement runs in the shared transaction must not
// interrupt it (SQLite would roll back everyone's writes); its own writes
// commit, so it is told so.
func TestGroupCommitIgnoresAnotherCallersCancellation(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := db.GroupCommits()
	e1, e2, e3 := groupOfThree(t, db, insertLease("one"), func(tx *store.Tx) error {
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, expires_at)
			WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000) SELECT 'bulk' || n, 'h', 'e' FROM c`)
		return err
	}, insertLease("three"), ctx)
	if e1 != nil || e2 != nil || e3 != nil {
		t.Fatalf("errors: %v / %v / %v", e1, e2, e3)
	}
	if got := leases(t, db); len(got) != 200002 || !got["one"] || !got["three"] {
		t.Fatalf("%d rows after the group", len(got))
	}
	if n := db.GroupCommits() - before; n != 1 {
		t.Fatalf("%d commits: the group was aborted and retried", n)
	}
}

// TestGroupCommitSuccessIsDurable: when InTx returns nil, another
// connection (another process) reads the write.
func TestGroupCommitSuccessIsDurable(t *testing.T) {
	db := storetest.OpenSQLite(t)
	dsn := db.DSN()
	other, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := time.Duration(i).String()
			if err := db.InTx(context.Background(), insertLease(name)); err != nil {
				t.Error(err)
				return
			}
			var n int
			if err := other.QueryRow(context.Background(), `SELECT COUNT(*) FROM leases WHERE name = ?`, name).Scan(&n); err != nil || n != 1 {
				t.Errorf("%s: acknowledged but not visible elsewhere (%d, %v)", name, n, err)
			}
		}(i)
	}
	wg.Wait()
}

// Every SQLite connection keeps temporary files, and so the savepoint
// journal, in memory: each group commit caller runs in a savepoint, and
// with the default (a file) each page a caller changes was first copied to
// a temporary file with a pwrite, inside the write lock.
func TestSQLiteKeepsSavepointJournalsInMemory(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	const conns = 4
	var wg sync.WaitGroup
	got := make(chan int, conns)
	ready := make(chan struct{}, conns)
	release := make(chan struct{})
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Read transactions held open at once use as many connections.
			err := db.ReadTx(ctx, func(tx *store.Tx) error {
				var v int
				if err := tx.QueryRow(ctx, `PRAGMA temp_store`).Scan(&v); err != nil {
					return err
				}
				got <- v
				ready <- struct{}{}
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	for i := 0; i < conns; i++ {
		<-ready
	}
	close(release)
	wg.Wait()
	close(got)
	for v := range got {
		if v != 2 {
			t.Fatalf("PRAGMA temp_store = %d on a pooled connection, want 2 (MEMORY)", v)
		}
	}
}
