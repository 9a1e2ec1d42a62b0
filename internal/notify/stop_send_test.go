package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
)

// stopDuringSend: the replica stops while the message is being sent, before
// the relay accepted it: Send returns the context's error.
type stopDuringSend struct{ stop context.CancelFunc }

func (s stopDuringSend) Send(ctx context.Context, from, to, subject, body, id string) error {
	s.stop()
	return ctx.Err()
}

// A stop is not a failed delivery: a send cut off by the loop's own
// context leaves the message pending and its attempts as they were, for
// the next holder of the lease. On the last allowed attempt it must not
// fail the message for good.
func TestStopDuringSendIsNotAnAttempt(t *testing.T) {
	e := apptest.New(t, apptest.SQLite)
	ctx := context.Background()
	var m notify.Message
	if err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		m, err = e.App.Outbox.Enqueue(ctx, tx, actor.CLIActor("test"), notify.Message{To: "jane@acme-widgets.com",
			Subject: "Your certificate was revoked", Body: "Serial 1234 was revoked.\n", Kind: "revocation", RecipientRole: "subscriber"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	loopCtx, stop := context.WithCancel(ctx)
	d := notify.NewDeliverer(e.App.DB, e.App.Recorder, e.Clock, stopDuringSend{stop}, e.App.Cfg.MailFrom, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.MaxAttempts = 1
	d.RunOnce(loopCtx)
	var status string
	var attempts int
	if err := e.App.DB.QueryRow(ctx, `SELECT status, attempts FROM outbox WHERE id = ?`, m.ID).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != string(notify.StatusPending) || attempts != 0 {
		t.Fatalf("after a stop mid-send: status %s, attempts %d; want pending, 0 (never delivered, now never retried)", status, attempts)
	}
}
