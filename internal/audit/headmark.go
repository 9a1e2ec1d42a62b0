package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vetca/vetca/internal/store"
)

// headMarkFile is the file, in the checkpoint directory, where a host keeps
// the highest chain head it has seen.
const headMarkFile = "head-seen"

// ActionHeadWentBack is the note vetca writes when it finds the chain head
// below one it has seen: the events after it were deleted outside vetca.
// Verify reports every such note.
const ActionHeadWentBack = "audit.head_went_back"

// headMark is the highest chain head this host has seen, kept in memory and
// in a file beside the checkpoints, outside the database. The newest
// checkpoint pins the chain only as far as it was signed; events after it
// could be deleted (the tail cut off, the head row moved back) and their
// numbers would then be chained again, or sealed as gaps, as if they had
// never been. The mark closes that window for every head this host saw:
// the sealer and the checkpointer refuse a head below it, or a chain whose
// event at the mark's number is no longer the one seen there (the tail cut
// and new events written in its place), across restarts and whichever
// process on the host saw it, and record a signed note
// (ActionHeadWentBack) that verify reports.
//
// The file holds the signature of the trail's first event, the mark's
// number and that event's chain hash, so a new database begun with the
// same key directory starts a mark of its own instead of looking
// truncated. It is written without fsync: a crash can lose the last raise,
// which only makes the mark lower.
//
// The mark is read before the head it is compared with (floor, then
// check): another process may raise it at any moment, and a head read
// before that raise is older, not cut.
type headMark struct {
	path string // "" without a checkpoint directory: memory only
	dir  string
	log  *slog.Logger
	pub  *PublicKey // event 1 must verify under it to name a trail

	mu     sync.Mutex
	trail  string               // the first event's signature
	high   markPoint            // the mark of trail
	others map[string]markPoint // the marks of the other trails seen
	noted  int64                // the head last noted as gone back, so each is noted once
	notedF int64
}

// markPoint is a chain head: an event's number and its chain hash.
type markPoint struct {
	seq  int64
	hash string
}

func newHeadMark(dir string, pub *PublicKey, log *slog.Logger) *headMark {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &headMark{log: log, dir: dir, pub: pub, others: map[string]markPoint{}}
	if dir != "" {
		m.path = filepath.Join(dir, headMarkFile)
	}
	return m
}

// noTrail names the trail of a database with no first event, in the file.
const noTrail = "-"

// firstSignature identifies the trail: its first event's signature, set when
// the event is written (on both backends), or noTrail while there is none.
// A first event that does not verify under pub names no trail: it is an
// ErrChainCheck error, for an insider who could name another trail at will
// would have the mark of the real one forgotten.
func firstSignature(ctx context.Context, q store.Querier, pub *PublicKey) (string, error) {
	e, ok, err := readEventOne(ctx, q)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return noTrail, nil
	}
	// VerifySignature takes only the canonical encoding, so the trail is
	// named by the signature's bytes: the base64 decoder skips '\r' and
	// '\n', and another text of the same signature named another trail.
	if !e.VerifySignature(pub) {
		return "", fmt.Errorf("%w: event 1, which names the trail for the highest head seen, does not verify under the installation's audit key: it was edited outside vetca", ErrChainCheck)
	}
	return e.Sig, nil
}

// readEventOne reads event 1, and whether there is one. Without it, the
// trail is noTrail while nothing is chained (a new database; on
// PostgreSQL, one whose first number rolled back and is not sealed yet).
// Once an event is chained, event 1 is too (as an event or a signed gap),
// so its absence is a deletion outside vetca. Event 1 is read again after
// the head: another process's sealer may have sealed it as a gap, with the
// events after it, between the first read and the head's.
func readEventOne(ctx context.Context, q store.Querier) (Event, bool, error) {
	e, ok, err := eventOne(ctx, q)
	if err != nil || ok {
		return e, ok, err
	}
	head, _, err := readHeadEvent(ctx, q)
	if err != nil {
		return Event{}, false, fmt.Errorf("audit: read the chain head: %w", err)
	}
	if head == 0 {
		return Event{}, false, nil
	}
	if e, ok, err = eventOne(ctx, q); err != nil || ok {
		return e, ok, err
	}
	return Event{}, false, fmt.Errorf("%w: event 1, which names the trail for the highest head seen, is missing while event %d is chained: it was deleted outside vetca", ErrChainCheck, head)
}

// eventOne reads event 1, and whether there is one.
func eventOne(ctx context.Context, q store.Querier) (Event, bool, error) {
	e, ok, err := queryEvent(ctx, q, `WHERE seq = 1`)
	if err != nil {
		return Event{}, false, fmt.Errorf("audit: read the first event: %w", err)
	}
	return e, ok, nil
}

// readFile returns the marks the file holds, by trail: one line for each
// trail this host has seen, so that a database whose event 1 was swapped
// for a moment (put back from another trail of the same key, or deleted)
// does not have its own mark forgotten.
func (m *headMark) readFile() map[string]markPoint {
	out := map[string]markPoint{}
	if m.path == "" {
		return out
	}
	b, err := os.ReadFile(m.path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] == noTrail {
			continue // noTrail has no mark (check)
		}
		seq, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || seq < 0 {
			continue
		}
		if seq > out[f[0]].seq {
			out[f[0]] = markPoint{seq: seq, hash: f[2]}
		}
	}
	return out
}

