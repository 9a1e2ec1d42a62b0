package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// Checkpoint is a signed statement of the chain head at a moment. `serve`
// writes one on a schedule and after bursts of writes, to a directory
// outside the database and to the database, and publishes the newest at a
// public URL so that auditors can keep copies. Because each event's hash
// chains every event before it, a later Verify against a checkpoint detects
// a chain that was truncated or rebuilt from scratch, even by someone who
// could write the database.
type Checkpoint struct {
	Version   int    `json:"version"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	At        string `json:"at"`
	KeyID     string `json:"keyId"`     // hex SHA-256 of the signing key's SubjectPublicKeyInfo
	Signature string `json:"signature"` // base64, over SignedBytes

	// Source says where the checkpoint was read from (a file path or
	// "database"); it is not signed.
	Source string `json:"source,omitempty"`
}

// CheckpointVersion is the current checkpoint format.
const CheckpointVersion = 2

// SignedBytes is what the signature covers.
func (c *Checkpoint) SignedBytes() []byte {
	return []byte(fmt.Sprintf("vetca-audit-checkpoint-v%d\nseq=%d\nhash=%s\nat=%s\n", c.Version, c.Seq, c.Hash, c.At))
}

// SignCheckpoint signs (seq, hash) at now with the audit key.
func SignCheckpoint(key *Key, seq int64, hash string, now time.Time) (*Checkpoint, error) {
	c := &Checkpoint{Version: CheckpointVersion, Seq: seq, Hash: hash, At: store.FormatTime(now), KeyID: key.Public().ID()}
	sig, err := key.Sign(c.SignedBytes())
	if err != nil {
		return nil, err
	}
	c.Signature = base64.StdEncoding.EncodeToString(sig)
	return c, nil
}

// ErrForeignCheckpoint is wrapped by Verify's error for a checkpoint signed
// by a key other than the installation's.
var ErrForeignCheckpoint = errors.New("checkpoint signed by another key")

// Verify checks that the checkpoint was signed by pub. A checkpoint signed
// by any other key — another installation's, or one an attacker made — is
// refused, naming both keys.
func (c *Checkpoint) Verify(pub *PublicKey) error {
	if c.Version != CheckpointVersion {
		return fmt.Errorf("checkpoint: version %d is not %d", c.Version, CheckpointVersion)
	}
	if c.KeyID != pub.ID() {
		return fmt.Errorf("checkpoint of event %d: signed by key %s, not the installation's audit key %s: %w", c.Seq, short(c.KeyID), short(pub.ID()), ErrForeignCheckpoint)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) == 0 || base64.StdEncoding.EncodeToString(sig) != c.Signature {
		return errors.New("checkpoint: malformed signature")
	}
	if !pub.Verify(c.SignedBytes(), sig) {
		return fmt.Errorf("checkpoint of event %d: the signature does not verify under the installation's audit key: the checkpoint was altered or forged", c.Seq)
	}
	return nil
}

// ParseCheckpoint decodes a checkpoint document (no signature check).
func ParseCheckpoint(b []byte) (*Checkpoint, error) {
	var c Checkpoint
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &c, nil
}

// ReadCheckpoint reads a checkpoint file and checks it was signed by pub.
func ReadCheckpoint(path string, pub *PublicKey) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file: %w", err)
	}
	c, err := ParseCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
	}
	if err := c.Verify(pub); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
	}
	c.Source = path
	return c, nil
}

// checkpointFile is the file name of a checkpoint in a checkpoint directory.
func checkpointFile(seq int64) string { return fmt.Sprintf("checkpoint-%020d.json", seq) }

// WriteCheckpointFile writes c into dir (created if missing) atomically and
// durably, and returns the path.
func WriteCheckpointFile(dir string, c *Checkpoint) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, checkpointFile(c.Seq))
	tmp, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return "", fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return path, nil
}

// StoreCheckpoint records c in the database. The row needs no audit event:
// its signature authenticates it.
func StoreCheckpoint(ctx context.Context, q store.Querier, c *Checkpoint) error {
	_, err := q.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
		c.Seq, c.Hash, c.At, c.KeyID, c.Signature)
	if err != nil {
		return fmt.Errorf("store checkpoint %d: %w", c.Seq, err)
	}
	return nil
}

// CheckpointSet is the checkpoints found in the database and a checkpoint
// directory: the ones signed by the installation's key, and findings for
// the others.
type CheckpointSet struct {
	Trusted  []*Checkpoint
	Findings []Finding
}

// Newest returns the trusted checkpoint of the highest sequence number.
func (s *CheckpointSet) Newest() *Checkpoint {
	var n *Checkpoint
	for _, c := range s.Trusted {
		if n == nil || c.Seq > n.Seq {
			n = c
		}
	}
	return n
}

// LoadCheckpoints reads every checkpoint in the database and in dir (which
// may be empty or missing) and sorts them by trust under pub. A checkpoint
// that is signed by another key, or whose signature fails, is a finding:
// someone placed it there.
func LoadCheckpoints(ctx context.Context, db store.Querier, dir string, pub *PublicKey) (*CheckpointSet, error) {
	set := &CheckpointSet{}
	rows, err := db.Query(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	for rows.Next() {
		c := &Checkpoint{Version: CheckpointVersion, Source: "database"}
		if err := rows.Scan(&c.Seq, &c.Hash, &c.At, &c.KeyID, &c.Signature); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		set.add(c, "audit_checkpoints", strconv.FormatInt(c.Seq, 10), pub)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	rows.Close()
	if dir == "" {
		return set, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), "checkpoint-") && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(dir, n)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
		}
		c, err := ParseCheckpoint(b)
		if err != nil {
			set.Findings = append(set.Findings, Finding{Table: "checkpoint", RowID: path, Message: err.Error()})
			continue
		}
		c.Source = path
		set.add(c, "checkpoint", path, pub)
	}
	return set, nil
}

func (s *CheckpointSet) add(c *Checkpoint, table, id string, pub *PublicKey) {
	if err := c.Verify(pub); err != nil {
		s.Findings = append(s.Findings, Finding{Table: table, RowID: id, Field: "signature", Message: err.Error()})
		return
	}
	s.Trusted = append(s.Trusted, c)
}

// NewestCheckpoint returns the checkpoint of the highest sequence number
// signed by pub, from the database or dir, or nil. Unlike LoadCheckpoints it
// reads only as far back as it must.
func NewestCheckpoint(ctx context.Context, db store.Querier, dir string, pub *PublicKey) (*Checkpoint, error) {
	var best *Checkpoint
	// Every row, newest first, up to the first that verifies: a bounded
	// read would let a few rows written by SQL above the real ones (they
	// cannot be signed) hide every real checkpoint.
	rows, err := db.Query(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	for rows.Next() {
		c := &Checkpoint{Version: CheckpointVersion, Source: "database"}
		if err := rows.Scan(&c.Seq, &c.Hash, &c.At, &c.KeyID, &c.Signature); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		if c.Verify(pub) == nil {
			best = c
			break
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	rows.Close()
	if dir == "" {
		return best, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return best, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	// Names sort by sequence number (zero-padded); walk back from the end.
	for i := len(entries) - 1; i >= 0; i-- {
		n := entries[i].Name()
		if entries[i].IsDir() || !strings.HasPrefix(n, "checkpoint-") || !strings.HasSuffix(n, ".json") {
			continue
		}
		c, err := ReadCheckpoint(filepath.Join(dir, n), pub)
		if err != nil {
			continue // LoadCheckpoints (audit verify) reports it
		}
		if best == nil || c.Seq > best.Seq {
			best = c
		}
		break
	}
	return best, nil
}

// readHeadEvent returns the newest event's sequence number and hash, or 0
// and "" for an empty trail.
func readHeadEvent(ctx context.Context, q store.Querier) (int64, string, error) {
	var seq int64
	var hash string
	// The newest chained event: on PostgreSQL, events above the sealed
	// head have no hash yet (seal.go).
	err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_events WHERE hash <> '' ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return seq, hash, err
}

// ChainHead returns the sequence number and hash of the chain head that
// the next event extends (0 and the genesis hash for an empty trail): on
// SQLite the last event, on PostgreSQL the last sealed event (audit_head,
// kept by the Sealer).
func ChainHead(ctx context.Context, q store.Querier) (int64, string, error) {
	if q.Dialect() != store.Postgres {
		seq, hash, err := readHeadEvent(ctx, q)
		if err != nil {
			return 0, "", fmt.Errorf("read the audit chain head: %w", err)
		}
		return seq, hash, nil
	}
	var seq int64
	var hash string
	if err := q.QueryRow(ctx, `SELECT seq, head_hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("read the audit chain head: %w", err)
	}
	return seq, hash, nil
}

// FirstKeyID returns the key id of the trail's first event ("" when that
// event is unsigned) and whether the trail has any event.
func FirstKeyID(ctx context.Context, q store.Querier) (string, bool, error) {
	e, any, err := FirstEvent(ctx, q)
	return e.KeyID, any, err
}

// FirstEvent returns the trail's first (lowest-numbered) event and whether
// the trail has any event. A writer checks it verifies under its key
// before writing: its key id alone is a column anyone can set.
//
// It is read before the schema is migrated (a process refused for its key
// must not migrate), so it reads whichever of the event's columns the
// schema has: a column added since is left empty.
func FirstEvent(ctx context.Context, q store.Querier) (Event, bool, error) {
	rows, err := q.Query(ctx, `SELECT * FROM audit_events ORDER BY seq LIMIT 1`)
	if err != nil {
		return Event{}, false, fmt.Errorf("read the audit trail's first event: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return Event{}, false, fmt.Errorf("read the audit trail's first event: %w", err)
		}
		return Event{}, false, nil
	}
	e, err := scanEventByName(rows, cols)
	if err != nil {
		return Event{}, false, fmt.Errorf("read the audit trail's first event: %w", err)
	}
	return e, true, nil
}
