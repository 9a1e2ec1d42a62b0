// Package devmail is the mailbox `vetca serve --dev` uses when no --smtp
// relay is given: a real SMTP server on loopback that keeps the last
// messages in memory, so a newcomer sees in the console exactly the mail
// vetca would have sent. It is never used outside --dev.
package devmail

import (
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	At      time.Time
	From    string
	To      []string
	Subject string
	Body    string
}

// Box is a running dev mailbox.
type Box struct {
	srv  *smtp.Server
	addr string
	mu   sync.Mutex
	msgs []Message
}

const keep = 500

// Start listens on 127.0.0.1 on a free port.
func Start() (*Box, error) {
	b := &Box{}
	b.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }))
	b.srv.Domain = "localhost"
	b.srv.ReadTimeout = 30 * time.Second
	b.srv.WriteTimeout = 30 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.addr = l.Addr().String()
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

// Addr is the SMTP address to deliver to.
func (b *Box) Addr() string { return b.addr }

// Close stops the server.
func (b *Box) Close() error { return b.srv.Close() }

// Messages returns the received mail, newest first.
func (b *Box) Messages() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Message, len(b.msgs))
	for i, m := range b.msgs {
		out[len(b.msgs)-1-i] = m
	}
	return out
}

type session struct {
	b    *Box
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	m := Message{At: time.Now().UTC(), From: s.from, To: s.to}
	if msg, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
		m.Subject, _ = new(mimeDecoder).DecodeHeader(msg.Header.Get("Subject"))
		body, _ := io.ReadAll(msg.Body)
		m.Body = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, m)
	if len(s.b.msgs) > keep {
		s.b.msgs = s.b.msgs[len(s.b.msgs)-keep:]
	}
	s.b.mu.Unlock()
	return nil
}
