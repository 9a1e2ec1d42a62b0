package vetting_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit/audittest"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
	"github.com/vetca/vetca/internal/vetting"
)

// commitGate is a VersionObserver that, once armed, keeps the verifying
// transaction open after it made a version current: it takes the
// organization_versions table, so that a reader reaching that table waits
// for the commit, tells the test its backend pid and waits to be let go.
type commitGate struct {
	armed   atomic.Bool
	pid     chan int
	release chan struct{}
}

func (g *commitGate) VersionVerified(ctx context.Context, tx *store.Tx, _ actor.Actor, _ vetting.Version) error {
	if !g.armed.Load() {
		return nil
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE organization_versions IN ACCESS EXCLUSIVE MODE`); err != nil {
		return err
	}
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return err
	}
	g.pid <- pid
	<-g.release
	return nil
}

// docs/design.md §4 and §10 on several replicas on PostgreSQL: an order
// placed on one replica reads the current verified version
// (CurrentVerified: the organization's row, then its version) while
// another replica verifies a new version. When the organization's row is
// read before that verification commits and the version after, the old
// version is already superseded: CurrentVerified must answer with one of
// the two versions, not with an integrity violation (a 500 logged as
// tampering) nobody committed.
func TestCurrentVerifiedDuringAVerificationIsNoIntegrityViolation(t *testing.T) {
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	rec := audittest.NewRecorder(t, db, clk)
	gate := &commitGate{pid: make(chan int, 1), release: make(chan struct{})}
	svc := vetting.New(db, rec, clk, notify.NewOutbox(rec, clk), recipients{}, roster, vetting.Config{}, gate)

	org, _, err := svc.Create(ctx, alice, acme())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []actor.Actor{bob, dave} {
		if _, _, err := svc.Verify(ctx, v, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	street := "1 Market Street"
	if _, err := svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{StreetAddress: &street}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Verify(ctx, bob, org.ID, 2, nil); err != nil {
		t.Fatal(err)
	}

	gate.armed.Store(true)
	verified := make(chan error, 1)
	go func() { _, _, err := svc.Verify(ctx, dave, org.ID, 2, nil); verified <- err }()
	var pid int
	select {
	case pid = <-gate.pid:
	case err := <-verified:
		t.Fatalf("verification ended before making version 2 current: %v", err)
	}
	type answer struct {
		v   vetting.Version
		err error
	}
	read := make(chan answer, 1)
	go func() { v, err := svc.CurrentVerified(ctx, db, org.ID); read <- answer{v, err} }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE CAST(? AS int) = ANY(pg_blocking_pids(pid))`, pid).Scan(&n); err != nil {
			close(gate.release)
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			close(gate.release)
			t.Fatal("the reader never reached the organization's versions")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate.release)
	if err := <-verified; err != nil {
		t.Fatalf("verify: %v", err)
	}
	a := <-read
	if a.err != nil {
		t.Fatalf("CurrentVerified while version 2 was verified: %v", a.err)
	}
	if a.v.Version != 1 && a.v.Version != 2 {
		t.Fatalf("CurrentVerified answered version %d", a.v.Version)
	}
}
