package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// A message changed by SQL is never mailed, and stays pending (nothing may
// vouch for it). It must not hold back the messages queued after it: a
// pass reads the due messages a page at a time, and a first page of
// tampered rows left a BR §4.9.5 preliminary report queued behind them
// unsent, pass after pass.
func TestTamperedMessagesHoldBackNoOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		for i := range 100 {
			e.enqueue(t, fmt.Sprintf("old%d@example.org", i))
		}
		if _, err := db.Exec(ctx, `UPDATE outbox SET body = 'changed by SQL'`); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Second)
		e.enqueue(t, "reporter@example.org")
		for range 2 {
			if _, _, err := e.d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.smtp.To("reporter@example.org"); len(got) != 1 {
			t.Fatalf("the message queued behind 100 tampered ones was delivered %d times, want 1", len(got))
		}
		if n := len(e.smtp.Mails()); n != 1 {
			t.Fatalf("%d messages delivered; a tampered one went out", n)
		}
	})
}
