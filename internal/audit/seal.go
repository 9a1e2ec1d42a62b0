package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// LeaseSeal is the lease under which one replica seals the chain.
const LeaseSeal = "audit-seal"

// sealActor is the actor of the gap events the sealer writes.
const sealActor = "system:audit-sealer"

// Sealer chains PostgreSQL audit events after they commit ("sequence
// first, seal after"; docs/architecture.md, "The audit trail").
//
// A writing transaction takes an event number from the sequence audit_seq
// (after it has a transaction id), signs the event (the signature covers
// the number) and writes it unchained, with no lock shared with other
// transactions. The sealer then walks the numbers above the chain head in
// order. It may pass a number only once it knows the number's fate: it
// reads the sequence's last value L, then takes a transaction id X, and
// waits until no transaction with an id below X is running (the oldest
// running id of a new snapshot is X or more). Any number up to L was taken
// by a transaction whose id is below X; once those have ended, an event
// numbered up to L that is not in the table never will be. The sealer
// links each present event to the previous one, writes a signed gap event
// for each absent number (its transaction rolled back), and advances the
// head. Verify then treats a missing number below the head as a deleted
// event, as before: a gap the sealer did not sign is a deletion. A long
// write transaction in the database delays sealing (never issuance) until
// it ends; one in another database of the cluster does not (runningSQL).
//
// The sealer writes only the chain fields (prev_hash, hash), the gap
// events and the head, in one transaction holding the head row; a crash
// leaves the head where it was and the next pass redoes the work. Events
// above the head are the unsealed tail: reads check their signatures as
// for any event; Verify checks their signatures and rows, and chains them
// once sealed. The window in which an insider could delete an event before
// it is sealed, leaving the sealer to record a gap, is the sealing delay
// (one tick, a fraction of a second), the same kind of window as the tail
// after the newest checkpoint.
type Sealer struct {
	db     *store.DB
	rec    *Recorder
	log    *slog.Logger
	holder string
	dir    string // checkpoint directory, outside the database

	mu      sync.Mutex
	pending *sealPoint
	high    int64 // the highest head this sealer saw, sealed or found checkpointed
	floored bool  // high has taken the newest trusted checkpoint into account
	mark    *headMark
}

// sealPoint is a sequence value whose transactions are being waited for.
type sealPoint struct {
	last   int64     // the sequence's last value
	xid    string    // a transaction id taken after it was read
	at     time.Time // when it was first found waiting
	warned time.Time // when a held-up seal was last logged
}

// maxSealBatch bounds the numbers one seal transaction chains: a sequence
// moved far ahead (setval) is sealed over several passes, never by one
// transaction holding every gap event in memory.
const maxSealBatch = 10_000

// sealHeldUp is how long a seal point may wait for the transactions that
// hold its numbers before the sealer says so at error level: while it
// waits, an event deleted outside vetca would be sealed as a gap.
const sealHeldUp = time.Minute

// NewSealer returns a sealer; holder names this replica for the lease and
// dir is the checkpoint directory (may be empty). The sealer never seals
// below the newest trusted checkpoint or a head it saw: a head moved back
// (events deleted, the head row edited) would otherwise have its deleted
// numbers recorded as signed gaps.
func NewSealer(db *store.DB, rec *Recorder, log *slog.Logger, holder, dir string) *Sealer {
	return &Sealer{db: db, rec: rec, log: log, holder: holder, dir: dir, mark: newHeadMark(dir, rec.pub, log)}
}

// checkHead refuses a chain head below what this sealer knows was sealed.
func (s *Sealer) checkHead(ctx context.Context) error {
	if !s.floored {
		cp, err := NewestCheckpoint(ctx, s.db, s.dir, s.rec.pub)
		if err != nil {
			return err
		}
		if cp != nil && cp.Seq > s.high {
			s.high = cp.Seq
		}
		s.floored = true
	}
	floor, err := s.mark.floor(ctx, s.db)
	if err != nil {
		return err
	}
	head, hash, sig, err := readHead(ctx, s.db, "")
	if err != nil {
		return err
	}
	if err := s.mark.check(ctx, s.db, floor, head, hash); err != nil {
		noteWentBack(ctx, s.db, s.rec, s.mark, head, sealActor)
		return err
	}
	if head < s.high {
		return fmt.Errorf("%w: the chain head went back from event %d to %d (changed outside vetca); not sealing", ErrChainCheck, s.high, head)
	}
	// The head's signature is checked at every pass, not only when there
	// is something to seal, so a head moved over events linked outside
	// vetca is named at once.
	if err := s.vouchHead(ctx, s.db, head, hash, sig); err != nil {
		return err
	}
	s.high = head
	return nil
}

