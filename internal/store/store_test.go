package store_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

type thing struct {
	ID      string    `db:"id"`
	Name    string    `db:"name"`
	Roles   []string  `db:"roles,json"`
	Created time.Time `db:"created_at"`
	Off     bool      `db:"disabled"`
}

func TestRebind(t *testing.T) {
	got := store.Postgres.Rebind(`SELECT '?' , a FROM t WHERE b = ? AND c = ?`)
	if want := `SELECT '?' , a FROM t WHERE b = $1 AND c = $2`; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if q := "a = ?"; store.SQLite.Rebind(q) != q {
		t.Fatal("sqlite must not rebind")
	}
}

func TestMigrateIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		res, err := db.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 0 || res.From != res.To {
			t.Fatalf("second migrate changed something: %+v", res)
		}
	})
}

// TestSchemaParity proves both migration sets create the same tables with
// the same columns and portable kinds, so row hashes agree across backends.
func TestSchemaParity(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	sq := storetest.OpenSQLite(t)
	pg := storetest.OpenPostgres(t)
	a, err := store.LoadSchema(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.LoadSchema(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range a.Tables() {
		if name == "goose_db_version" {
			continue
		}
		ta, _ := a.Table(name)
		tb, ok := b.Table(name)
		if !ok {
			t.Errorf("table %s missing on postgres", name)
			continue
		}
		if len(ta.Columns) != len(tb.Columns) {
			t.Errorf("table %s: %d columns on sqlite, %d on postgres", name, len(ta.Columns), len(tb.Columns))
			continue
		}
		for i := range ta.Columns {
			if ta.Columns[i] != tb.Columns[i] {
				t.Errorf("table %s: column %v on sqlite, %v on postgres", name, ta.Columns[i], tb.Columns[i])
			}
		}
	}
	if len(a.Tables()) != len(b.Tables()) {
		t.Errorf("sqlite tables %v, postgres tables %v", a.Tables(), b.Tables())
	}
}

func TestCodecRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := thing{ID: "u1", Name: "alice", Roles: []string{"admin", "verifier"}, Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Off: true}
		m, err := store.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(ctx, `INSERT INTO users (id, name, roles, email, created_at, created_by, disabled, row_hash) VALUES (?, ?, ?, '', ?, 'test', ?, '')`,
			m["id"], m["name"], m["roles"], m["created_at"], m["disabled"])
		if err != nil {
			t.Fatal(err)
		}
		all, err := store.SelectUnchecked[thing](ctx, db, `SELECT * FROM users WHERE id = ?`, "u1")
		if err != nil || len(all) != 1 {
			t.Fatal(err, all)
		}
		out := all[0]
		if out.Name != in.Name || !out.Created.Equal(in.Created) || !out.Off || len(out.Roles) != 2 || out.Roles[1] != "verifier" {
			t.Fatalf("round trip: %+v", out)
		}
		// users is audited: the plain decoders refuse it, whatever the
		// query's shape, so no call site can skip the integrity check.
		for _, q := range []string{`SELECT * FROM users WHERE id = ?`, `SELECT u.* FROM leases l JOIN users u ON u.id = l.holder WHERE l.name = ?`} {
			if _, err := store.Get[thing](ctx, db, q, "u1"); err == nil || !strings.Contains(err.Error(), "audited") {
				t.Fatalf("%s: want a refusal, got %v", q, err)
			}
		}
		type lease struct {
			Name string `db:"name"`
		}
		if _, err := store.Get[lease](ctx, db, `SELECT name FROM leases WHERE name = ?`, "nope"); err != store.ErrNotFound {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ('x', 'h', 'e')`); err != nil {
				return err
			}
			return context.Canceled
		})
		if err != context.Canceled {
			t.Fatalf("got %v", err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM leases`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rollback left %d rows (%v)", n, err)
		}
	})
}

func TestLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ok, err := db.AcquireLease(ctx, "crl", "a", now, time.Minute)
		if err != nil || !ok {
			t.Fatalf("a first: %v %v", ok, err)
		}
		if ok, err := db.AcquireLease(ctx, "crl", "b", now.Add(30*time.Second), time.Minute); err != nil || ok {
			t.Fatalf("b took a live lease (%v)", err)
		}
		if ok, err := db.AcquireLease(ctx, "crl", "a", now.Add(30*time.Second), time.Minute); err != nil || !ok {
			t.Fatalf("a could not renew (%v)", err)
		}
		if ok, err := db.AcquireLease(ctx, "crl", "b", now.Add(2*time.Minute), time.Minute); err != nil || !ok {
			t.Fatalf("b could not take an expired lease (%v)", err)
		}
	})
}

// A lease statement is not abandoned when its caller's context ends (a
// replica shutting down): it runs to its end, so that the release that
// follows it on the way out finds what it did; a statement cancelled in
// flight could commit after that release and leave the stopped replica
// holding the lease until it expired. A context already ended takes
// nothing.
func TestLeaseStatementOutlivesItsContext(t *testing.T) {
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if ok, err := db.AcquireLease(ctx, "outbox", "a", now, time.Minute); err != nil || !ok {
		t.Fatalf("a first: %v %v", ok, err)
	}
	// Another transaction holds the lease row, so a's renewal waits.
	locked, unlock := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT holder FROM leases WHERE name = 'outbox' FOR UPDATE`); err != nil {
				return err
			}
			close(locked)
			<-unlock
			return nil
		})
	}()
	<-locked
	release := sync.OnceFunc(func() { close(unlock) })
	defer func() { release(); <-blocker }() // a failing test must not leave the row locked
	renewCtx, cancel := context.WithCancel(ctx)
	type result struct {
		ok  bool
		err error
	}
	renewed := make(chan result, 1)
	go func() {
		ok, err := db.AcquireLease(renewCtx, "outbox", "a", now.Add(10*time.Second), time.Minute)
		renewed <- result{ok, err}
	}()
	waitForLeasesLockWait(t, db, "the renewal never waited on the lease row")
	cancel() // the replica shuts down while its renewal is in flight
	select {
	case r := <-renewed:
		t.Fatalf("the renewal returned while its statement still ran: %v %v", r.ok, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if r := <-renewed; r.err != nil || !r.ok {
		t.Fatalf("the renewal, run to its end: %v %v", r.ok, r.err)
	}
	if err := db.ReleaseLease(ctx, "outbox", "a"); err != nil {
		t.Fatal(err)
	}
	if _, held, err := db.LeaseExpiry(ctx, "outbox"); err != nil || held {
		t.Fatalf("the lease is still held after its release (%v)", err)
	}
	if ok, err := db.AcquireLease(renewCtx, "outbox", "a", now, time.Minute); err == nil || ok {
		t.Fatalf("an ended context took a lease: %v %v", ok, err)
	}
}

// TestConcurrentWriters checks that parallel write transactions queue
// instead of failing (SQLite busy handling, PostgreSQL retries).
func TestConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, 'h', 'e')`, time.Duration(i).String())
					return err
				})
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestReadTxReadsOneSnapshot: inside ReadTx, a row committed after the
// first read is not seen, the write is not held up by the read
// transaction (on SQLite it takes no write lock), and nothing written in
// it is kept.
func TestReadTxReadsOneSnapshot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		count := func(q store.Querier) int {
			var n int
			if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM leases`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count(db)
		err := db.ReadTx(ctx, func(tx *store.Tx) error {
			if n := count(tx); n != before {
				t.Fatalf("first read: %d, want %d", n, before)
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := db.InTx(wctx, func(w *store.Tx) error {
				_, err := w.Exec(wctx, `INSERT INTO leases (name, holder, expires_at) VALUES ('readtx', 'x', '2030-01-01T00:00:00Z')`)
				return err
			}); err != nil {
				t.Fatalf("a write beside the read transaction: %v", err)
			}
			if n := count(tx); n != before {
				t.Fatalf("the read transaction saw a row committed after its snapshot: %d, want %d", n, before)
			}
			_, _ = tx.Exec(ctx, `DELETE FROM leases`) // refused, or rolled back below
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(db); n != before+1 {
			t.Fatalf("after: %d, want %d", n, before+1)
		}
	})
}

// TestPreferIndexOrder: on PostgreSQL the setting holds for the rest of
// the transaction only; on SQLite it does nothing.
func TestPreferIndexOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		show := func(q store.Querier) string {
			var v string
			if err := q.QueryRow(ctx, `SHOW enable_sort`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		err := db.ReadTx(ctx, func(tx *store.Tx) error {
			if err := tx.PreferIndexOrder(ctx); err != nil {
				return err
			}
			if db.Dialect() == store.Postgres && show(tx) != "off" {
				t.Error("enable_sort is not off in the transaction")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect() == store.Postgres && show(db) != "on" {
			t.Error("enable_sort stayed off after the transaction")
		}
	})
}

// A transaction that found a key free and then lost the race to insert it
// runs once more and finds the winner's row (PostgreSQL, which raises the
// unique violation once the winner has committed; SQLite has one writer,
// so a check and its insert never interleave with another's).
func TestLostInsertRaceRunsAgain(t *testing.T) {
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	// claim inserts the lease "race" for holder unless it is there.
	claim := func(tx *store.Tx, holder string) (bool, error) {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM leases WHERE name = 'race'`).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ('race', ?, 'e')`, holder)
		return err == nil, err
	}
	inserted, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	winner := make(chan error, 1)
	go func() {
		winner <- db.InTx(ctx, func(tx *store.Tx) error {
			_, err := claim(tx, "winner")
			once.Do(func() { close(inserted) })
			<-release
			return err
		})
	}()
	<-inserted
	var runs int
	var claimed bool
	loser := make(chan error, 1)
	go func() {
		loser <- db.InTx(ctx, func(tx *store.Tx) error {
			runs++
			var err error
			claimed, err = claim(tx, "loser")
			return err
		})
	}()
	// The loser found no row (the winner has not committed) and now waits
	// on the winner's uncommitted key.
	waitForLeasesLockWait(t, db, "the loser's insert never waited on the winner's key")
	close(release)
	if err := <-winner; err != nil {
		t.Fatal(err)
	}
	if err := <-loser; err != nil {
		t.Fatalf("the transaction that lost the race: %v", err)
	}
	if runs != 2 || claimed {
		t.Fatalf("the loser ran %d times (want 2) and claimed the key: %v", runs, claimed)
	}
	var holder string
	if err := db.QueryRow(ctx, `SELECT holder FROM leases WHERE name = 'race'`).Scan(&holder); err != nil || holder != "winner" {
		t.Fatalf("holder %q (%v)", holder, err)
	}
}

// waitForLeasesLockWait waits until a session waits for a lock while it
// holds one on this test's own leases table (its schema's: pg_stat_activity
// and pg_locks see every test's sessions on the server).
func waitForLeasesLockWait(t *testing.T, db *store.DB, failure string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock'
			AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.relation = 'leases'::regclass)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MisTyped finds each value stored with another type than its column's
// (SQLite's column affinity turns a number put in a TEXT column into text,
// but keeps a BLOB, and a REAL in an INTEGER column), and nothing where
// vetca wrote it.
func TestMisTyped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"u1", "u2", "u3"} {
			if _, err := db.Exec(ctx, `INSERT INTO users (id, name, roles, email, created_at, created_by, disabled, row_hash) VALUES (?, ?, '[]', '', '2026-11-23T10:00:00Z', 'test', 0, '')`, id, "name-"+id); err != nil {
				t.Fatal(err)
			}
		}
		schema, err := store.LoadSchema(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		users, _ := schema.Table("users")
		if mis, err := users.MisTyped(ctx, db, "id"); err != nil || len(mis) != 0 {
			t.Fatalf("as written: %v %+v", err, mis)
		}
		if db.Dialect() != store.SQLite {
			return // a typed column cannot hold another type
		}
		for _, q := range []string{`UPDATE users SET name = CAST(name AS BLOB) WHERE id = 'u1'`, `UPDATE users SET disabled = 0.5, created_by = x'74657374' WHERE id = 'u3'`} {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		mis, err := users.MisTyped(ctx, db, "id")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range mis {
			got = append(got, m.ID+"."+m.Column+": "+m.Got)
		}
		want := "u1.name: a BLOB|u3.created_by: a BLOB|u3.disabled: a REAL"
		if strings.Join(got, "|") != want {
			t.Fatalf("got %q, want %q", strings.Join(got, "|"), want)
		}
	})
}

// A caller's context that ends while its transaction commits does not cut
// the commit off: once fn has returned, the commit runs to its end and
// InTx reports what happened. Before, PostgreSQL's commit ran under the
// caller's context, so a client that gave up at that moment got an error
// for a transaction the server went on to commit (or not), and what the
// caller does after a commit (re-signing the OCSP answers of a committed
// revocation) was skipped. The commit is slowed by a deferred trigger so
// that the cancel lands inside it.
func TestCommitOutlivesTheCallersContext(t *testing.T) {
	db := storetest.OpenPostgres(t)
	bg := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION slow_commit() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$ LANGUAGE plpgsql`,
		`CREATE TABLE probe (id int)`,
		`CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON probe DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
	} {
		if _, err := db.Exec(bg, q); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO probe (id) VALUES (1)`); err != nil {
			return err
		}
		time.AfterFunc(50*time.Millisecond, cancel) // inside the 300 ms commit
		return nil
	})
	var n int
	if err := db.QueryRow(bg, `SELECT COUNT(*) FROM probe`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err != nil || n != 1 {
		t.Fatalf("InTx = %v with %d rows committed, want the commit to run to its end", err, n)
	}
}

