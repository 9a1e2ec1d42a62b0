// Package notify is vetca's outbox. A domain service enqueues a message in
// the same transaction as the change that causes it, so a committed change
// always has its mail and a rolled-back one never does. A Deliverer sends
// due messages over SMTP with retries and exponential backoff and records
// every result as an audited row update, so "who was told what, when" is
// provable (BR §4.9.5 preliminary reports, docs/design.md §10).
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Status is where an outbox message stands.
type Status string

// Message statuses.
const (
	StatusPending Status = "pending"
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed" // gave up: permanent SMTP error or too many attempts
)

// Message is one outbox row.
type Message struct {
	ID            string     `db:"id" json:"id"`
	CreatedAt     time.Time  `db:"created_at" json:"createdAt"`
	Kind          string     `db:"kind" json:"kind"`
	To            string     `db:"to_addr" json:"to"`
	RecipientRole string     `db:"recipient_role" json:"role"`
	Subject       string     `db:"subject" json:"subject"`
	Body          string     `db:"body" json:"body"`
	RefType       string     `db:"ref_type" json:"refType"`
	RefID         string     `db:"ref_id" json:"refId"`
	Status        Status     `db:"status" json:"status"`
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at" json:"nextAttemptAt"`
	LastError     string     `db:"last_error" json:"lastError,omitempty"`
	SentAt        *time.Time `db:"sent_at" json:"sentAt,omitempty"`
}

// Outbox enqueues messages.
type Outbox struct {
	rec *audit.Recorder
	tab tables
	clk clock.Clock
}

// NewOutbox returns an Outbox.
func NewOutbox(rec *audit.Recorder, clk clock.Clock) *Outbox {
	return &Outbox{rec: rec, tab: newTables(rec), clk: clk}
}

// Enqueue stores m (To, Subject, Body, Kind, RecipientRole, RefType, RefID)
// in the caller's transaction. The address must parse.
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, by actor.Actor, m Message) (Message, error) {
	addr, err := mail.ParseAddress(m.To)
	if err != nil {
		return Message{}, apperr.Invalid(apperr.CodeInvalidEmail, "email", "cannot send to %q: %v", m.To, err)
	}
	now := o.clk.Now()
	m.ID = ids.New("msg")
	m.To = addr.Address
	m.CreatedAt = now
	m.Status = StatusPending
	m.Attempts = 0
	m.NextAttemptAt = now
	m.LastError = ""
	m.SentAt = nil
	if err := o.tab.outbox.Insert(ctx, tx, by, actMailQueued, m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// ForRef lists the messages about one entity, oldest first,
// integrity-checked.
func ForRef(ctx context.Context, rec *audit.Recorder, q store.Querier, refType, refID string) ([]Message, error) {
	return newTables(rec).outbox.Select(ctx, q, `WHERE ref_type = ? AND ref_id = ? ORDER BY created_at, id`, refType, refID)
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, from, to, subject, body, messageID string) error
}

// SMTPSender sends plain SMTP to one relay, using STARTTLS only when the
// server offers it (--smtp).
type SMTPSender struct {
	Addr    string // HOST:PORT
	Hello   string // EHLO name; default "localhost"
	Timeout time.Duration
}

// PermanentError marks an SMTP failure that retrying cannot fix (5xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Send delivers one message.
func (s *SMTPSender) Send(ctx context.Context, from, to, subject, body, messageID string) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return classify(fmt.Errorf("smtp %s: %w", s.Addr, err))
	}
	defer c.Close()
	hello := s.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return classify(fmt.Errorf("smtp EHLO: %w", err))
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(tlsConfig(host)); err != nil {
			return fmt.Errorf("smtp STARTTLS: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return classify(fmt.Errorf("smtp MAIL FROM: %w", err))
	}
	if err := c.Rcpt(to); err != nil {
		return classify(fmt.Errorf("smtp RCPT TO %s: %w", to, err))
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("smtp DATA: %w", err))
	}
	if _, err := w.Write(format(from, to, subject, body, messageID, time.Now())); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("smtp DATA: %w", err))
	}
	return c.Quit()
}

func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &PermanentError{Err: err}
	}
	return err
}

