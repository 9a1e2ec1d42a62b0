package app

import (
	"context"
	"fmt"
	"sync"
	"time"

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

// Background is serve's set of background loops.
type Background struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartBackground brings this replica up and starts serve's loops. First,
// synchronously: the replica's heartbeat lease, recovery of issuances that
// gone replicas left pending (docs/design.md, "Issuance"), and the CRL of
// every shard that has none. Then the loops: heartbeat, recovery, CRL
// publication, OCSP refresh, mail delivery (when an SMTP relay is
// configured), audit checkpoints and the scheduled audit verification. Stop
// ends them and waits, so the database is never closed under a running
// loop.
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
	ctx, cancel := context.WithCancel(ctx)
	b := &Background{cancel: cancel}
	run := func(f func()) {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			f()
		}()
	}
	run(func() { a.runHeartbeat(ctx) })
	run(func() { a.runRecovery(ctx) })
	run(func() { a.CRLs.Run(ctx, a.Cfg.CRLTick, a.Replica) })
	run(func() { a.OCSP.Run(ctx, a.Cfg.OCSPTick, a.Replica) })
	if a.Cfg.SMTP != "" {
		d := notify.NewDeliverer(a.DB, a.Recorder, a.Clock, &notify.SMTPSender{Addr: a.Cfg.SMTP}, a.Cfg.MailFrom, a.Log)
		run(func() { d.Run(ctx, a.Cfg.OutboxTick, a.Replica, nil) })
	} else {
		a.Log.Warn("no --smtp relay: notifications stay queued in the outbox until one is configured")
	}
	if a.Checkpoints != nil {
		run(func() { a.Checkpoints.Run(ctx, a.Cfg.CheckpointTick) })
	}
	run(func() { a.AuditWatch.Run(ctx, a.Cfg.VerifyEvery) })
	run(func() { a.runSignInSummaries(ctx) })
	return b, nil
}

// runSignInSummaries writes the due summaries of failed console sign-ins
// every Config.SignInTick, and every summary still open when serve stops (after
// the HTTP server has stopped taking requests), so no failed attempt goes
// unrecorded (BR §5.4.1(3)).
func (a *App) runSignInSummaries(ctx context.Context) {
	t := time.NewTicker(a.Cfg.SignInTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := a.Auth.FlushSignInFailures(fctx, true); err != nil {
				a.Log.Error("failed console sign-ins not recorded at shutdown", "err", err)
			}
			return
		case <-t.C:
		}
		if err := a.Auth.FlushSignInFailures(ctx, false); err != nil && ctx.Err() == nil {
			a.Log.Error("failed console sign-ins", "err", err)
		}
	}
}

// Stop ends the loops and waits for them.
func (b *Background) Stop() {
	b.cancel()
	b.wg.Wait()
}
