// Package bench measures whole-pipeline throughput next to the raw cost of
// the same work, in the same run (`vetca bench`; README.md). It reports
// figures; it asserts nothing.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// Result is one benchmark's figures (the JSON of `vetca bench --json`).
type Result struct {
	What         string  `json:"what"`
	Backend      string  `json:"backend,omitempty"`
	Signer       string  `json:"signer,omitempty"`
	N            int     `json:"n"`
	PerSecond    float64 `json:"perSecond"`
	RawPerSecond float64 `json:"rawPerSecond"`
	Ratio        float64 `json:"ratio"`
	PeakRSSBytes int64   `json:"peakRSSBytes"`
	Notes        string  `json:"notes,omitempty"`
	// Concurrency and latencies (milliseconds) of runs that measure them.
	Concurrency int     `json:"concurrency,omitempty"`
	P50Ms       float64 `json:"p50Ms,omitempty"`
	P99Ms       float64 `json:"p99Ms,omitempty"`
	RawP50Ms    float64 `json:"rawP50Ms,omitempty"`
	RawP99Ms    float64 `json:"rawP99Ms,omitempty"`
	// RawPeakRSSBytes is the raw side's peak resident set when it ran in a
	// process of its own (crl), so that the two peaks can be compared.
	RawPeakRSSBytes int64 `json:"rawPeakRSSBytes,omitempty"`
}

// PeakRSS is the process's peak resident set size.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}

// Scratch opens a throw-away migrated database next to dsn's backend: a
// temporary SQLite file, or a temporary schema on the same PostgreSQL
// server. Benchmarks never write to the real database. The returned
// function removes it.
func Scratch(ctx context.Context, dsn string) (*store.DB, func(), error) {
	if strings.HasPrefix(dsn, "postgres") {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "vetca_bench_" + hex.EncodeToString(b[:])
		admin, err := store.Open(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			admin.Close()
			return nil, nil, err
		}
		u, err := url.Parse(dsn)
		if err != nil {
			admin.Close()
			return nil, nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := store.Open(ctx, u.String())
		if err == nil {
			_, err = db.Migrate(ctx)
		}
		cleanup := func() {
			if db != nil {
				db.Close()
			}
			_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			admin.Close()
		}
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		return db, cleanup, nil
	}
	dir, err := os.MkdirTemp("", "vetca-bench-")
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "bench.db"))
	if err == nil {
		_, err = db.Migrate(ctx)
	}
	cleanup := func() {
		if db != nil {
			db.Close()
		}
		os.RemoveAll(dir)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return db, cleanup, nil
}

type benchRow struct {
	ID          string    `db:"id"`
	Name        string    `db:"name"`
	CreatedAt   time.Time `db:"created_at"`
	CreatedBy   string    `db:"created_by"`
	CreatedByID string    `db:"created_by_id"`
}

// auditBlock is how many inserts of one kind Audit runs before it runs as
// many of the other.
const auditBlock = 50

// Audit times n audited inserts (row + chained event, one transaction
// each) against n plain inserts of the same rows into the same table, also
// one transaction each, on a scratch database of dsn's backend.
func Audit(ctx context.Context, dsn string, n int) (Result, error) {
	db, cleanup, err := Scratch(ctx, dsn)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		return Result{}, err
	}
	key, err := audit.NewEphemeralKey()
	if err != nil {
		return Result{}, err
	}
	rec, err := audit.NewRecorder(schema, clock.Real{}, nil, key)
	if err != nil {
		return Result{}, err
	}
	accounts := audit.TableOf[benchRow](rec, "accounts")
	by := actor.SystemActor("bench")
	const action audit.Action = "bench.insert"
	now := time.Now().UTC()
	row := func(prefix string, i int) benchRow {
		return benchRow{ID: fmt.Sprintf("%s_%08d", prefix, i), Name: fmt.Sprintf("Benchmark Account %d", i), CreatedAt: now, CreatedBy: "bench"}
	}
	// Warm up both paths.
	for i := 0; i < 20; i++ {
		r := row("warm", i)
		if err := db.InTx(ctx, func(tx *store.Tx) error { return accounts.Insert(ctx, tx, by, action, r) }); err != nil {
			return Result{}, err
		}
	}
	plain := func(i int) error {
		r := row("plain", i)
		return db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created_at, created_by, row_hash) VALUES (?, ?, ?, ?, '')`,
				r.ID, r.Name, store.FormatTime(r.CreatedAt), r.CreatedBy)
			return err
		})
	}
	audited := func(i int) error {
		r := row("aud", i)
		return db.InTx(ctx, func(tx *store.Tx) error { return accounts.Insert(ctx, tx, by, action, r) })
	}
	// Interleave blocks, alternating which path goes first, so both see
	// the same database size and the same machine load: on a shared
	// machine, fsync latency drifts over seconds, and halves measured
	// seconds apart differ by more than the effect measured.
	var tPlain, tAud time.Duration
	timed := func(fn func(int) error, lo, hi int) (time.Duration, error) {
		t0 := time.Now()
		for i := lo; i < hi; i++ {
			if err := fn(i); err != nil {
				return 0, err
			}
		}
		return time.Since(t0), nil
	}
	for lo, b := 0, 0; lo < n; lo, b = lo+auditBlock, b+1 {
		hi := min(lo+auditBlock, n)
		first, second, dFirst, dSecond := plain, audited, &tPlain, &tAud
		if b%2 == 1 {
			first, second, dFirst, dSecond = audited, plain, &tAud, &tPlain
		}
		d, err := timed(first, lo, hi)
		if err != nil {
			return Result{}, err
		}
		*dFirst += d
		if d, err = timed(second, lo, hi); err != nil {
			return Result{}, err
		}
		*dSecond += d
	}
	res := Result{What: "audit", Backend: db.Dialect().String(), N: n,
		PerSecond: float64(n) / tAud.Seconds(), RawPerSecond: float64(n) / tPlain.Seconds(), PeakRSSBytes: PeakRSS(),
		Notes: fmt.Sprintf("one row per transaction, one at a time, in alternating blocks of %d; audited = row + signed event (SQLite: chained in the transaction; PostgreSQL: numbered from a sequence, chained by the sealer after commit); GOMAXPROCS=%d", auditBlock, runtime.GOMAXPROCS(0))}
	res.Ratio = res.PerSecond / res.RawPerSecond
	return res, nil
}
