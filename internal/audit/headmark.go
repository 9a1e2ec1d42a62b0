package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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
// the sealer and the checkpointer refuse a head below it, across restarts
// and whichever process on the host saw it, and record a signed note
// (ActionHeadWentBack) that verify reports.
//
// The file holds the signature of the trail's first event and the mark, so
// a new database begun with the same key directory starts a mark of its
// own instead of looking truncated. It is written without fsync: a crash
// can lose the last raise, which only makes the mark lower.
type headMark struct {
	path string // "" without a checkpoint directory: memory only
	log  *slog.Logger

	mu     sync.Mutex
	trail  string // the first event's signature
	high   int64
	noted  int64 // the head last noted as gone back, so each is noted once
	notedF int64
}

func newHeadMark(dir string, log *slog.Logger) *headMark {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &headMark{log: log}
	if dir != "" {
		m.path = filepath.Join(dir, headMarkFile)
	}
	return m
}

// firstSignature identifies the trail: its first event's signature, set when
// the event is written (on both backends), or "" while there is none.
func firstSignature(ctx context.Context, q store.Querier) (string, error) {
	var sig string
	err := q.QueryRow(ctx, `SELECT sig FROM audit_events WHERE seq = 1`).Scan(&sig)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit: read the first event: %w", err)
	}
	return sig, nil
}

// readFile returns the mark the file holds for trail, or 0.
func (m *headMark) readFile(trail string) int64 {
	if m.path == "" {
		return 0
	}
	b, err := os.ReadFile(m.path)
	if err != nil {
		return 0
	}
	sig, n, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok || sig != trail {
		return 0
	}
	high, err := strconv.ParseInt(n, 10, 64)
	if err != nil || high < 0 {
		return 0
	}
	return high
}

func (m *headMark) writeFile() {
	if m.path == "" {
		return
	}
	tmp := m.path + ".tmp"
	body := fmt.Sprintf("%s %d\n", m.trail, m.high)
	if err := os.WriteFile(tmp, []byte(body), 0o644); err == nil {
		err = os.Rename(tmp, m.path)
		if err == nil {
			return
		}
	}
	m.log.Warn("audit: the highest chain head seen could not be written beside the checkpoints", "path", m.path)
}

// check compares head, the chain head just read from db, with the highest
// head seen. Below it is an ErrChainCheck error; otherwise the mark rises
// to head.
func (m *headMark) check(ctx context.Context, db store.Querier, head int64) error {
	if head == 0 {
		return nil
	}
	trail, err := firstSignature(ctx, db)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if trail != m.trail {
		m.trail, m.high = trail, 0
	}
	if f := m.readFile(trail); f > m.high {
		m.high = f // another process on this host saw further
	}
	if head < m.high {
		return fmt.Errorf("%w: the chain head went back from event %d to %d: events after %d were deleted outside vetca (or the database was restored from a backup); nothing is sealed or checkpointed below event %d (if a restore was intended, remove %s)",
			ErrChainCheck, m.high, head, head, m.high, m.path)
	}
	if head > m.high {
		m.high = head
		m.writeFile()
	}
	return nil
}

// wentBack returns the highest head seen when head is below it, once per
// such head, for a note; 0 otherwise.
func (m *headMark) wentBack(head int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if head >= m.high || (m.noted == head && m.notedF == m.high) {
		return 0
	}
	m.noted, m.notedF = head, m.high
	return m.high
}

// noteWentBack records, in a signed note, that the head was found at head
// after the mark had reached a higher one. The note is the lasting record:
// the refusal itself is only a log line and a failed checkpoint.
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
