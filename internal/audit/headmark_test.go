package audit

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

func eachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.OpenPostgres(t)) })
}

// Events after the newest checkpoint, cut off by someone with write access
// to the database (the tail deleted, and on PostgreSQL the head row moved
// back), are not chained again or sealed as gaps and then signed over by the
// next checkpoint: the highest head this host saw is kept beside the
// checkpoints, outside the database, so even a restarted checkpointer or
// sealer refuses, and a signed note makes verify report it for good.
func TestACutTailIsRefusedAfterARestart(t *testing.T) {
	// The second insider also appends a newline to event 1's signature,
	// which names the trail: it still decoded to the same signature (the
	// base64 decoder skips it) but named another trail, so the mark was
	// reset and the cut chained over, verify silent. Only the canonical
	// encoding verifies now, and the trail is named by the bytes.
	for _, also := range []string{"", `UPDATE audit_events SET sig = sig || ? WHERE seq = 1`} {
		eachBackend(t, func(t *testing.T, db *store.DB) { cutTailAndRestart(t, db, also) })
	}
}

func cutTailAndRestart(t *testing.T, db *store.DB, also string) {
	f := setup(t, db)
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	cfg := CheckpointerConfig{Dir: dir, Holder: "replica-a"}
	if _, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).Now(ctx); err != nil {
		t.Fatal(err)
	}
	f.note(t, 4)
	// Not due yet, but the checkpointer has seen the head.
	if cp, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).RunOnce(ctx); err != nil || cp != nil {
		t.Fatalf("a checkpoint not due: %v %v", cp, err)
	}
	top := headSeq(t, db)
	cut := top - 2
	f.exec(t, `DELETE FROM audit_events WHERE seq > ?`, cut)
	if also != "" {
		f.exec(t, also, "\n")
	}
	if db.Dialect() == store.Postgres {
		f.exec(t, `UPDATE audit_head SET seq = ?, head_hash = (SELECT hash FROM audit_events WHERE seq = ?)`, cut, cut)
		if _, err := NewSealer(db, f.rec, log, "replica-b", dir).SealOnce(ctx); !errors.Is(err, ErrChainCheck) {
			t.Fatalf("a new sealer sealed over the cut: %v", err)
		}
		if g := gapEvents(t, db); len(g) != 0 {
			t.Fatalf("deleted events sealed as gaps: %v", g)
		}
	}
	// Ordinary writes after the cut (on SQLite they take the deleted
	// numbers again, and the head climbs back past the mark) hide
	// nothing: the event at the mark is not the one seen there.
	f.clk.Advance(time.Minute) // (the same notes at the same time would be the same events)
	f.note(t, 5)
	// A checkpointer started afresh (serve restarted) refuses too.
	_, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).Now(ctx)
	if !errors.Is(err, ErrChainCheck) {
		t.Fatalf("a restarted checkpointer signed the cut chain: %v", err)
	}
	if also != "" {
		// Event 1 put back as it was: the cut is refused still.
		f.exec(t, `UPDATE audit_events SET sig = replace(sig, ?, '') WHERE seq = 1`, "\n")
		if _, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).Now(ctx); !errors.Is(err, ErrChainCheck) {
			t.Fatalf("a restarted checkpointer signed the cut chain: %v", err)
		}
	}
	rep := f.verify(t)
	noted := false
	for _, fd := range rep.Findings {
		if fd.Table == "audit_events" && fd.Field == "action" {
			noted = true
		}
	}
	if !noted {
		t.Fatalf("verify does not report the cut: %+v", rep.Findings)
	}
}

// A new database begun with the same key directory is a trail of its own,
// not the old one truncated.
func TestANewTrailBesideAnOldMarkIsNotACut(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		log := slog.New(slog.DiscardHandler)
		ctx := context.Background()
		old := setup(t, storetest.OpenSQLite(t))
		old.note(t, 20)
		if _, err := NewCheckpointer(old.db, old.rec, old.clk, CheckpointerConfig{Dir: dir, Holder: "a"}, log).Now(ctx); err != nil {
			t.Fatal(err)
		}
		f := setup(t, db)
		if _, err := NewCheckpointer(db, f.rec, f.clk, CheckpointerConfig{Dir: dir, Holder: "a"}, log).Now(ctx); err != nil {
			t.Fatalf("a new trail taken for a cut one: %v", err)
		}
		if rep := f.verify(t); len(rep.Findings) != 0 {
			t.Fatalf("findings on a clean trail: %+v", rep.Findings)
		}
	})
}

