package cprmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// fakeSubmitter records reports and answers with caseID or err. With block
// set, each call signals entered and waits for release.
type fakeSubmitter struct {
	caseID  string
	err     error
	block   bool
	entered chan struct{}
	release chan struct{}

	mu      sync.Mutex
	reports []Report
}

func (f *fakeSubmitter) SubmitMail(ctx context.Context, r Report) (string, error) {
	f.mu.Lock()
	f.reports = append(f.reports, r)
	f.mu.Unlock()
	if f.block {
		f.entered <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return f.caseID, f.err
}

func (f *fakeSubmitter) got() []Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Report(nil), f.reports...)
}

func startServer(t *testing.T, sub Submitter, opts Options) *Server {
	t.Helper()
	s, err := NewServer("127.0.0.1:0", sub, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// send delivers one message with go-smtp's client and returns the text of
// the server's answer to the end of DATA, or its error.
func send(addr, from, msg string) (string, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return "", err
	}
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	if err := c.Rcpt("cpr@ca.test", nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, strings.NewReader(msg)); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	_ = c.Quit()
	return resp.StatusText, nil
}

func replyCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestDelivery(t *testing.T) {
	keyPEM, certDER := testKeyAndCert(t)
	tests := []struct {
		name       string
		msg        string
		submitErr  error
		wantCode   int    // 0: accepted
		wantText   string // in the answer
		wantSubmit bool
		check      func(t *testing.T, r Report)
	}{
		{name: "PKCS#8 key attachment", msg: attachmentMessage("My key leaked.", "key.pem", "application/pkcs8", keyPEM),
			wantText: "case cpr_1 received", wantSubmit: true,
			check: func(t *testing.T, r Report) {
				if r.From != "reporter@example.org" || r.Body != "My key leaked." || len(r.Attachments) != 1 || !bytes.Equal(r.Attachments[0].Data, keyPEM) {
					t.Errorf("report %+v", r)
				}
			}},
		{name: "DER certificate attachment", msg: attachmentMessage("mis-issued", "leaf.der", "application/pkix-cert", certDER),
			wantText: "case cpr_1 received", wantSubmit: true,
			check: func(t *testing.T, r Report) {
				if len(r.Attachments) != 1 || r.Attachments[0].ContentType != "application/pkix-cert" || !bytes.Equal(r.Attachments[0].Data, certDER) {
					t.Errorf("report %+v", r)
				}
			}},
		{name: "PEM in body", msg: plainMessage("Key:\n" + string(keyPEM)),
			wantText: "case cpr_1 received", wantSubmit: true,
			check: func(t *testing.T, r Report) {
				if len(r.Attachments) != 1 || !bytes.Equal(r.Attachments[0].Data, keyPEM) {
					t.Errorf("report %+v", r)
				}
			}},
		{name: "empty mail", msg: plainMessage(""), wantCode: 550, wantText: "no text and no attachment"},
		{name: "malformed mail", msg: crlf("From: a@example.org\nContent-Type: multipart/mixed\n\nx"), wantCode: 554, wantText: "without a boundary"},
		{name: "rejected by the desk", msg: plainMessage("hi"), submitErr: fmt.Errorf("desk: %w", &Rejection{Field: "serial", Message: "no certificate with that serial"}),
			wantCode: 550, wantText: "serial: no certificate with that serial", wantSubmit: true},
		{name: "desk fails", msg: plainMessage("hi"), submitErr: errors.New("database is locked"), wantCode: 451, wantSubmit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := &fakeSubmitter{caseID: "cpr_1", err: tt.submitErr}
			s := startServer(t, sub, Options{})
			text, err := send(s.Addr().String(), "bounce@example.net", tt.msg)
			if tt.wantCode == 0 && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.wantCode != 0 && replyCode(err) != tt.wantCode {
				t.Fatalf("got %q, %v; want %d", text, err, tt.wantCode)
			}
			if answer := text + fmt.Sprint(err); !strings.Contains(answer, tt.wantText) {
				t.Errorf("answer %q does not contain %q", answer, tt.wantText)
			}
			reports := sub.got()
			if got := len(reports) == 1; got != tt.wantSubmit || len(reports) > 1 {
				t.Fatalf("SubmitMail called %d times", len(reports))
			}
			if tt.check != nil {
				tt.check(t, reports[0])
			}
		})
	}
}

