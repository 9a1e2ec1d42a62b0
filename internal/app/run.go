package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vetca/vetca/internal/cprmail"
	"github.com/vetca/vetca/internal/notify"
)

// Default intervals of serve's background loops (Config.CRLTick, ...).
// Each loop's work is idempotent and held by a database lease, so with
// several replicas one runs it.
const (
	DefaultCRLTick        = 30 * time.Second // CRL publication check (a revocation also wakes it at once)
	DefaultOCSPTick       = 10 * time.Minute // OCSP refresh (BR §4.9.10 schedule)
	DefaultOutboxTick     = 5 * time.Second  // mail delivery
	DefaultCheckpointTick = 5 * time.Second  // is an audit checkpoint due?
	DefaultSignInTick     = time.Minute      // summaries of failed console sign-ins
	// DefaultShutdownTimeout bounds how long serve waits for requests in
	// flight when it stops.
	DefaultShutdownTimeout = 15 * time.Second
)

// Run is `vetca serve` from start to stop. It brings this replica up and
// starts the background loops (StartBackground), listens on Cfg.Listen,
// and runs the HTTP server and the shutdown that follows it in an
// errgroup. ready, when not nil, is called with the listening address once
// the server is up.
//
// When ctx ends (SIGTERM or SIGINT in serve) or the server fails, Run
// shuts down in this order: the HTTP server stops accepting connections
// and drains the requests in flight (for at most Cfg.ShutdownTimeout, after
// which the rest are cut off and waited for); the failed console sign-ins
// still open are written; the loops are stopped and waited for, the
// heartbeat releasing this replica's lease last. Run returns only then, so
// the caller's Close closes the database after everything that used it.
// Run returns nil after a shutdown asked for by ctx.
func (a *App) Run(ctx context.Context, ready func(addr net.Addr)) error {
	a.serving.Store(true)
	// A replica that cannot sign (a wrong PIN, module or key URI) refuses
	// to start rather than answer healthy while every issuance, OCSP
	// response and CRL fails.
	if err := a.Engine.OpenKeys(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	bg, err := a.StartBackground(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Cfg.Listen)
	if err != nil {
		bg.Stop()
		return fmt.Errorf("--listen %s: %w", a.Cfg.Listen, err)
	}
	mail, err := a.startMailIntake()
	if err != nil {
		_ = ln.Close()
		bg.Stop()
		return err
	}
	reqs := &inFlight{h: a.Handler()}
	srv := &http.Server{
		Handler:           reqs,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		return a.shutdown(ctx, srv, reqs, mail, bg)
	})
	a.Log.Info("vetca serving", "listen", ln.Addr().String(), "public_url", a.Cfg.PublicURL, "db", a.DB.DSN())
	if ready != nil {
		ready(ln.Addr())
	}
	return g.Wait()
}

// shutdown is Run's ordered stop: HTTP first, then the mail intake (its
// messages in flight answered), the loops after, each waited for.
func (a *App) shutdown(ctx context.Context, srv *http.Server, reqs *inFlight, mail *cprmail.Server, bg *Background) error {
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Cut off the requests still running: closing their connections
		// cancels their contexts. Then wait for their handlers, which
		// Shutdown no longer does, so that none outlives the database.
		_ = srv.Close()
		err = fmt.Errorf("requests still in flight after %v: %w", a.Cfg.ShutdownTimeout, err)
		a.Log.Error("shutting down", "err", err)
	}
	if !reqs.wait(a.Cfg.ShutdownTimeout) {
		a.Log.Error("shutting down: request handlers still running", "timeout", a.Cfg.ShutdownTimeout)
	}
	a.Log.Info("HTTP server stopped")
	if mail != nil {
		if merr := mail.Shutdown(sctx); merr != nil {
			mail.Close()
			a.Log.Error("shutting down the mail intake", "err", merr)
		}
		a.Log.Info("mail intake stopped")
	}
	bg.Stop()
	return err
}

// inFlight counts the requests being handled, so that shutdown can wait
// for every handler even after http.Server.Close, which does not. Once
// waited on, it turns new requests away.
type inFlight struct {
	h      http.Handler
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed and n reaches 0
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		http.Error(w, "vetca is shutting down", http.StatusServiceUnavailable)
		return
	}
	f.n++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.n--
		if f.closed && f.n == 0 {
			close(f.idle)
		}
		f.mu.Unlock()
	}()
	f.h.ServeHTTP(w, r)
}

