package app_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/notify"
)

// Two replicas share one PostgreSQL database: each scheduled job (CRL
// publication, OCSP refresh, mail delivery, audit checkpoints) runs under
// its lease on one replica at a time, and the other takes the job over
// once the holder has stopped: at once when the holder gave the lease back
// (the checkpointer usually does), otherwise when the lease expires on the
// (injected) clock, and not before.
func TestReplicasShareLeases(t *testing.T) {
	e := apptest.New(t, apptest.Postgres)
	ctx := context.Background()
	// The second replica: the same database, key directory and settings.
	b, err := app.Open(ctx, e.App.Cfg, e.Clock, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Write: true})
	if err != nil {
		t.Fatalf("open the second replica: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if b.Replica == e.App.Replica || b.Checkpoints == nil || e.App.Checkpoints == nil {
		t.Fatalf("replicas %q and %q (checkpointers %v, %v)", e.App.Replica, b.Replica, e.App.Checkpoints != nil, b.Checkpoints != nil)
	}

	// tick is the loops' real-time poll interval; lease lifetimes are on
	// the fake clock, which only the test moves.
	const tick = 10 * time.Millisecond
	loops := []struct {
		lease string
		run   func(ctx context.Context, a *app.App)
		ttl   time.Duration
	}{
		{"crl", func(ctx context.Context, a *app.App) { a.CRLs.Run(ctx, tick, a.Replica) }, 3*tick + time.Minute},
		{"ocsp", func(ctx context.Context, a *app.App) { a.OCSP.Run(ctx, tick, a.Replica) }, 3*tick + time.Minute},
		{"outbox", func(ctx context.Context, a *app.App) {
			d := notify.NewDeliverer(a.DB, a.Recorder, a.Clock, &notify.SMTPSender{Addr: e.SMTP.Addr(), Timeout: 5 * time.Second}, a.Cfg.MailFrom, a.Log)
			d.Run(ctx, tick, a.Replica, nil)
		}, 3*tick + time.Minute},
		{audit.LeaseCheckpoint, func(ctx context.Context, a *app.App) { a.Checkpoints.Run(ctx, tick) }, 2 * time.Minute},
	}
	holder := func(t *testing.T, lease string) string {
		t.Helper()
		var h string
		err := e.App.DB.QueryRow(ctx, `SELECT holder FROM leases WHERE name = ?`, lease).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	waitHolder := func(t *testing.T, lease, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for holder(t, lease) != want {
			if time.Now().After(deadline) {
				t.Fatalf("lease %s: held by %q, want %q", lease, holder(t, lease), want)
			}
			time.Sleep(tick)
		}
	}
	// start runs a's loop until the returned stop is called, and waits
	// for it to end.
	start := func(run func(context.Context, *app.App), a *app.App) (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx, a)
		}()
		return func() { cancel(); wg.Wait() }
	}
	// held checks that the lease stays with want while the other replica
	// keeps trying (a few dozen of its ticks).
	held := func(t *testing.T, lease, want string) {
		t.Helper()
		for range 30 {
			if h := holder(t, lease); h != want {
				t.Fatalf("lease %s went to %q while %q held it", lease, h, want)
			}
			time.Sleep(tick)
		}
	}

	for _, l := range loops {
		t.Run(l.lease, func(t *testing.T) {
			stopA := start(l.run, e.App)
			waitHolder(t, l.lease, e.App.Replica)
			stopB := start(l.run, b)
			defer stopB()
			held(t, l.lease, e.App.Replica)

			stopA()
			switch h := holder(t, l.lease); h {
			case e.App.Replica:
				// Left to expire: nobody takes it before its time.
				held(t, l.lease, e.App.Replica)
				e.Clock.Advance(l.ttl - time.Second)
				held(t, l.lease, e.App.Replica)
				e.Clock.Advance(2 * time.Second)
				waitHolder(t, l.lease, b.Replica)
			case "", b.Replica:
				// Given back: the other replica takes it on its next tick.
				waitHolder(t, l.lease, b.Replica)
			default:
				t.Fatalf("lease %s held by %q, neither replica", l.lease, h)
			}
			// The new holder keeps it; the first replica, back, waits.
			stopA = start(l.run, e.App)
			held(t, l.lease, b.Replica)
			stopA()
		})
	}
}
