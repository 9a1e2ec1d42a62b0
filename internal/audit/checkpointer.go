package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// CheckpointerConfig configures the serving process's checkpoints.
type CheckpointerConfig struct {
	Dir    string        // where checkpoint files go (outside the database)
	Every  time.Duration // sign the head at least this often while it moves (default 15 minutes)
	Burst  int64         // ... and whenever this many events accumulated (default 1000)
	Holder string        // this replica's lease holder name
}

// Defaults for CheckpointerConfig.
const (
	DefaultCheckpointEvery = 15 * time.Minute
	DefaultCheckpointBurst = 1000
)

// LeaseCheckpoint is the lease that makes one replica at a time write
// checkpoints.
const LeaseCheckpoint = "audit-checkpoint"

// checkpointActor is the actor of the notes the checkpointer writes.
const checkpointActor = "system:audit-checkpointer"

// Checkpointer signs the chain head on a schedule. Before it signs, it
// checks every event since the newest checkpoint it trusts (in the database
// or its directory): each signature, each link, no gap, and that the chain
// still holds that checkpoint. It never signs a chain it could not check,
// so a checkpoint cannot launder a forgery.
type Checkpointer struct {
	db  *store.DB
	rec *Recorder
	clk clock.Clock
	cfg CheckpointerConfig
	log *slog.Logger
	// sealer chains the events it is about to sign (PostgreSQL).
	sealer *Sealer
	mark   *headMark
}

// NewCheckpointer returns a Checkpointer. rec must hold the audit key.
func NewCheckpointer(db *store.DB, rec *Recorder, clk clock.Clock, cfg CheckpointerConfig, log *slog.Logger) *Checkpointer {
	if cfg.Every <= 0 {
		cfg.Every = DefaultCheckpointEvery
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultCheckpointBurst
	}
	return &Checkpointer{db: db, rec: rec, clk: clk, cfg: cfg, log: log, sealer: NewSealer(db, rec, log, cfg.Holder, cfg.Dir), mark: newHeadMark(cfg.Dir, rec.pub, log)}
}

// ErrChainCheck is wrapped by RunOnce's error when the events since the
// last checkpoint do not check out; no checkpoint is written then.
var ErrChainCheck = errors.New("the audit chain since the last checkpoint does not check out")

// RunOnce writes a checkpoint if one is due and this replica holds the
// lease. It returns the checkpoint written, or nil.
func (c *Checkpointer) RunOnce(ctx context.Context) (*Checkpoint, error) {
	return c.run(ctx, false)
}

// Now writes a checkpoint of the current head at once, lease or not (the
// `vetca audit checkpoint` command). It returns the newest checkpoint when
// the head has not moved since.
func (c *Checkpointer) Now(ctx context.Context) (*Checkpoint, error) {
	return c.run(ctx, true)
}