// format renders an RFC 5322 message with CRLF line endings.
func format(from, to, subject, body, messageID string, date time.Time) []byte {
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", mimeHeader(subject))
	hdr("Date", date.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+messageID+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	// The DATA writer of net/smtp does the dot-stuffing (RFC 5321 §4.5.2).
	// A bare CR (an old Mac line end in pasted text) is a line end too: it
	// must not be sent (RFC 5321 §2.3.8), and some receivers end the data
	// at "\r.\r\n", which the DATA writer does not stuff.
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	for _, line := range strings.Split(body, "\n") {
		b.WriteString(line + "\r\n")
	}
	return []byte(b.String())
}

func mimeHeader(s string) string {
	for _, r := range s {
		if r > 126 || r < 32 {
			return mimeQ(s)
		}
	}
	return s
}

// mimeQ encodes s as RFC 2047 encoded-words of at most 39 bytes of UTF-8
// each, cut between characters, one to a folded line: each word is then 64
// characters and each line, "Subject: " included, at most 76 (RFC 2047 §2).
// The folding white space between two encoded-words is not part of the
// text (RFC 2047 §6.2).
func mimeQ(s string) string {
	const chunk = 39
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, l := utf8.DecodeRuneInString(s[n:])
			if n > 0 && n+l > chunk {
				break
			}
			n += l
		}
		words = append(words, "=?utf-8?b?"+b64(s[:n])+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}

// Deliverer sends due outbox messages.
type Deliverer struct {
	db          *store.DB
	rec         *audit.Recorder
	tab         tables
	clk         clock.Clock
	sender      Sender
	from        string
	log         *slog.Logger
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// NewDeliverer returns a Deliverer sending from address from.
func NewDeliverer(db *store.DB, rec *audit.Recorder, clk clock.Clock, sender Sender, from string, log *slog.Logger) *Deliverer {
	return &Deliverer{db: db, rec: rec, tab: newTables(rec), clk: clk, sender: sender, from: from, log: log,
		MaxAttempts: 10, BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour}
}

// Backoff is the wait after the given number of failed attempts.
func (d *Deliverer) Backoff(attempts int) time.Duration {
	w := d.BaseBackoff
	for i := 1; i < attempts && w < d.MaxBackoff; i++ {
		w *= 2
	}
	if w > d.MaxBackoff {
		w = d.MaxBackoff
	}
	return w
}

// RunOnce sends every message that is due now and returns how many were
// sent and how many failed (this attempt).
//
// Each message is read integrity-checked before it is sent: a message (its
// recipient, subject or body) written or changed outside vetca is never
// mailed; it is logged, naming the row, and the others still go. A message
// no longer pending and due when its turn comes (another replica sent it
// meanwhile) is passed over.
func (d *Deliverer) RunOnce(ctx context.Context) (sent, failed int, err error) {
	return d.runOnce(ctx, nil)
}

// runOnce is RunOnce; keep, when set, renews this replica's lease before
// each message and the pass stops, untried, once it is lost: a pass that
// outlived its lease would otherwise mail what the lease's next holder is
// mailing. The due messages are read a page at a time, each page after
// the last, so messages that cannot be sent (tampered ones stay pending)
// hold back none queued after them.
func (d *Deliverer) runOnce(ctx context.Context, keep func(context.Context) (bool, error)) (sent, failed int, err error) {
	now := d.clk.Now()
	var after dueRow
	for {
		page, err := store.SelectUnchecked[dueRow](ctx, d.db, `SELECT id, next_attempt_at FROM outbox WHERE status = ? AND next_attempt_at <= ?
			AND (next_attempt_at > ? OR (next_attempt_at = ? AND id > ?)) ORDER BY next_attempt_at, id LIMIT ?`,
			StatusPending, store.FormatTime(now), after.At, after.At, after.ID, duePage)
		if err != nil {
			return sent, failed, fmt.Errorf("outbox: read due messages: %w", err)
		}
		for _, row := range page {
			res, stop, err := d.deliverOne(ctx, keep, row.ID)
			if err != nil || stop {
				return sent, failed, err
			}
			switch res {
			case resultSent:
				sent++
			case resultFailed:
				failed++
			}
		}
		if len(page) < duePage {
			return sent, failed, nil
		}
		after = page[len(page)-1]
	}
}

// duePage is how many due messages a pass reads at once.
const duePage = 100

// dueRow is a due message's place in the order a pass sends them.
type dueRow struct {
	ID string `db:"id"`
	At string `db:"next_attempt_at"`
}

// result is what became of one due message in a pass.
type result int

const (
	resultSkipped result = iota // sent or tried meanwhile by another replica
	resultSent
	resultFailed // refused, or not sent: it fails its integrity check
)

// deliverOne sends message id if it is still pending and due and records
// what the relay answered; stop ends the pass (its context ended, or the
// lease is another replica's now), leaving the message untried.
func (d *Deliverer) deliverOne(ctx context.Context, keep func(context.Context) (bool, error), id string) (res result, stop bool, err error) {
	if err := ctx.Err(); err != nil {
		return resultSkipped, true, err // stopping: the rest is the next holder's, untried
	}
	if keep != nil {
		if held, err := keep(ctx); err != nil || !held {
			return resultSkipped, true, err
		}
	}
	var m Message
	if err := d.tab.outbox.Get(ctx, d.db, id, &m); err != nil {
		if apperr.IsKind(err, apperr.KindIntegrity) {
			d.log.Error("outbox message not sent: it fails its integrity check", "id", id, "err", err)
			return resultFailed, false, nil
		}
		return resultSkipped, true, err
	}
	if m.Status != StatusPending || m.NextAttemptAt.After(d.clk.Now()) {
		return resultSkipped, false, nil
	}
	sendErr := d.sender.Send(ctx, d.from, m.To, m.Subject, m.Body, m.ID+"@vetca")
	if sendErr != nil && ctx.Err() != nil {
		// The send was cut off by this loop stopping, not refused by the
		// relay: no attempt is counted, and the message stays pending for
		// the next holder of the lease.
		return resultSkipped, true, ctx.Err()
	}
	if err := d.record(ctx, m, sendErr); err != nil {
		return resultSkipped, true, err
	}
	if sendErr != nil {
		d.log.Warn("mail delivery failed", "message", m.ID, "to", m.To, "err", sendErr)
		return resultFailed, false, nil
	}
	d.log.Info("mail sent", "message", m.ID, "to", m.To, "kind", m.Kind)
	return resultSent, false, nil
}

// record writes what the relay answered for m. It is recorded even if ctx
// ended meanwhile (a replica stopping): a message it accepted but left
// pending would be mailed again by the next holder of the lease.
func (d *Deliverer) record(ctx context.Context, m Message, sendErr error) error {
	rctx := context.WithoutCancel(ctx)
	sys := actor.SystemActor("outbox")
	err := d.db.InTx(rctx, func(tx *store.Tx) error {
		var cur Message
		if err := d.tab.outbox.Get(rctx, tx, m.ID, &cur); err != nil {
			return err
		}
		if cur.Status != StatusPending {
			return nil // another replica got there first
		}
		now := d.clk.Now()
		cur.Attempts++
		action := actMailSent
		var perm *PermanentError
		switch {
		case sendErr == nil:
			cur.Status, cur.SentAt, cur.LastError = StatusSent, &now, ""
		case errors.As(sendErr, &perm) || cur.Attempts >= d.MaxAttempts:
			cur.Status, cur.LastError, action = StatusFailed, truncate(sendErr.Error(), 500), actMailFailed
		default:
			cur.NextAttemptAt, cur.LastError, action = now.Add(d.Backoff(cur.Attempts)), truncate(sendErr.Error(), 500), actMailRetryScheduled
		}
		return d.tab.outbox.Update(rctx, tx, sys, action, cur)
	})
	if err != nil {
		return fmt.Errorf("outbox: record result for %s: %w", m.ID, err)
	}
	return nil
}

// Run delivers until ctx ends, polling every interval, holding the
// "outbox" lease so only one replica sends.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration, holder string, wake <-chan struct{}) {
	defer func() { // give the lease back, so another replica takes over at once
		if err := d.db.ReleaseLease(context.WithoutCancel(ctx), "outbox", holder); err != nil {
			d.log.Warn("release the outbox lease", "err", err)
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	keep := func(ctx context.Context) (bool, error) {
		return d.db.AcquireLease(ctx, "outbox", holder, d.clk.Now(), 3*interval+time.Minute)
	}
	for {
		ok, err := keep(ctx)
		if err != nil {
			d.log.Error("outbox lease", "err", err)
		} else if ok {
			if _, _, err := d.runOnce(ctx, keep); err != nil && ctx.Err() == nil {
				d.log.Error("outbox delivery", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
