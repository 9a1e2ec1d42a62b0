package notify_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/notify/smtptest"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// A subject naming an organization with non-ASCII letters is encoded per
// RFC 2047: no encoded-word longer than 75 characters and no line of the
// header longer than 76, or a conforming reader may show it raw.
func TestLongNonASCIISubjectIsEncodedInWordsOfAtMost75(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		subject := "Organisation version 3 of Müller & Söhne Großhandelsgesellschaft mbH — pending verification by two verifiers"
		got := sendOne(t, e, db, subject, "diff\n")
		if len(got) != 1 || got[0].Subject != subject {
			t.Fatalf("received %+v", got)
		}
		head, _, _ := strings.Cut(got[0].Raw, "\r\n\r\n")
		start := strings.Index(head, "Subject:")
		field := head[start:]
		for i, line := range strings.Split(field, "\r\n") {
			if i > 0 && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
				break // the next field
			}
			if len(line) > 76 {
				t.Errorf("a Subject line of %d characters (RFC 2047 §2: at most 76): %q", len(line), line)
			}
		}
		for _, w := range regexp.MustCompile(`=\?[^?]+\?[bBqQ]\?[^?]*\?=`).FindAllString(field, -1) {
			if len(w) > 75 {
				t.Errorf("an encoded-word of %d characters (RFC 2047 §2: at most 75): %q", len(w), w)
			}
		}
	})
}

// RFC 5321 §2.3.8: a bare CR must not be sent in DATA. A text pasted with
// old Mac line ends ("\r") into findings or a decision's reason reaches a
// message's body; it is sent as line breaks, dot-stuffed where a line then
// starts with a dot, never as a bare CR a receiver may take for the end of
// a line ("\r.\r\n" ends the data for some).
func TestBodyWithBareCRIsSentAsLines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		body := "We are looking into it.\r.\rMAIL FROM:<x@evil.test>\rend"
		got := sendOne(t, e, db, "s", body)
		if len(got) != 1 {
			t.Fatalf("received %+v", got)
		}
		raw := got[0].Raw
		for i := range len(raw) {
			if raw[i] == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
				t.Fatalf("a bare CR at byte %d of the data: %q", i, raw)
			}
		}
		if !strings.Contains(got[0].Body, "We are looking into it.\n.\nMAIL FROM:<x@evil.test>\nend") {
			t.Fatalf("body %q", got[0].Body)
		}
	})
}

// sendOne queues one message to anna@example.org, runs a delivery pass
// that must send it, and returns what her mailbox received.
func sendOne(t *testing.T, e *env, db *store.DB, subject, body string) []smtptest.Mail {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := e.ob.Enqueue(ctx, tx, actor.SystemActor("test"), notify.Message{To: "anna@example.org", Subject: subject, Body: body, Kind: "test", RefType: "organizations", RefID: "org_x"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if sent, _, err := e.d.RunOnce(ctx); err != nil || sent != 1 {
		t.Fatalf("sent %d (%v)", sent, err)
	}
	return e.smtp.To("anna@example.org")
}
