package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// slowRelay is the real loopback SMTP server behind a relay slow enough
// that each message takes perSend of the injected clock; before it
// returns from the send numbered at, it runs during once.
type slowRelay struct {
	real    notify.Sender
	advance func()
	at      int
	calls   int
	during  func()
	last    int
	stop    context.CancelFunc
}

func (s *slowRelay) Send(ctx context.Context, from, to, subject, body, id string) error {
	s.calls++
	s.advance()
	err := s.real.Send(ctx, from, to, subject, body, id)
	if s.calls == s.at {
		s.during()
	}
	if s.calls == s.last {
		s.stop()
	}
	return err
}

// A pass longer than the outbox lease (a slow relay, a long queue) must not
// let a second replica mail what the first is mailing: each message reaches
// its recipient once, whichever replica sends it.
func TestOutboxLeaseHandoverSendsEachMessageOnce(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, name)
			a := newEnv(t, db)
			ctx := context.Background()
			for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
				a.enqueue(t, to)
			}
			const interval = 5 * time.Second // lease: 3*interval + 1 min = 75 s
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			real := &notify.SMTPSender{Addr: a.smtp.Addr(), Timeout: 5 * time.Second}
			other := notify.NewDeliverer(db, a.rec, a.clk, real, "vetca@ca.test", quiet)
			runCtx, stop := context.WithCancel(ctx)
			relay := &slowRelay{real: real, advance: func() { a.clk.Advance(40 * time.Second) }, at: 2, last: 3, stop: stop,
				during: func() { // replica b's outbox loop, one pass, while a is still sending
					if ok, err := db.AcquireLease(ctx, "outbox", "b", a.clk.Now(), 3*interval+time.Minute); err != nil {
						t.Error(err)
					} else if ok {
						if _, _, err := other.RunOnce(ctx); err != nil {
							t.Error(err)
						}
						_ = db.ReleaseLease(ctx, "outbox", "b")
					}
				}}
			d := notify.NewDeliverer(db, a.rec, a.clk, relay, "vetca@ca.test", quiet)
			done := make(chan struct{})
			go func() { d.Run(runCtx, interval, "a", nil); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Minute):
				stop()
				<-done
				t.Fatal("replica a's pass did not end")
			}
			seen := map[string]int{}
			for _, m := range a.smtp.Mails() {
				for _, line := range strings.Split(m.Raw, "\r\n") {
					if strings.HasPrefix(line, "Message-ID: ") {
						seen[line]++
					}
				}
			}
			if len(seen) != 3 {
				t.Errorf("%d distinct messages delivered, want 3: %v", len(seen), seen)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s mailed %d times (once by each replica)", id, n)
				}
			}
		})
	}
}

func openDB(t *testing.T, name string) *store.DB {
	if name == "sqlite" {
		return storetest.OpenSQLite(t)
	}
	return storetest.OpenPostgres(t)
}
