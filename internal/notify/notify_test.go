package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/audit/audittest"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/notify/smtptest"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

type env struct {
	db   *store.DB
	rec  *audit.Recorder
	clk  *clock.Fake
	ob   *notify.Outbox
	smtp *smtptest.Server
	d    *notify.Deliverer
}

func newEnv(t *testing.T, db *store.DB) *env {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	rec := audittest.NewRecorder(t, db, clk)
	srv := smtptest.New(t)
	d := notify.NewDeliverer(db, rec, clk, &notify.SMTPSender{Addr: srv.Addr(), Timeout: 5 * time.Second}, "vetca@ca.test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &env{db: db, rec: rec, clk: clk, ob: notify.NewOutbox(rec, clk), smtp: srv, d: d}
}

func (e *env) enqueue(t *testing.T, to string) notify.Message {
	t.Helper()
	var m notify.Message
	err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		m, err = e.ob.Enqueue(context.Background(), tx, actor.SystemActor("test"), notify.Message{
			To: to, Subject: "Organization version 2 — pending", Body: "organizationName: \"A\" -> \"B\"\n.leading dot line", Kind: "test", RefType: "organizations", RefID: "org_x",
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeliveryAndRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.enqueue(t, "Alice <alice@example.org>")
		e.smtp.FailNext(1)
		sent, failed, err := e.d.RunOnce(ctx)
		if err != nil || sent != 0 || failed != 1 {
			t.Fatalf("first run: %d %d %v", sent, failed, err)
		}
		msgs, err := notify.ForRef(ctx, e.rec, db, "organizations", "org_x")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("outbox: %v %+v", err, msgs)
		}
		if msgs[0].Status != notify.StatusPending || msgs[0].Attempts != 1 || !msgs[0].NextAttemptAt.Equal(e.clk.Now().Add(30*time.Second)) {
			t.Fatalf("after a temporary failure: %+v", msgs[0])
		}
		// Not due yet: nothing is attempted.
		if sent, failed, err := e.d.RunOnce(ctx); err != nil || sent+failed != 0 {
			t.Fatalf("retried before the backoff elapsed (%v)", err)
		}
		e.clk.Advance(31 * time.Second)
		if sent, _, err := e.d.RunOnce(ctx); err != nil || sent != 1 {
			t.Fatalf("retry did not send (%v)", err)
		}
		got := e.smtp.To("alice@example.org")
		if len(got) != 1 || got[0].Subject != "Organization version 2 — pending" || !strings.Contains(got[0].Body, "\n.leading dot line") {
			t.Fatalf("received %+v", got)
		}
		msgs, err = notify.ForRef(ctx, e.rec, db, "organizations", "org_x")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("outbox: %v %+v", err, msgs)
		}
		if msgs[0].Status != notify.StatusSent || msgs[0].SentAt == nil || msgs[0].Attempts != 2 {
			t.Fatalf("after delivery: %+v", msgs[0])
		}
		if rep, err := audit.Verify(ctx, db, e.rec.Schema(), e.rec.PublicKey(), nil); err != nil || !rep.OK {
			t.Fatalf("audit after delivery: %v %+v", err, rep)
		}
	})
}

func TestPermanentFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.enqueue(t, "bob@example.org")
		e.smtp.RejectAll(true)
		if _, failed, err := e.d.RunOnce(ctx); err != nil || failed != 1 {
			t.Fatalf("expected a failure (%v)", err)
		}
		msgs, err := notify.ForRef(ctx, e.rec, db, "organizations", "org_x")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("outbox: %v %+v", err, msgs)
		}
		if msgs[0].Status != notify.StatusFailed || !strings.Contains(msgs[0].LastError, "550") {
			t.Fatalf("a 5xx must fail permanently: %+v", msgs[0])
		}
	})
}

func TestEnqueueIsTransactional(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		boom := errors.New("the causing change failed")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := e.ob.Enqueue(ctx, tx, actor.SystemActor("test"), notify.Message{To: "a@example.org", Subject: "s", Body: "b", RefType: "organizations", RefID: "org_x"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if msgs, err := notify.ForRef(ctx, e.rec, db, "organizations", "org_x"); err != nil || len(msgs) != 0 {
			t.Fatalf("a rolled-back change left a message in the outbox (%v)", err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := e.ob.Enqueue(ctx, tx, actor.SystemActor("test"), notify.Message{To: "not an address", Subject: "s"})
			return err
		}); err == nil || !strings.Contains(err.Error(), "email") {
			t.Fatalf("bad address: %v", err)
		}
	})
}

func TestBackoff(t *testing.T) {
	d := notify.NewDeliverer(nil, nil, nil, nil, "", nil)
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: time.Hour, 20: time.Hour} {
		if got := d.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}