// A caller's context that ends before fn returns still rolls the
// transaction back, on either backend, or commits it and says so: InTx
// never answers an error for a transaction that committed.
func TestCancelBeforeCommitAgreesWithTheOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		bg := context.Background()
		ctx, cancel := context.WithCancel(bg)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ('x', 'h', 'e')`); err != nil {
				return err
			}
			cancel()
			return nil
		})
		var n int
		if qerr := db.QueryRow(bg, `SELECT COUNT(*) FROM leases`).Scan(&n); qerr != nil {
			t.Fatal(qerr)
		}
		if (err == nil) != (n == 1) {
			t.Fatalf("InTx = %v but %d rows committed", err, n)
		}
	})
}

// DSN is what error messages, logs and the 0644 ceremony record show of the
// database, so it never holds a password: pgx takes one from the user
// information and from a password query parameter alike.
func TestDSNHidesPasswordInEveryPlace(t *testing.T) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := u.Query()
	q.Set("password", "s3cret-query")
	u.RawQuery = q.Encode()
	withUser := *u
	withUser.User = url.UserPassword(u.User.Username(), "s3cret-user")
	for _, dsn := range []string{u.String(), withUser.String()} {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		got := db.DSN()
		db.Close()
		if strings.Contains(got, "s3cret") {
			t.Errorf("DSN() = %s shows a password", got)
		}
	}
}

// A DSN that url.Parse refuses is hidden whole, in Open's error as in
// DSN(): where the password ends in it is anybody's guess.
func TestUnparseableDSNIsHidden(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://vetca:s3cret%zz@127.0.0.1:1/vetca",
		"postgresql://vetca:s3cret@127.0.0.1:1/vetca?sslmode=disable&password=s3cret%",
		"mysql://vetca:s3cret%zz@127.0.0.1/vetca",
	} {
		db, err := store.Open(ctx, dsn)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open's error shows the password: %v", err)
		}
	}
}