// A sequence moved far ahead is sealed over several passes, each chaining
// at most maxSealBatch numbers, never in one transaction holding every gap.
// The sealer waits for every transaction older than its seal point on the
// whole PostgreSQL server, other test packages' included, so the passes
// before the first that seals are not counted.
func TestSealerSealsAFarJumpInBatches(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := headSeq(t, db)
	target := before + maxSealBatch + 500
	f.exec(t, `SELECT setval('audit_seq', `+strconv.FormatInt(target, 10)+`)`)
	s := newTestSealer(f)
	for headSeq(t, db) == before && ctx.Err() == nil {
		if _, err := s.SealOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := headSeq(t, db) - before; got != maxSealBatch {
		t.Fatalf("the first pass that sealed sealed %d numbers, want %d", got, maxSealBatch)
	}
	if err := s.SealAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := headSeq(t, db); got != target {
		t.Fatalf("head %d after SealAll, want %d", got, target)
	}
}

// The mark is read before the head it is compared with: a head read just
// before another process (another replica's sealer, a CLI checkpoint)
// raised the mark is older, not cut, and is no finding; and the process
// that read it does not write it over the higher mark.
func TestAHeadReadBeforeAnotherProcessRaisedTheMarkIsNotACut(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		dir := t.TempDir()
		log := slog.New(slog.DiscardHandler)
		mine, other := newHeadMark(dir, f.rec.pub, log), newHeadMark(dir, f.rec.pub, log)
		floor, err := mine.floor(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		head, hash, err := ChainHead(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		// Meanwhile the chain moves on and another process raises the mark.
		f.note(t, 3)
		f.seal(t)
		of, err := other.floor(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		newHead, newHash, err := ChainHead(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.check(ctx, db, of, newHead, newHash); err != nil || newHead <= head {
			t.Fatalf("the other process: head %d after %d: %v", newHead, head, err)
		}
		if err := mine.check(ctx, db, floor, head, hash); err != nil {
			t.Fatalf("a head read before the other process raised the mark was taken for a cut: %v", err)
		}
		// Nor does it lower the mark the other wrote: a restarted process
		// would take the lower one, and a cut between them would pass.
		got, err := newHeadMark(dir, f.rec.pub, log).floor(ctx, db)
		if err != nil || got.seq != newHead {
			t.Fatalf("a restarted process sees the mark at %d, want %d: %v", got.seq, newHead, err)
		}
	})
}

// Event 1's signature names the trail for the head-seen mark. An insider
// who broke it, deleted event 1 or put another trail's event 1 (signed
// with the same key) in its place, only while a checkpointer looked, made
// the mark name another trail: it was reset, and once event 1 was put back
// the file held no mark for it, so a tail cut meanwhile was chained over,
// checkpointed, and verify was silent. A first event that does not verify
// names no trail, and the file keeps every trail's mark.
func TestABrokenFirstEventDoesNotResetTheMark(t *testing.T) {
	hides := map[string]func(t *testing.T, f *fixture){
		"broken":  func(t *testing.T, f *fixture) { f.exec(t, `UPDATE audit_events SET sig = 'AAAA' WHERE seq = 1`) },
		"deleted": func(t *testing.T, f *fixture) { f.exec(t, `DELETE FROM audit_events WHERE seq = 1`) },
		"swapped": func(t *testing.T, f *fixture) {
			other := &fixture{db: storetest.OpenSQLite(t), clk: f.clk, key: f.key}
			other.rec = newTestRecorder(t, other.db, f.clk, nil, f.key)
			other.note(t, 1)
			f.exec(t, `DELETE FROM audit_events WHERE seq = 1`)
			f.exec(t, insertEventSQL, firstEvent(t, other.db)...)
		},
	}
	for name, hide := range hides {
		t.Run(name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, db *store.DB) { cutWithFirstEventHidden(t, db, hide) })
		})
	}
}

