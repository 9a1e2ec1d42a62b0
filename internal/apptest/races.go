package apptest

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/issuance/issuancetest"
)

// IssueCopies issues one certificate for name through the whole pipeline and stores
// n-1 copies of it under fresh serials through the issuance engine's own
// table (a test shortcut: issuing hundreds through the pipeline is too
// slow for a unit test). It returns every serial, the issued one first.
func (f *OrderFixture) IssueCopies(name string, n int) []string {
	f.T.Helper()
	first, _ := f.Issue(name)
	return append([]string{first}, issuancetest.StoreCopies(f.T, f.App.Recorder, f.App.DB, first, n-1)...)
}

// RowHold is a row lock a test holds in a transaction of its own
// (PostgreSQL), to line contenders up behind it in a known order before it
// lets them go.
type RowHold struct {
	e   *Env
	tx  *sql.Tx
	pid int
}

// HoldRow locks the row query selects (it ends in FOR UPDATE and selects
// one column) until Release or the end of the test.
func (e *Env) HoldRow(query string, args ...any) *RowHold {
	e.T.Helper()
	ctx := context.Background()
	tx, err := e.App.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { _ = tx.Rollback() })
	h := &RowHold{e: e, tx: tx}
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&h.pid); err != nil {
		e.T.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&id); err != nil {
		e.T.Fatal(err)
	}
	return h
}

// WaitBlocked waits until n sessions wait behind the hold, directly or
// behind another waiter (pg_blocking_pids: a second contender for a row
// waits for the first one's tuple lock). Sessions of other tests on the
// server are never counted. It fails the test after 30 seconds.
func (h *RowHold) WaitBlocked(n int) {
	h.e.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var blocked int
		if err := h.e.App.DB.QueryRow(context.Background(), `WITH RECURSIVE behind(pid) AS (
				SELECT pid FROM pg_stat_activity WHERE CAST(? AS int) = ANY(pg_blocking_pids(pid))
				UNION SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY(pg_blocking_pids(a.pid)))
			SELECT COUNT(*) FROM behind`, h.pid).Scan(&blocked); err != nil {
			h.e.T.Fatal(err)
		}
		if blocked >= n {
			return
		}
		if time.Now().After(deadline) {
			h.e.T.Fatalf("%d sessions wait behind the held row, want %d", blocked, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Release ends the hold: the contenders go in the order they queued.
func (h *RowHold) Release() {
	h.e.T.Helper()
	if err := h.tx.Rollback(); err != nil {
		h.e.T.Fatal(err)
	}
}

// RequireAuditClean seals what is committed and fails the test if audit
// verification finds anything: after a race, no path may have left what
// verify reports as an edit nobody made.
func (e *Env) RequireAuditClean() {
	e.T.Helper()
	ctx := context.Background()
	// The sealer waits for the database's transactions older than its
	// seal point, other tests' (sharing the database) included: a stall
	// names who holds it rather than running into go test's timeout.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := e.App.Sealer.SealAll(sctx); err != nil {
		e.T.Fatalf("seal: %v; the oldest transactions:\n%s", err, strings.Join(e.oldestTransactions(), "\n"))
	}
	rep, err := e.App.VerifyAudit(ctx, "")
	if err != nil {
		e.T.Fatal(err)
	}
	if !rep.OK {
		msgs := make([]string, 0, len(rep.Findings))
		for _, fd := range rep.Findings {
			msgs = append(msgs, fd.String())
		}
		e.T.Fatalf("audit verify reports tampering nobody did (%d findings):\n%s", len(rep.Findings), strings.Join(msgs, "\n"))
	}
}

// oldestTransactions describes the database's five oldest write
// transactions, for a test that waited on them in vain.
func (e *Env) oldestTransactions() []string {
	rows, err := e.App.DB.Query(context.Background(), `SELECT pid || ' ' || COALESCE(state, '') || ' for ' || (now() - xact_start)::text || ': ' || left(query, 120)
		FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL ORDER BY xact_start LIMIT 5`)
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil {
			out = append(out, s)
		}
	}
	return out
}