// readHead reads the chain head row: its number, hash and signature (with
// lock " FOR UPDATE" inside the seal's transaction).
func readHead(ctx context.Context, q store.Querier, lock string) (int64, string, string, error) {
	var head int64
	var hash, sig string
	if err := q.QueryRow(ctx, `SELECT seq, head_hash, sig FROM audit_head WHERE id = 1`+lock).Scan(&head, &hash, &sig); err != nil {
		return 0, "", "", fmt.Errorf("audit: read chain head: %w", err)
	}
	return head, hash, sig, nil
}

// vouchHead refuses a head row the sealer did not sign (headVouched).
func (s *Sealer) vouchHead(ctx context.Context, q store.Querier, head int64, hash, sig string) error {
	ok, err := headVouched(ctx, q, s.rec.pub, head, hash, sig)
	if err != nil {
		return err
	}
	if !ok {
		return errHeadUnsigned(head)
	}
	return nil
}

// Needed reports whether the database's events need sealing (PostgreSQL).
func Needed(db *store.DB) bool { return db.Dialect() == store.Postgres }

// SealOnce makes one step: if the transactions of the point taken last
// time have ended, it seals up to that point; then it takes a new point.
// It returns how many events it sealed.
func (s *Sealer) SealOnce(ctx context.Context) (int, error) {
	if !Needed(s.db) {
		return 0, nil
	}
	if err := s.rec.CanWrite(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkHead(ctx); err != nil {
		return 0, err
	}
	n := 0
	if p := s.pending; p != nil {
		running, err := s.running(ctx, p.xid)
		if err != nil {
			return 0, err
		}
		if running {
			now := s.rec.clock.Now()
			if p.at.IsZero() {
				p.at = now // first found waiting
			}
			if now.Sub(p.at) >= sealHeldUp && now.Sub(p.warned) >= sealHeldUp {
				p.warned = now
				s.log.Error("audit: sealing is held up by a transaction that has been running since before the seal point was taken; events above the head stay unsealed, and one deleted meanwhile would be sealed as a gap",
					"head", s.high, "upTo", p.last, "waiting", now.Sub(p.at).Round(time.Second).String())
			}
			return 0, nil
		}
		if n, err = s.seal(ctx, min(p.last, s.high+maxSealBatch)); err != nil {
			return 0, err
		}
		if s.high < p.last {
			return n, nil // the rest of the point in the next pass
		}
		s.pending = nil
	}
	last, err := s.lastNumber(ctx)
	if err != nil {
		return n, err
	}
	if last <= s.high {
		return n, nil
	}
	// A transaction id is taken after the sequence is read, in a
	// statement of its own: every number up to last was taken by a
	// transaction whose id is lower.
	var xid string
	if err := s.db.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		return n, fmt.Errorf("audit: take a transaction id: %w", err)
	}
	s.pending = &sealPoint{last: last, xid: xid}
	return n, nil
}

// lastNumber is the last event number the sequence gave out (0 if none).
func (s *Sealer) lastNumber(ctx context.Context) (int64, error) {
	var last int64
	var called bool
	if err := s.db.QueryRow(ctx, `SELECT last_value, is_called FROM audit_seq`).Scan(&last, &called); err != nil {
		return 0, fmt.Errorf("audit: read the event sequence: %w", err)
	}
	if !called {
		return 0, nil
	}
	return last, nil
}

