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