// writeFile writes m.trail's mark into the file, keeping the other
// trails' lines, unless the file already holds a higher one: a process
// that read an older head must not lower what another wrote meanwhile.
// Processes take turns under a lock file beside it, so that none writes
// back what it read before another's write.
func (m *headMark) writeFile() {
	if m.path == "" {
		return
	}
	err := os.MkdirAll(m.dir, 0o755)
	if err == nil {
		err = m.raiseLocked()
	}
	if err != nil {
		m.log.Warn("audit: the highest chain head seen could not be written beside the checkpoints", "path", m.path, "err", err)
	}
}

// raiseLocked raises the file's mark of m.trail to m.high, holding the
// lock file.
func (m *headMark) raiseLocked() error {
	lock, err := os.OpenFile(m.path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	// A file system without locks (some NFS mounts) still gets the mark,
	// as before there was a lock; closing the file releases the lock.
	_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	marks := m.readFile()
	if marks[m.trail].seq >= m.high.seq {
		return nil // another process raised it further meanwhile: never lower it
	}
	marks[m.trail] = m.high
	var b strings.Builder
	for _, trail := range slices.Sorted(maps.Keys(marks)) {
		fmt.Fprintf(&b, "%s %d %s\n", trail, marks[trail].seq, marks[trail].hash)
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, m.path)
}

// floor returns the highest head seen so far, here or (through the file)
// by another process on this host. Read it before the head to compare.
func (m *headMark) floor(ctx context.Context, db store.Querier) (markPoint, error) {
	trail, err := firstSignature(ctx, db, m.pub)
	if err != nil {
		return markPoint{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if trail != m.trail {
		if m.trail != "" {
			m.others[m.trail] = m.high
		}
		m.trail, m.high = trail, m.others[trail]
	}
	if f := m.readFile()[trail]; f.seq > m.high.seq {
		m.high = f
	}
	return m.high, nil
}

// check compares the chain head (head, with its chain hash), read from db
// after floor was taken, with floor: a head below it, or an event at
// floor's number that is not the one seen there, is an ErrChainCheck
// error. Otherwise the mark rises to head.
func (m *headMark) check(ctx context.Context, db store.Querier, floor markPoint, head int64, hash string) error {
	c, err := cutBelow(ctx, db, floor, head)
	switch {
	case err != nil:
		return err
	case c.below:
		return fmt.Errorf("%w: the chain head went back from event %d to %d: events after %d were deleted outside vetca (or the database was restored from a backup); nothing is sealed or checkpointed below event %d (if a restore was intended, remove %s)",
			ErrChainCheck, floor.seq, head, head, floor.seq, m.path)
	case c.rewritten:
		return fmt.Errorf("%w: event %d, the highest this host has seen, is no longer the one it saw there (chain hash %s, now %q): events were deleted outside vetca and their numbers used again (if a restore from a backup was intended, remove %s)",
			ErrChainCheck, floor.seq, short(floor.hash), short(c.now), m.path)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A floor taken while the database had no event names no trail: the
	// events chained since belong to the trail their event 1 names, read
	// at the next floor. Marked as noTrail's, the head would stay in the
	// file and make the next database begun empty look cut.
	if head > m.high.seq && m.trail != noTrail {
		m.high = markPoint{seq: head, hash: hash}
		m.writeFile()
	}
	return nil
}

// cut is how a chain compares with a host's mark.
type cut struct {
	below     bool   // the head is under the mark
	rewritten bool   // the event at the mark's number is not the one seen there
	now       string // that event's chain hash now ("" when gone)
}

// cutBelow compares the chain, whose head is head, with floor, the highest
// head a host saw: the one comparison the sealer, the checkpointer and
// audit verify make, each wording its own outcome.
func cutBelow(ctx context.Context, db store.Querier, floor markPoint, head int64) (cut, error) {
	if head < floor.seq {
		return cut{below: true}, nil
	}
	if floor.seq == 0 || floor.hash == "" {
		return cut{}, nil
	}
	var at string
	err := db.QueryRow(ctx, `SELECT hash FROM audit_events WHERE seq = ?`, floor.seq).Scan(&at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return cut{}, fmt.Errorf("audit: read event %d: %w", floor.seq, err)
	}
	return cut{rewritten: at != floor.hash, now: at}, nil
}

// wentBack returns, once per such head, the highest head seen when the
// chain was found cut at head (below it, or rewritten at it), for a note;
// 0 otherwise.
func (m *headMark) wentBack(head int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.high.seq == 0 || (m.noted == head && m.notedF == m.high.seq) {
		return 0
	}
	m.noted, m.notedF = head, m.high.seq
	return m.high.seq
}

// noteWentBack records, in a signed note, that the chain was found cut at
// head after the mark had reached a higher (or the same) event. The note is
// the lasting record: the refusal itself is only a log line and a failed
// checkpoint.
func noteWentBack(ctx context.Context, db *store.DB, rec *Recorder, m *headMark, head int64, by string) {
	from := m.wentBack(head)
	if from == 0 || rec.key == nil {
		return
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		return rec.note(ctx, tx, by, ActionHeadWentBack, "audit_events", strconv.FormatInt(head, 10),
			map[string]int64{"seen": from, "found": head})
	})
	if err != nil {
		m.log.Error("audit: record that the chain head went back", "err", err)
	}
}