// runningSQL asks whether a transaction of this database with an id below
// the given one is still running: a session's (pg_stat_activity's
// backend_xid is the transaction id the server keeps for the session until
// the transaction ends for snapshots, not only in the commit log: a
// transaction is marked committed there a moment before new snapshots see
// its writes, and the seal's read must see them) or a prepared one. Only
// this database's transactions can hold an event number; a snapshot's
// oldest running id would also count every other database of the cluster,
// and a long write transaction there would hold sealing up. age() orders
// 32-bit ids across wraparound; both ages are taken at one moment.
const runningSQL = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND age(backend_xid) > age(xid(CAST(? AS xid8))))
	OR EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE database = current_database() AND age(transaction) > age(xid(CAST(? AS xid8))))`

// running reports whether a transaction of this database with an id below
// xid is still running (runningSQL).
func (s *Sealer) running(ctx context.Context, xid string) (bool, error) {
	var running bool
	if err := s.db.QueryRow(ctx, runningSQL, xid, xid).Scan(&running); err != nil {
		return false, fmt.Errorf("audit: check running transactions: %w", err)
	}
	return running, nil
}

// seal chains every number above the head up to upTo.
func (s *Sealer) seal(ctx context.Context, upTo int64) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		n = 0
		head, prev, sig, err := readHead(ctx, tx, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := s.vouchHead(ctx, tx, head, prev, sig); err != nil {
			return err
		}
		if head < s.high {
			return fmt.Errorf("%w: the chain head went back from event %d to %d (changed outside vetca); not sealing", ErrChainCheck, s.high, head)
		}
		if head >= upTo {
			s.high = head
			return nil
		}
		if n, prev, err = s.chain(ctx, tx, head, upTo, prev); err != nil {
			return err
		}
		headSig, err := SignHead(s.rec.key, upTo, prev)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = ?, head_hash = ?, sig = ? WHERE id = 1`, upTo, prev, headSig); err != nil {
			return fmt.Errorf("audit: advance chain head: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if upTo > s.high {
		s.high = upTo
	}
	return n, nil
}

// chain links the events numbered head+1 to upTo to prev, the head's hash:
// each present event that its own transaction wrote is chained, and every
// other number gets a signed gap event. It returns how many events it
// chained and the hash of the last number.
//
// An event's row must have been written by the transaction the event was
// signed in (Event.Xid against the row's xmin). Another writer means the
// event belongs to a transaction that rolled back, read back from the
// server and inserted outside vetca: the write it records never happened.
// The sealer takes it out, keeps it in a signed note (ActionRemovedEvent)
// that verify reports for good, and seals its number as the gap it is. An
// event whose signature does not verify is chained as it is: verify
// reports it, and nothing vetca signed is lost.
func (s *Sealer) chain(ctx context.Context, tx *store.Tx, head, upTo int64, prev string) (int, string, error) {
	evs, writers, err := unsealed(ctx, tx, head, upTo)
	if err != nil {
		return 0, "", err
	}
	n := 0
	seqs := make([]string, 0, len(evs))
	prevs := make([]string, 0, len(evs))
	hashes := make([]string, 0, len(evs))
	i := 0
	for seq := head + 1; seq <= upTo; seq++ {
		if i < len(evs) && evs[i].Seq == seq {
			e := &evs[i]
			w := writers[i]
			i++
			if !putBack(w, e.Xid) || !e.VerifySignature(s.rec.pub) {
				e.PrevHash = prev
				e.Hash = e.ComputeHash()
				prev = e.Hash
				seqs, prevs, hashes = append(seqs, strconv.FormatInt(seq, 10)), append(prevs, e.PrevHash), append(hashes, e.Hash)
				n++
				continue
			}
			if err := s.removeUncommitted(ctx, tx, e, w); err != nil {
				return 0, "", err
			}
		}
		g, err := s.gap(ctx, tx, seq, prev)
		if err != nil {
			return 0, "", err
		}
		prev = g.Hash
	}
	if len(seqs) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE audit_events e SET prev_hash = v.p, hash = v.h
			FROM (SELECT unnest(string_to_array(?, ','))::bigint AS s, unnest(string_to_array(?, ',')) AS p, unnest(string_to_array(?, ',')) AS h) v
			WHERE e.seq = v.s`, strings.Join(seqs, ","), strings.Join(prevs, ","), strings.Join(hashes, ",")); err != nil {
			return 0, "", fmt.Errorf("audit: seal events: %w", err)
		}
	}
	return n, prev, nil
}

// unsealed reads the events numbered head+1 to upTo, with the id of the
// transaction that wrote each one's row (xmin), or empty for one that
// needs no such check (writerSQL).
func unsealed(ctx context.Context, tx *store.Tx, head, upTo int64) ([]Event, []string, error) {
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+`, `+writerSQL("")+` FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq`, head, upTo)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: read events to seal: %w", err)
	}
	defer rows.Close()
	var evs []Event
	var writers []string
	for rows.Next() {
		var w string
		e, err := scanEvent(rows, &w)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: read events to seal: %w", err)
		}
		evs, writers = append(evs, e), append(writers, w)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("audit: read events to seal: %w", err)
	}
	return evs, writers, nil
}

// gap writes the signed gap event for seq, linked to prev.
func (s *Sealer) gap(ctx context.Context, tx *store.Tx, seq int64, prev string) (*Event, error) {
	g := &Event{Seq: seq, At: s.rec.clock.Now().UTC().Truncate(time.Second), Actor: sealActor, Action: "audit.gap", Op: OpGap,
		EntityType: "audit_events", EntityID: strconv.FormatInt(seq, 10), PrevHash: prev}
	g.FieldHashes = fieldHashes(g)
	if err := g.Sign(s.rec.key); err != nil {
		return nil, err
	}
	g.Hash = g.ComputeHash()
	if _, err := tx.Exec(ctx, insertEventSQL, g.insertArgs()...); err != nil {
		return nil, fmt.Errorf("audit: record the gap at event %d: %w", seq, err)
	}
	return g, nil
}

// ActionRemovedEvent is the note the sealer writes when it takes out an
// event whose row another transaction wrote (Sealer.chain).
const ActionRemovedEvent = "audit.uncommitted_event_removed"

// removedEvent is the content of an ActionRemovedEvent note.
type removedEvent struct {
	Event     Event  `json:"event"`
	WrittenBy string `json:"writtenBy"`
}

// removeUncommitted deletes e, whose row transaction writer wrote though e
// was signed in another, and records it whole in a signed note. The row
// its write recorded stays, vouched for by nothing newer than the event
// before it, so reads of it fail closed and verify names it.
func (s *Sealer) removeUncommitted(ctx context.Context, tx *store.Tx, e *Event, writer string) error {
	s.log.Error("audit: an event of a transaction that rolled back was inserted outside vetca; removing it and sealing its number as a gap",
		"seq", e.Seq, "signedIn", e.Xid, "writtenBy", writer, "entity", e.EntityType+" "+e.EntityID, "action", e.Action)
	if _, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE seq = ?`, e.Seq); err != nil {
		return fmt.Errorf("audit: remove event %d: %w", e.Seq, err)
	}
	if err := s.rec.note(ctx, tx, sealActor, ActionRemovedEvent, "audit_events", strconv.FormatInt(e.Seq, 10),
		removedEvent{Event: *e, WrittenBy: writer}); err != nil {
		return fmt.Errorf("audit: record the removal of event %d: %w", e.Seq, err)
	}
	return nil
}