func TestOversizeMessageIs552(t *testing.T) {
	sub := &fakeSubmitter{caseID: "cpr_1"}
	s := startServer(t, sub, Options{MaxMessageBytes: 4096})
	_, err := send(s.Addr().String(), "a@example.org", plainMessage(strings.Repeat(strings.Repeat("x", 70)+"\n", 150)))
	if replyCode(err) != 552 {
		t.Fatalf("got %v, want 552", err)
	}
	if n := len(sub.got()); n != 0 {
		t.Errorf("SubmitMail called %d times", n)
	}
}

func TestNoReporterIs550(t *testing.T) {
	sub := &fakeSubmitter{caseID: "cpr_1"}
	s := startServer(t, sub, Options{})
	_, err := send(s.Addr().String(), "", crlf("Subject: x\n\nbody"))
	if replyCode(err) != 550 || !strings.Contains(err.Error(), "no reporter address") {
		t.Fatalf("got %v, want 550 naming the sender", err)
	}
}

func TestAnswerWaitsForSubmitMail(t *testing.T) {
	sub := &fakeSubmitter{caseID: "cpr_9", block: true, entered: make(chan struct{}), release: make(chan struct{})}
	s := startServer(t, sub, Options{})
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		text, err := send(s.Addr().String(), "a@example.org", plainMessage("hello"))
		done <- result{text, err}
	}()
	select {
	case <-sub.entered:
	case r := <-done:
		t.Fatalf("answered before SubmitMail was called: %+v", r)
	case <-time.After(5 * time.Second):
		t.Fatal("SubmitMail not called")
	}
	select {
	case r := <-done:
		t.Fatalf("answered while SubmitMail is still running: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	close(sub.release)
	select {
	case r := <-done:
		if r.err != nil || !strings.Contains(r.text, "case cpr_9 received") {
			t.Fatalf("got %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after SubmitMail returned")
	}
}

func TestShutdown(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		s := startServer(t, &fakeSubmitter{caseID: "cpr_1"}, Options{})
		shutdownPromptly(t, s)
	})
	t.Run("idle connection open", func(t *testing.T) {
		s := startServer(t, &fakeSubmitter{caseID: "cpr_1"}, Options{})
		c, err := smtp.Dial(s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.test"); err != nil {
			t.Fatal(err)
		}
		shutdownPromptly(t, s)
		if _, err := send(s.Addr().String(), "a@example.org", plainMessage("late")); err == nil {
			t.Error("accepted mail after Shutdown")
		}
	})
	t.Run("never started", func(t *testing.T) {
		s, err := NewServer("127.0.0.1:0", &fakeSubmitter{}, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		shutdownPromptly(t, s)
	})
}

// shutdownPromptly shuts s down with nothing in flight: Shutdown must end
// without waiting for idle connections, so it returns nil rather than its
// context's error (it waits for that context only while a message is in
// flight).
func shutdownPromptly(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownWaitsForMessageInFlight(t *testing.T) {
	sub := &fakeSubmitter{caseID: "cpr_3", block: true, entered: make(chan struct{}), release: make(chan struct{})}
	s := startServer(t, sub, Options{})
	done := make(chan error, 1)
	go func() {
		_, err := send(s.Addr().String(), "a@example.org", plainMessage("hello"))
		done <- err
	}()
	<-sub.entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned with a message in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(sub.release)
	if err := <-done; err != nil {
		t.Errorf("message in flight: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestNewServerBadAddress(t *testing.T) {
	_, err := NewServer("127.0.0.1:notaport", &fakeSubmitter{}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:notaport") {
		t.Fatalf("got %v, want an error naming the address", err)
	}
}

type panickingSubmitter struct{}

func (panickingSubmitter) SubmitMail(context.Context, Report) (string, error) { panic("boom") }

func TestPanicIs451(t *testing.T) {
	s := startServer(t, panickingSubmitter{}, Options{})
	for range 2 { // the server keeps serving after a panic
		if _, err := send(s.Addr().String(), "a@example.org", plainMessage("hello")); replyCode(err) != 451 {
			t.Fatalf("got %v, want 451", err)
		}
	}
}
