package cprmail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"
)

// Defaults of Options.
const (
	DefaultDomain          = "localhost"
	DefaultMaxMessageBytes = 1 << 20
	DefaultMaxRecipients   = 20
	DefaultTimeout         = 60 * time.Second
	DefaultMaxConns        = 100
	DefaultSubmitTimeout   = 60 * time.Second
)

// Options tunes a Server; a zero field takes its default.
type Options struct {
	// Domain is the name the server greets with and answers EHLO with.
	Domain string
	// MaxMessageBytes bounds a message; a larger one is answered 552.
	MaxMessageBytes int64
	// MaxRecipients bounds the RCPT TO commands of one message.
	MaxRecipients int
	// ReadTimeout bounds the wait for each command and for a whole DATA
	// transfer; WriteTimeout bounds each reply.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxConns bounds the connections served at once; more wait in the
	// listener's backlog.
	MaxConns int
	// SubmitTimeout bounds one call of Submitter.SubmitMail.
	SubmitTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.SubmitTimeout <= 0 {
		o.SubmitTimeout = DefaultSubmitTimeout
	}
	return o
}

// Server is the SMTP intake of problem reports.
type Server struct {
	srv    *smtp.Server
	ln     net.Listener
	sub    Submitter
	log    *slog.Logger
	opts   Options
	flight *inflight

	// base is the parent of every SubmitMail context; Close cancels it.
	base   context.Context
	cancel context.CancelFunc

	startOnce sync.Once
	served    chan struct{} // closed when Serve has returned
	closeOnce sync.Once
}

// NewServer listens on addr (host:port; port 0 picks a free one) and
// prepares the server; Start serves. A bad address fails here.
func NewServer(addr string, sub Submitter, log *slog.Logger, opts Options) (*Server, error) {
	if sub == nil {
		return nil, errors.New("cprmail: no submitter")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cprmail: listen on %q: %w", addr, err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		ln:     netutil.LimitListener(ln, opts.MaxConns),
		sub:    sub,
		log:    log.With("component", "cprmail"),
		opts:   opts,
		flight: newInflight(),
		base:   base,
		cancel: cancel,
		served: make(chan struct{}),
	}
	s.srv = s.newSMTP()
	return s, nil
}

func (s *Server) newSMTP() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, remote: remoteOf(c)}, nil
	}))
	srv.Domain = s.opts.Domain
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.MaxRecipients = s.opts.MaxRecipients
	srv.ReadTimeout = s.opts.ReadTimeout
	srv.WriteTimeout = s.opts.WriteTimeout
	srv.ErrorLog = slogPrinter{s.log}
	return srv
}

func remoteOf(c *smtp.Conn) string {
	if c == nil || c.Conn() == nil {
		return ""
	}
	return c.Conn().RemoteAddr().String()
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves connections in the background until Shutdown or Close.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.log.Info("problem-report mail intake listening", "addr", s.Addr().String(), "domain", s.opts.Domain)
		go func() {
			defer close(s.served)
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("problem-report mail intake stopped", "err", err)
			}
		}()
	})
}

// Shutdown stops accepting connections and new messages, waits for the
// messages being handled to be answered (or ctx to end), then closes every
// connection. A message whose SubmitMail is still running when ctx ends has
// its context canceled and is answered 451 if the connection still stands.
func (s *Server) Shutdown(ctx context.Context) error {
	s.flight.close()
	_ = s.ln.Close()
	var err error
	select {
	case <-s.flight.idle:
	case <-ctx.Done():
		err = fmt.Errorf("cprmail: shutdown: %w", ctx.Err())
	}
	s.Close()
	return err
}

// Close closes the listener and every connection at once and cancels the
// SubmitMail calls in flight.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.flight.close()
		s.cancel()
		_ = s.srv.Close()
		_ = s.ln.Close()
		s.startOnce.Do(func() { close(s.served) })
		<-s.served
		s.log.Info("problem-report mail intake stopped")
	})
}

// inflight counts the messages being handled, and refuses new ones once
// closed.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed once closed with no message in flight
}

func newInflight() *inflight { return &inflight{idle: make(chan struct{})} }

// begin reports whether a message may be handled; if so, end must follow.
func (f *inflight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.closed && f.n == 0 {
		close(f.idle)
	}
}

func (f *inflight) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *inflight) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	if f.n == 0 {
		close(f.idle)
	}
}

// slogPrinter passes go-smtp's own log lines to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("smtp: " + fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("smtp: " + fmt.Sprint(v...))
}