// SealAll seals every event committed so far, waiting (up to ctx) for the
// transactions that hold numbers to end. Commands that write call it
// before they exit, and tests before they look at the chain.
func (s *Sealer) SealAll(ctx context.Context) error {
	if !Needed(s.db) {
		return nil
	}
	target, err := s.lastNumber(ctx)
	if err != nil || target == 0 {
		return err
	}
	for {
		if _, err := s.SealOnce(ctx); err != nil {
			return err
		}
		head, _, err := ChainHead(ctx, s.db)
		if err != nil {
			return err
		}
		if head >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("audit: events up to %d not sealed: %w", target, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Run seals under the lease LeaseSeal every tick until ctx ends, then
// gives the lease back.
func (s *Sealer) Run(ctx context.Context, tick time.Duration, now func() time.Time) {
	if !Needed(s.db) {
		return
	}
	defer func() {
		if err := s.db.ReleaseLease(context.WithoutCancel(ctx), LeaseSeal, s.holder); err != nil {
			s.log.Warn("release the audit seal lease", "err", err)
		}
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	var held bool
	var renewed time.Time
	var lastErr string
	for {
		if at := now(); !held || at.Sub(renewed) >= 2*time.Second {
			ok, err := s.db.AcquireLease(ctx, LeaseSeal, s.holder, at, 10*time.Second)
			if err != nil && ctx.Err() == nil {
				s.log.Error("audit seal lease", "err", err)
			}
			held, renewed = ok && err == nil, at
		}
		if held {
			_, err := s.SealOnce(ctx)
			switch {
			case err == nil:
				lastErr = ""
			case errors.Is(err, context.Canceled):
			case err.Error() != lastErr: // once, not every tick
				lastErr = err.Error()
				s.log.Error("audit events not sealed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