func (c *Checkpointer) run(ctx context.Context, force bool) (*Checkpoint, error) {
	if c.rec.key == nil {
		return nil, ErrNoAuditKey
	}
	now := c.clk.Now()
	if !force {
		ok, err := c.db.AcquireLease(ctx, LeaseCheckpoint, c.cfg.Holder, now, 2*time.Minute)
		if err != nil || !ok {
			return nil, err
		}
	}
	// Sign the chain as far as it can be sealed now (PostgreSQL).
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := c.sealer.SealAll(sctx)
	cancel()
	if err != nil {
		return nil, err
	}
	last, err := NewestCheckpoint(ctx, c.db, c.cfg.Dir, c.rec.pub)
	if err != nil {
		return nil, err
	}
	floor, err := c.mark.floor(ctx, c.db)
	if err != nil {
		return nil, err
	}
	seq, hash, err := readHeadEvent(ctx, c.db)
	if err != nil {
		return nil, fmt.Errorf("read chain head: %w", err)
	}
	if err := c.mark.check(ctx, c.db, floor, seq, hash); err != nil {
		noteWentBack(ctx, c.db, c.rec, c.mark, seq, checkpointActor)
		return nil, err
	}
	if last != nil && seq < last.Seq {
		return nil, fmt.Errorf("%w: the chain ends at event %d, but checkpoint %s covers event %d: it was truncated", ErrChainCheck, seq, last.Source, last.Seq)
	}
	if seq == 0 {
		return nil, nil
	}
	if last != nil && seq == last.Seq {
		if force {
			return last, c.checkSince(ctx, last, seq, hash)
		}
		return nil, nil
	}
	if last != nil && !force {
		at, err := store.ParseTime(last.At)
		if err != nil {
			return nil, err
		}
		if now.Sub(at) < c.cfg.Every && seq-last.Seq < c.cfg.Burst {
			return nil, nil
		}
	}
	if err := c.checkSince(ctx, last, seq, hash); err != nil {
		return nil, err
	}
	cp, err := SignCheckpoint(c.rec.key, seq, hash, now)
	if err != nil {
		return nil, err
	}
	if c.cfg.Dir != "" {
		if cp.Source, err = WriteCheckpointFile(c.cfg.Dir, cp); err != nil {
			return nil, err
		}
	}
	if err := StoreCheckpoint(ctx, c.db, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// checkSince checks the events after last (or all) up to head.
func (c *Checkpointer) checkSince(ctx context.Context, last *Checkpoint, headSeq int64, headHash string) error {
	from := int64(1)
	prev := ""
	if last != nil {
		from = last.Seq
	}
	rows, err := c.db.Query(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE seq >= ? AND seq <= ? ORDER BY seq`, from, headSeq)
	if err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	expect := from
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Seq != expect:
			return fmt.Errorf("%w: event %d is missing", ErrChainCheck, expect)
		case e.ComputeHash() != e.Hash:
			return fmt.Errorf("%w: event %d does not match its hash", ErrChainCheck, e.Seq)
		case !e.VerifySignature(c.rec.pub):
			return fmt.Errorf("%w: event %d was not written with the installation's audit key", ErrChainCheck, e.Seq)
		case last != nil && e.Seq == last.Seq && e.Hash != last.Hash:
			return fmt.Errorf("%w: event %d differs from the checkpoint that covers it (%s)", ErrChainCheck, e.Seq, last.Source)
		case e.Seq > from && e.PrevHash != prev, last == nil && e.Seq == 1 && e.PrevHash != "":
			return fmt.Errorf("%w: event %d does not link to event %d", ErrChainCheck, e.Seq, e.Seq-1)
		}
		prev = e.Hash
		expect++
	}
	if expect != headSeq+1 || prev != headHash {
		return fmt.Errorf("%w: the chain head moved while it was checked", ErrChainCheck)
	}
	return nil
}

// Run writes checkpoints until ctx ends, checking every tick. However it
// ends, it gives the lease back, so that another replica takes over at once
// rather than when the lease expires.
func (c *Checkpointer) Run(ctx context.Context, tick time.Duration) {
	defer func() {
		if err := c.db.ReleaseLease(context.WithoutCancel(ctx), LeaseCheckpoint, c.cfg.Holder); err != nil {
			c.log.Warn("release the audit checkpoint lease", "err", err)
		}
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if cp, err := c.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Error("audit checkpoint not written", "err", err)
		} else if cp != nil {
			c.log.Info("audit checkpoint written", "seq", cp.Seq, "hash", cp.Hash)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MarkHead raises this host's head mark (head-seen in the checkpoint
// directory) to the chain head, as far as it can be sealed now, without
// signing a checkpoint. A command that wrote events calls it before it
// ends: the events it wrote are then protected like those serve saw, so
// deleting them outside vetca (the tail after the newest checkpoint) is
// refused by the next checkpoint and reported by audit verify. A head
// below the mark is refused, with the same note as the checkpointer's.
func (c *Checkpointer) MarkHead(ctx context.Context) error {
	if c.rec.key == nil {
		return ErrNoAuditKey
	}
	// On PostgreSQL, mark as far as the chain can be sealed now; a seal
	// held up by another transaction (or replica) leaves the rest to the
	// sealer and checkpointer of serve, and fails no command that wrote.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := c.sealer.SealAll(sctx); err != nil && !errors.Is(err, ErrChainCheck) {
		c.log.Warn("audit: could not seal the chain head to mark it", "err", err)
	}
	cancel()
	floor, err := c.mark.floor(ctx, c.db)
	if err != nil {
		return err
	}
	seq, hash, err := readHeadEvent(ctx, c.db)
	if err != nil {
		return fmt.Errorf("read chain head: %w", err)
	}
	if err := c.mark.check(ctx, c.db, floor, seq, hash); err != nil {
		noteWentBack(ctx, c.db, c.rec, c.mark, seq, checkpointActor)
		return err
	}
	return nil
}