// wait turns new requests away and waits at most d for the running ones;
// it reports whether none is left.
func (f *inFlight) wait(d time.Duration) bool {
	f.mu.Lock()
	f.closed, f.idle = true, make(chan struct{})
	if f.n == 0 {
		f.mu.Unlock()
		return true
	}
	f.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.idle:
		return true
	case <-t.C:
		return false
	}
}

// Background is a replica's background loops, run in an errgroup.
type Background struct {
	app    *App
	cancel context.CancelFunc
	loops  errgroup.Group
	once   sync.Once
}

// StartBackground brings this replica up and starts serve's loops. First,
// synchronously: the replica's heartbeat lease, recovery of issuances that
// gone replicas left pending (docs/design.md, "Issuance"), and the CRL of
// every shard that has none. Then the loops: heartbeat, recovery, CRL
// publication, OCSP refresh, mail delivery (when an SMTP relay is
// configured), audit checkpoints, the scheduled audit verification and the
// summaries of failed console sign-ins, at the intervals of Cfg.
//
// The loops run until Stop, not until ctx ends: serve stops them only
// after its HTTP server has drained, so that a request in flight never
// finds this replica's lease released or its CRL publisher gone.
func (a *App) StartBackground(ctx context.Context) (*Background, error) {
	if err := a.Heartbeat(ctx); err != nil {
		return nil, err
	}
	if rec, err := a.RecoverIssuance(ctx); err != nil {
		return nil, fmt.Errorf("issuance recovery: %w", err)
	} else if len(rec) > 0 {
		a.Log.Warn("recovered interrupted issuances", "count", len(rec))
	}
	// Every shard has a CRL before the first certificate naming it can be
	// issued.
	if _, err := a.CRLs.PublishDue(ctx); err != nil {
		a.Log.Error("initial CRL publication", "err", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b := &Background{app: a, cancel: cancel}
	run := func(f func(context.Context)) {
		b.loops.Go(func() error {
			f(lctx)
			return nil
		})
	}
	run(a.runHeartbeat)
	run(a.runRecovery)
	run(func(ctx context.Context) { a.CRLs.Run(ctx, a.Cfg.CRLTick, a.Replica) })
	run(func(ctx context.Context) { a.OCSP.Run(ctx, a.Cfg.OCSPTick, a.Replica) })
	run(func(ctx context.Context) { a.OCSP.Watch(ctx, a.Cfg.OCSPPollTick) })
	if a.Cfg.SMTP != "" {
		d := notify.NewDeliverer(a.DB, a.Recorder, a.Clock, &notify.SMTPSender{Addr: a.Cfg.SMTP}, a.Cfg.MailFrom, a.Log)
		run(func(ctx context.Context) { d.Run(ctx, a.Cfg.OutboxTick, a.Replica, nil) })
	} else {
		a.Log.Warn("no --smtp relay: notifications stay queued in the outbox until one is configured")
	}
	if a.Checkpoints != nil {
		run(func(ctx context.Context) { a.Checkpoints.Run(ctx, a.Cfg.CheckpointTick) })
	}
	if a.Sealer != nil {
		run(func(ctx context.Context) { a.Sealer.Run(ctx, sealTick, a.Clock.Now) })
	}
	run(func(ctx context.Context) { a.AuditWatch.Run(ctx, a.Cfg.VerifyEvery) })
	run(a.runSignInSummaries)
	run(func(ctx context.Context) { a.CPRWatch.Run(ctx, a.Cfg.CPRTick) })
	run(func(ctx context.Context) { a.runIncidentWatch(ctx, a.Cfg.CPRTick) })
	return b, nil
}

// sealTick is how often the sealer chains new audit events (PostgreSQL):
// an event is chained within about two ticks of its commit.
const sealTick = 100 * time.Millisecond

// runSignInSummaries writes the due summaries of failed console sign-ins
// every Config.SignInTick; Stop writes the rest (BR §5.4.1(3)).
func (a *App) runSignInSummaries(ctx context.Context) {
	t := time.NewTicker(a.Cfg.SignInTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.Auth.FlushSignInFailures(ctx, false); err != nil && ctx.Err() == nil {
			a.Log.Error("failed console sign-ins", "err", err)
		}
	}
}

// Stop writes every summary of failed console sign-ins still open (serve
// calls it after the HTTP server stopped taking requests, so no failed
// attempt goes unrecorded), then ends the loops and waits for every one
// of them to return. A second call does nothing.
func (b *Background) Stop() {
	b.once.Do(func() {
		a := b.app
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Auth.FlushSignInFailures(fctx, true); err != nil {
			a.Log.Error("failed console sign-ins not recorded at shutdown", "err", err)
		}
		cancel()
		b.cancel()
		_ = b.loops.Wait()
		a.Log.Info("background loops stopped")
	})
}
