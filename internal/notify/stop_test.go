package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
)

// stopAfterSend is the relay as replica A's outbox loop sees it when
// Background.Stop (shutdown: SIGTERM) lands while a message is being
// sent: the relay accepted the message (250), and the loop's context
// ends before the result is recorded.
type stopAfterSend struct {
	notify.Sender
	stop context.CancelFunc
}

func (s stopAfterSend) Send(ctx context.Context, from, to, subject, body, id string) error {
	err := s.Sender.Send(ctx, from, to, subject, body, id)
	s.stop()
	return err
}

// Replica A's outbox loop is stopped right after the relay accepted a
// message; it gives the outbox lease back, and replica B's loop takes
// over. The message must be mailed once.
func TestOutboxStoppedAfterSendMailsOnce(t *testing.T) {
	e := apptest.New(t, apptest.Postgres)
	b := e.Replica()
	ctx := context.Background()
	var m notify.Message
	err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		m, err = e.App.Outbox.Enqueue(ctx, tx, actor.CLIActor("test"), notify.Message{To: "jane@acme-widgets.com",
			Subject: "Your certificate was revoked", Body: "Serial 1234 was revoked.\n", Kind: "revocation", RecipientRole: "subscriber"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay := &notify.SMTPSender{Addr: e.SMTP.Addr(), Timeout: 5 * time.Second}
	loopCtx, stop := context.WithCancel(ctx)
	a := notify.NewDeliverer(e.App.DB, e.App.Recorder, e.Clock, stopAfterSend{relay, stop}, e.App.Cfg.MailFrom, log)
	_, _, errA := a.RunOnce(loopCtx) // A's loop: its last pass before it stops
	db := notify.NewDeliverer(b.App.DB, b.App.Recorder, b.Clock, relay, b.App.Cfg.MailFrom, log)
	if _, _, err := db.RunOnce(ctx); err != nil { // B's loop, holding the lease A gave back
		t.Fatal(err)
	}
	n := 0
	for _, got := range e.SMTP.Mails() {
		if got.Subject == m.Subject {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("message %s mailed %d times to %s (A's pass ended with: %v)", m.ID, n, m.To, errA)
	}
}
