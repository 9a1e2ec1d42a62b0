package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// A row a write transaction holds is not read again before it is written,
// and on SQLite the chain tip the transaction's own event left is not read
// back: the statements each step runs are counted.
func TestHeldRowsAreNotReadAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		sqlite := db.Dialect() == store.SQLite
		var counts []int64
		step := func(fn func() error) error {
			before := db.Statements()
			err := fn()
			counts = append(counts, db.Statements()-before)
			return err
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var a account
			if err := f.rec.lock(ctx, tx, "accounts", "acc_1", &a); err != nil {
				return err
			}
			for _, name := range []string{"One", "Two"} {
				a.Name = name
				if err := step(func() error { return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a) }); err != nil {
					return err
				}
			}
			if _, err := TableOf[account](f.rec, "accounts").Select(ctx, tx, `WHERE id = ?`, "acc_3"); err != nil {
				return err
			}
			return step(func() error { return f.rec.lock(ctx, tx, "accounts", "acc_3", &a) })
		})
		if err != nil {
			t.Fatal(err)
		}
		// First update: SQLite reads the chain tip, writes the row and the
		// event; PostgreSQL takes a number and writes both in one statement.
		// The second needs no tip. Locking a row that the SQLite write
		// transaction already read (and so holds) reads nothing; PostgreSQL
		// locks and reads it.
		want := []int64{2, 2, 2}
		if sqlite {
			want = []int64{3, 2, 0}
		}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("statements per step = %v, want %v", counts, want)
		}
		f.seal(t)
		if rep := f.verify(t); !rep.OK {
			t.Fatalf("verify: %+v", rep.Findings)
		}
	})
}

// On PostgreSQL a plain read holds nothing: a row edited outside vetca
// after the transaction read it (and before it writes it) is caught by the
// locking read before the write, never overwritten and so laundered.
func TestUnlockedReadDoesNotHoldARow(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_1", &a); err != nil {
			return err
		}
		f.exec(t, `UPDATE accounts SET name = 'Mallory' WHERE id = 'acc_1'`)
		a.Name = "Alpha Renamed"
		return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a)
	})
	if !apperr.IsKind(err, apperr.KindIntegrity) {
		t.Fatalf("update over an out-of-band edit: %v, want an integrity error", err)
	}
}

// A write decided from a row read without its lock, after another
// transaction changed the row, would undo that change (a lost update). It
// is refused with store.ErrConcurrentUpdate, and InTx runs the
// transaction again from a fresh read, so both changes stay. (SQLite's
// write transaction holds the database from its first read, so there the
// other change waits instead.)
func TestWriteFromAStaleReadRunsAgain(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	runs := 0
	err := db.InTx(ctx, func(tx *store.Tx) error {
		runs++
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_1", &a); err != nil {
			return err
		}
		if runs == 1 {
			// Another transaction renames it after this one read it.
			if err := db.InTx(ctx, func(other *store.Tx) error {
				var b account
				if err := f.rec.get(ctx, other, "accounts", "acc_1", &b); err != nil {
					return err
				}
				b.CreatedBy = "user:carol"
				return f.rec.update(ctx, other, "user:carol", "account.reassigned", "accounts", b)
			}); err != nil {
				t.Fatal(err)
			}
		}
		a.Name += " Renamed"
		return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a)
	})
	if err != nil || runs != 2 {
		t.Fatalf("runs %d, err %v; want the transaction run again", runs, err)
	}
	var a account
	if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); err != nil || a.Name != "Alpha Renamed" || a.CreatedBy != "user:carol" {
		t.Fatalf("after both changes: %+v (%v)", a, err)
	}
	// One that loses every time is answered 409 concurrent_update.
	err = db.InTx(ctx, func(tx *store.Tx) error {
		var a account
		if err := f.rec.get(ctx, tx, "accounts", "acc_2", &a); err != nil {
			return err
		}
		if err := db.InTx(ctx, func(other *store.Tx) error {
			var b account
			if err := f.rec.get(ctx, other, "accounts", "acc_2", &b); err != nil {
				return err
			}
			b.Name += "!"
			return f.rec.update(ctx, other, "user:carol", "account.renamed", "accounts", b)
		}); err != nil {
			t.Fatal(err)
		}
		a.CreatedBy = "user:bob"
		return f.rec.update(ctx, tx, "user:bob", "account.reassigned", "accounts", a)
	})
	if !apperr.HasCode(err, apperr.CodeConcurrentUpdate) {
		t.Fatalf("a transaction that lost every attempt: %v", err)
	}
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("verify: %v", rep.Findings)
	}
}

// Callers that share a SQLite group transaction each start from the chain
// tip in the database: one whose writes were rolled back to its savepoint
// leaves no tip behind for the next, so the trail stays one chain.
func TestRolledBackCallerLeavesNoChainTip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		refused := errors.New("refused after writing")
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 8; i++ {
					err := db.InTx(ctx, func(tx *store.Tx) error {
						for n := 0; n < 2; n++ {
							if err := f.rec.note(ctx, tx, "user:bob", "account.viewed", "accounts", "acc_1", map[string]int{"w": w, "i": i, "n": n}); err != nil {
								return err
							}
						}
						if (w+i)%2 == 1 {
							return refused
						}
						return nil
					})
					if err != nil && !errors.Is(err, refused) {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		f.seal(t)
		want := int64(5 + 32*2)
		if db.Dialect() == store.Postgres {
			want += 32 * 2 // the sealer records each rolled-back number as a signed gap event
		}
		rep := f.verify(t)
		if !rep.OK || rep.Events != want {
			t.Fatalf("verify: events %d, findings %+v", rep.Events, rep.Findings)
		}
	})
}