// firstEvent returns event 1's values in eventColumns order.
func firstEvent(t *testing.T, db *store.DB) []any {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT `+eventColumns+` FROM audit_events WHERE seq = 1`)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := scanEvents(rows)
	if err != nil || len(evs) != 1 {
		t.Fatalf("event 1: %v %v", evs, err)
	}
	return evs[0].insertArgs()
}

func cutWithFirstEventHidden(t *testing.T, db *store.DB, hide func(t *testing.T, f *fixture)) {
	f := setup(t, db)
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	cfg := CheckpointerConfig{Dir: dir, Holder: "replica-a", Every: time.Hour, Burst: 1000}
	if _, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).Now(ctx); err != nil {
		t.Fatal(err)
	}
	f.note(t, 4)
	if _, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	first := firstEvent(t, db)
	cut := headSeq(t, db) - 2
	f.exec(t, `DELETE FROM audit_events WHERE seq > ?`, cut)
	if db.Dialect() == store.Postgres {
		f.exec(t, `UPDATE audit_head SET seq = ?, head_hash = (SELECT hash FROM audit_events WHERE seq = ?)`, cut, cut)
	}
	hide(t, f)
	f.clk.Advance(time.Minute)
	f.note(t, 5)
	// serve's checkpointer looks while event 1 is not the trail's.
	_, _ = NewCheckpointer(db, f.rec, f.clk, cfg, log).RunOnce(ctx)
	f.exec(t, `DELETE FROM audit_events WHERE seq = 1`)
	f.exec(t, insertEventSQL, first...)
	_, err := NewCheckpointer(db, f.rec, f.clk, cfg, log).Now(ctx)
	if !errors.Is(err, ErrChainCheck) {
		t.Fatalf("the cut chain was checkpointed once event 1 was put back: %v", err)
	}
}

// sealFirst runs seal before the first QueryRow it passes on: it stands
// for another replica's sealer committing between two reads.
type sealFirst struct {
	store.Querier
	seal func()
}

func (q *sealFirst) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if q.seal != nil {
		q.seal()
		q.seal = nil
	}
	return q.Querier.QueryRow(ctx, query, args...)
}

// On PostgreSQL a new installation's first number can roll back: event 1
// is absent until a sealer records it as a signed gap, in the transaction
// that chains the events after it. A replica that found event 1 absent
// and then read the chain head after another replica's sealer committed
// that transaction took it for event 1 deleted: a false alarm.
func TestFirstNumberSealedBetweenTheReadsIsNoAlarm(t *testing.T) {
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	var first int64
	if err := db.QueryRow(ctx, `SELECT nextval('audit_seq')`).Scan(&first); err != nil || first != 1 {
		t.Fatalf("nextval: %d %v", first, err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	key := newTestKey(t)
	f := &fixture{db: db, rec: newTestRecorder(t, db, clk, nil, key), clk: clk, key: key}
	f.note(t, 2)
	q := &sealFirst{Querier: db, seal: func() { f.seal(t) }}
	if _, err := firstSignature(ctx, q, f.rec.pub); err != nil {
		t.Fatalf("event 1 sealed as a gap between the reads: %v", err)
	}
}

// Processes on a host raise the mark in the file at once (serve's sealer
// and checkpointer, a command marking its writes): each reads the file,
// keeps every higher mark, and writes it back. Without taking turns, one
// that read before another's write wrote its lower mark over it.
func TestConcurrentRaisesKeepTheHighestMark(t *testing.T) {
	dir := t.TempDir()
	const n = 64
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			m := newHeadMark(dir, nil, nil)
			m.trail, m.high = "trail", markPoint{seq: int64(round*n + i), hash: "h" + strconv.Itoa(i)}
			wg.Add(1)
			go func() { defer wg.Done(); m.writeFile() }()
		}
		wg.Wait()
		if got := newHeadMark(dir, nil, nil).readFile()["trail"].seq; got != int64(round*n+n) {
			t.Fatalf("round %d: the file's mark is %d, want %d", round, got, round*n+n)
		}
	}
}

// A process that took the floor of a database with no event yet (trail
// "-") and read the head after events were chained kept that head as the
// mark of "-" in the file, for good: a new database begun later with the
// same key and checkpoint directories, which has no event either, then
// looked cut from that head down to nothing.
func TestAHeadChainedAfterAnEmptyFloorMarksNoTrail(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		key := newTestKey(t)
		f := &fixture{db: db, rec: newTestRecorder(t, db, clk, nil, key), clk: clk, key: key}
		m := newHeadMark(dir, f.rec.pub, nil)
		floor, err := m.floor(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		f.note(t, 3)
		f.seal(t)
		head, hash, err := ChainHead(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.check(ctx, db, floor, head, hash); err != nil {
			t.Fatal(err)
		}
		fresh := storetest.OpenSQLite(t)
		m2 := newHeadMark(dir, f.rec.pub, nil)
		floor, err = m2.floor(ctx, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.check(ctx, fresh, floor, 0, ""); err != nil {
			t.Fatalf("a new database with the same directories: %v", err)
		}
	})
}
