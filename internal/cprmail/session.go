package cprmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// session is one SMTP connection's state. It accepts any recipient and
// keeps none: a report's only destination is the Submitter.
type session struct {
	s      *Server
	remote string
	from   string
	// answering is set while a message is in flight: from the start of
	// Data until go-smtp has written the reply and calls Reset (or Logout
	// when the connection ends), so Shutdown waits for the reply itself.
	answering atomic.Bool
}

func (ss *session) Reset() {
	ss.from = ""
	ss.answered()
}

func (ss *session) Logout() error {
	ss.answered()
	return nil
}

func (ss *session) answered() {
	if ss.answering.Swap(false) {
		ss.s.flight.end()
	}
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.flight.isClosed() {
		return errShuttingDown
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(string, *smtp.RcptOptions) error { return nil }

// Data reads the message, parses it, submits the report and answers. The
// 250 is sent only once SubmitMail has returned nil.
func (ss *session) Data(r io.Reader) (reply error) {
	from := ss.from // go-smtp runs Data of a BDAT transfer in its own goroutine
	if !ss.s.flight.begin() {
		_, _ = io.Copy(io.Discard, r)
		return errShuttingDown
	}
	ss.answering.Store(true)
	defer func() {
		if p := recover(); p != nil {
			ss.s.log.Error("panic handling a problem-report mail", "remote", ss.remote, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply = errTemporary
		}
	}()
	raw, err := readMessage(r, ss.s.opts.MaxMessageBytes)
	if err != nil {
		return ss.readFailed(err, from)
	}
	rep, err := parseMessage(raw, from)
	if err != nil {
		return ss.refuse(err, from)
	}
	return ss.submit(rep, len(raw))
}

// readMessage reads the whole message, at most max bytes.
func readMessage(r io.Reader, max int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > max {
		_, _ = io.Copy(io.Discard, r)
		return nil, smtp.ErrDataTooLarge
	}
	return raw, nil
}

func (ss *session) readFailed(err error, from string) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		ss.s.log.Info("problem-report mail refused", "remote", ss.remote, "from", from, "reply", se.Code, "reason", se.Message)
		return se
	}
	ss.s.log.Warn("reading a problem-report mail failed", "remote", ss.remote, "from", from, "err", err)
	return errTemporary
}

// refuse answers a message the parser refused.
func (ss *session) refuse(err error, from string) error {
	reply := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message"}
	var me *messageError
	if errors.As(err, &me) {
		reply.Message = replyText(me.reason)
		switch me.problem {
		case problemNoContent:
			reply.Code = 550
		case problemNoSender:
			reply.Code, reply.EnhancedCode = 550, smtp.EnhancedCode{5, 1, 7}
		}
	}
	ss.s.log.Info("problem-report mail refused", "remote", ss.remote, "from", from, "reply", reply.Code, "reason", err.Error())
	return reply
}

// submit hands the report to the Submitter and turns its answer into the
// reply to the end of DATA.
func (ss *session) submit(rep Report, size int) error {
	ctx, cancel := context.WithTimeout(ss.s.base, ss.s.opts.SubmitTimeout)
	defer cancel()
	caseID, err := ss.s.sub.SubmitMail(ctx, rep)
	attrs := []any{"remote", ss.remote, "from", rep.From, "bytes", size, "attachments", len(rep.Attachments)}
	var rej *Rejection
	switch {
	case errors.As(err, &rej):
		ss.s.log.Info("problem-report mail rejected", append(attrs, "field", rej.Field, "reason", rej.Message)...)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: replyText(rej.Error())}
	case err != nil:
		ss.s.log.Warn("storing a problem-report mail failed; the sender will retry", append(attrs, "err", err)...)
		return errTemporary
	}
	ss.s.log.Info("problem-report mail received", append(attrs, "case", caseID)...)
	// go-smtp answers the end of DATA with the code of an *SMTPError, so a
	// 2xx one carries the case id in the 250 text.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: replyText("case " + caseID + " received")}
}

var (
	errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure storing the report, try again later"}
	// errShuttingDown is 421, after which go-smtp keeps the connection;
	// Shutdown closes it.
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Shutting down, try again later"}
)

// replyText makes s safe as one line of an SMTP reply.
func replyText(s string) string { return clean(s, 400) }
