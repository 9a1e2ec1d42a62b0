package audit

import (
	"context"
	"fmt"
	"testing"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// A transaction that reserves the numbers of the events it writes takes
// them in one statement, uses them in ascending order (a row's later event
// outranks its earlier one, so the later one vouches for it), and leaves
// nothing for the sealer to record as a gap; a number reserved and not
// used becomes a signed gap, and the trail still verifies.
func TestReservedNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		pg := db.Dialect() == store.Postgres
		write := func(reserve, renames int) int64 {
			t.Helper()
			before := db.Statements()
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := f.rec.Reserve(ctx, tx, reserve); err != nil {
					return err
				}
				var a account
				if err := f.rec.lock(ctx, tx, "accounts", "acc_1", &a); err != nil {
					return err
				}
				for i := 0; i < renames; i++ {
					a.Name = fmt.Sprintf("Alpha %d", i)
					if err := f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return db.Statements() - before
		}
		// Three events. PostgreSQL: reserve, lock, read, three writes.
		// SQLite (Reserve does nothing): read, tip, three writes of row
		// and event.
		want := int64(6)
		if !pg {
			want = 8
		}
		if n := write(3, 3); n != want {
			t.Fatalf("statements for three reserved events = %d, want %d", n, want)
		}
		// The row reads back as the last rename: its newest event vouches.
		var a account
		if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); err != nil || a.Name != "Alpha 2" {
			t.Fatalf("after the renames: %+v, %v", a, err)
		}
		f.seal(t)
		if n := count(t, db, `SELECT COUNT(*) FROM audit_events WHERE op = 'gap'`); n != 0 {
			t.Fatalf("%d gap events after a transaction used all it reserved", n)
		}
		// Four reserved, two used: two signed gaps (PostgreSQL).
		write(4, 2)
		f.seal(t)
		wantGaps := 0
		if pg {
			wantGaps = 2
		}
		if n := count(t, db, `SELECT COUNT(*) FROM audit_events WHERE op = 'gap'`); n != wantGaps {
			t.Fatalf("%d gap events after two reserved numbers went unused, want %d", n, wantGaps)
		}
		if rep := f.verify(t); !rep.OK {
			t.Fatalf("verify: %+v", rep.Findings)
		}
	})
}

func count(t *testing.T, db *store.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Numbers reserved before a row is locked can be lower than the event
// another transaction wrote for that row and committed meanwhile. Written
// with them, this transaction's update of the row would not be the row's
// newest event, and the row (its content) would read as changed outside
// vetca. The reserved numbers older than the row's newest event are given
// up (signed gaps), and the write takes a fresh, higher number.
func TestReservedNumbersBelowALockedRowsNewestEventAreNotUsed(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx := context.Background()
	reserved, other := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.InTx(ctx, func(tx *store.Tx) error {
			if err := f.rec.Reserve(ctx, tx, 3); err != nil {
				return err
			}
			close(reserved)
			<-other
			var a account
			if err := f.rec.lock(ctx, tx, "accounts", "acc_1", &a); err != nil {
				return err
			}
			a.Name = "Alpha by the reserving transaction"
			return f.rec.update(ctx, tx, "user:bob", "account.renamed", "accounts", a)
		})
	}()
	<-reserved
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		var a account
		if err := f.rec.lock(ctx, tx, "accounts", "acc_1", &a); err != nil {
			return err
		}
		a.Name = "Alpha by the other"
		return f.rec.update(ctx, tx, "user:carol", "account.renamed", "accounts", a)
	}); err != nil {
		t.Fatal(err)
	}
	close(other)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var a account
	if err := f.rec.get(ctx, db, "accounts", "acc_1", &a); err != nil || a.Name != "Alpha by the reserving transaction" {
		t.Fatalf("the row after both updates: %+v, %v", a, err)
	}
	f.seal(t)
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("findings: %v", rep.Findings)
	}
}
