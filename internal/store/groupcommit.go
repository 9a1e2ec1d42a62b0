package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SQLite group commit.
//
// SQLite has one writer, and with synchronous=FULL every commit waits for
// an fsync. Left to SQLite, writers that find the lock taken poll it with
// sleeps that grow to 100 ms (busy_timeout), so under concurrent load the
// lock sits free while they sleep, and each transaction pays its own fsync.
//
// Instead, the write transactions of this process queue on a semaphore
// (DB.writer) and share one SQLite transaction: each caller's function
// runs in a SAVEPOINT of the open transaction, and the caller that finds
// nobody queued behind it (or the group full) commits it, for everyone in
// it, with one fsync. Every caller still gets its answer only after that
// commit: a success means durable, as before. A caller whose function
// fails rolls back to its savepoint, which undoes its writes alone; an
// error that aborts the whole SQLite transaction fails every caller in the
// group with errGroupAborted, which InTx retries (its functions have no
// side effects outside the transaction). Callers in one group see each
// other's writes; they commit or fail together, so none can act on a
// write that does not become durable. busy_timeout still arbitrates
// between processes (a CLI command beside serve).

// maxGroup bounds how many callers share one commit, and so how long the
// first of them waits for it.
const maxGroup = 32

// errGroupAborted fails the callers of a group whose transaction ended
// before it committed; InTx retries them.
var errGroupAborted = errors.New("store: the shared write transaction was aborted; retrying")

// txGroup is one SQLite transaction shared by callers of InTx.
type txGroup struct {
	tx      *sql.Tx
	members int // callers whose writes it holds
	done    chan struct{}
	err     error // the commit's outcome, set before done closes
}

// inGroup runs fn in a savepoint of the open group transaction.
func (db *DB) inGroup(ctx context.Context, fn func(tx *Tx) error) (err error) {
	db.waiting.Add(1)
	select {
	case db.writer <- struct{}{}:
		db.waiting.Add(-1)
	case <-ctx.Done():
		db.waiting.Add(-1)
		// Whoever released the semaphore may have left the group open
		// for us; if the semaphore is free now, settle it.
		select {
		case db.writer <- struct{}{}:
			db.release()
		default:
		}
		return fmt.Errorf("begin transaction: %w", ctx.Err())
	}
	// The shared transaction outlives this caller's context: a cancelled
	// request must not interrupt (and so roll back) the others' writes.
	wctx := context.WithoutCancel(ctx)
	g := db.group
	if g == nil {
		stx, err := db.sql.BeginTx(wctx, nil)
		if err != nil {
			<-db.writer
			return fmt.Errorf("begin transaction: %w", err)
		}
		g = &txGroup{tx: stx, done: make(chan struct{})}
		db.group = g
	}
	if _, err := g.tx.ExecContext(wctx, "SAVEPOINT vetca_caller"); err != nil {
		db.abort(g, err)
		<-db.writer
		return fmt.Errorf("begin transaction: %w", errors.Join(errGroupAborted, err))
	}
	tx := &Tx{tx: g.tx, db: db, dialect: db.dialect, shared: true}
	defer func() {
		if p := recover(); p != nil {
			db.undo(wctx, g)
			db.release()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		db.undo(wctx, g)
		db.release()
		return err
	}
	if _, err := g.tx.ExecContext(wctx, "RELEASE vetca_caller"); err != nil {
		db.abort(g, err)
		<-db.writer
		return fmt.Errorf("commit: %w", errors.Join(errGroupAborted, err))
	}
	g.members++
	db.release()
	<-g.done
	if g.err != nil {
		return fmt.Errorf("commit: %w", g.err)
	}
	return nil
}

// undo rolls a failed caller's writes back to its savepoint; if that is
// impossible (the statement that failed ended the whole transaction), the
// group is aborted.
func (db *DB) undo(ctx context.Context, g *txGroup) {
	if _, err := g.tx.ExecContext(ctx, "ROLLBACK TO vetca_caller"); err != nil {
		db.abort(g, err)
		return
	}
	if _, err := g.tx.ExecContext(ctx, "RELEASE vetca_caller"); err != nil {
		db.abort(g, err)
	}
}

// abort ends the group's transaction without committing and fails every
// caller waiting for it. The semaphore must be held.
func (db *DB) abort(g *txGroup, cause error) {
	if db.group != g {
		return
	}
	db.group = nil
	_ = g.tx.Rollback()
	g.err = errors.Join(errGroupAborted, cause)
	close(g.done)
}

// release gives the semaphore back, first committing the open group when
// nobody is queued to join it or it is full. The semaphore must be held.
func (db *DB) release() {
	if g := db.group; g != nil && (db.waiting.Load() == 0 || g.members >= maxGroup) {
		db.group = nil
		if g.members == 0 {
			g.err = g.tx.Rollback()
		} else {
			g.err = g.tx.Commit()
			db.commits.Add(1)
		}
		close(g.done)
	}
	<-db.writer
}
