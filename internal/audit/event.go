package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// Event operations.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
	OpNote   = "note" // a fact about an entity that changes no row
	// OpGap is written by the sealer (PostgreSQL) for a sequence number
	// whose transaction rolled back: signed, so that a gap it did not
	// record is a deleted event.
	OpGap = "gap"
)

// Event is one entry of the trail.
//
// Three values protect it (docs/design.md, "The audit trail"):
//
//   - Digest covers the event's own fields: sequence number, time, actor,
//     action, operation, entity, the SHA-256 of its content and the row hash.
//   - Sig is the audit key's signature over the digest. It is what makes an
//     event authentic: someone who can write the database but does not hold
//     the key cannot produce it, not even by running vetca's own code with a
//     key of their own. Because the digest covers the sequence number, an
//     authentic event cannot be moved, and a deleted one leaves a gap.
//   - Hash chains the digest to the previous event's hash. A signed
//     checkpoint of one hash therefore commits to every event before it, so
//     a truncated or rebuilt chain is caught against a checkpoint kept
//     outside the database.
type Event struct {
	Seq         int64     `db:"seq" json:"seq"`
	At          time.Time `db:"at" json:"at"`
	Actor       string    `db:"actor" json:"actor"`
	Action      string    `db:"action" json:"action"`
	Op          string    `db:"op" json:"op"`
	EntityType  string    `db:"entity_type" json:"entityType"`
	EntityID    string    `db:"entity_id" json:"entityId"`
	Content     *string   `db:"content" json:"content,omitempty"`
	RowHash     string    `db:"row_hash" json:"rowHash,omitempty"`
	FieldHashes string    `db:"field_hashes" json:"-"`
	PrevHash    string    `db:"prev_hash" json:"prevHash"`
	Hash        string    `db:"hash" json:"hash"`
	KeyID       string    `db:"key_id" json:"keyId"`
	Sig         string    `db:"sig" json:"signature"`
	// Xid is the PostgreSQL transaction that wrote the event (empty on
	// SQLite, and for events written before it was recorded). The
	// signature covers it, and the sealer chains the event only if its row
	// was written by that transaction (seal.go): an event of a transaction
	// that rolled back, inserted afterwards, is refused.
	Xid string `db:"xid" json:"xid,omitempty"`

	badAt  string // a stored time that did not parse (Verify reports it)
	writer string // the id of the transaction that wrote the row (PostgreSQL xmin), where read
}

// eventColumns lists audit_events' columns in the order Event's fields are
// scanned by scanEvent.
const eventColumns = `seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash, key_id, sig, xid`

// contentDigest is what an event's digest covers of its content: the
// hex SHA-256 of the content, or "none" for an event without content.
func contentDigest(content *string) string {
	if content == nil {
		return "none"
	}
	s := sha256.Sum256([]byte(*content))
	return hex.EncodeToString(s[:])
}

// eventFields lists the fields an event digest covers, in order. The
// transaction id is a field only when there is one, so events written
// without it keep their digests; the fields are named and length-prefixed,
// so no event with it has the digest of one without.
func eventFields(e *Event) [][2]string {
	fields := [][2]string{
		{"at", store.FormatTime(e.At)},
		{"actor", e.Actor},
		{"action", e.Action},
		{"op", e.Op},
		{"entity_type", e.EntityType},
		{"entity_id", e.EntityID},
		{"content", contentDigest(e.Content)},
		{"row_hash", e.RowHash},
	}
	if e.Xid != "" {
		fields = append(fields, [2]string{"xid", e.Xid})
	}
	return fields
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Digest is the hex SHA-256 over a domain separator, the sequence number
// and every field of the event (eventFields), each length-prefixed.
func (e *Event) Digest() string { return digestOf(e.Seq, eventFields(e)) }

func digestOf(seq int64, fields [][2]string) string {
	h := sha256.New()
	writeField(h, "vetca-audit-event-v2")
	writeField(h, strconv.FormatInt(seq, 10))
	for _, f := range fields {
		writeField(h, f[0])
		writeField(h, f[1])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// signedMessage is what the audit key signs for an event.
func signedMessage(digest string) []byte {
	return []byte("vetca-audit-event-signature-v2\n" + digest)
}

// chainHash links an event's digest to the previous event's hash.
func chainHash(prev, digest string) string {
	h := sha256.New()
	writeField(h, "vetca-audit-chain-v2")
	writeField(h, prev)
	writeField(h, digest)
	return hex.EncodeToString(h.Sum(nil))
}

// ComputeHash recomputes the event's chain hash from its fields and its
// previous hash, so anyone with an export can check the chain offline.
func (e *Event) ComputeHash() string { return chainHash(e.PrevHash, e.Digest()) }

// ComputeFieldHashes recomputes the per-field digests.
func (e *Event) ComputeFieldHashes() string { return fieldHashes(e) }

// VerifySignature checks the event's signature under pub: the event was
// written by a holder of that key, exactly as it reads now.
func (e *Event) VerifySignature(pub *PublicKey) bool {
	if e.KeyID != pub.ID() {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(e.Sig)
	// Only the canonical encoding: the decoder skips '\r' and '\n', so
	// other texts decode to the same signature, and the signature's text
	// identifies the trail (headMark).
	if err != nil || len(sig) == 0 || base64.StdEncoding.EncodeToString(sig) != e.Sig {
		return false
	}
	return pub.Verify(signedMessage(e.Digest()), sig)
}

// Sign fills the event's key id and signature with k.
func (e *Event) Sign(k *Key) error { return e.signDigest(k, e.Digest()) }

// signDigest signs digest, which must be e.Digest(), computed once by a
// caller that needs it again.
func (e *Event) signDigest(k *Key, digest string) error {
	msg := signedMessage(digest)
	sig, err := k.Sign(msg)
	if err != nil {
		return err
	}
	e.KeyID, e.Sig = k.Public().ID(), base64.StdEncoding.EncodeToString(sig)
	// The key's own signatures need no check when read back.
	k.Public().remember(verifiedKey(msg, sig))
	return nil
}

func verifiedKey(msg, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(msg)
	h.Write([]byte{0})
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// fieldHashes is a short digest of each field. It is not part of the
// trail's security (the signature is); it lets Verify name the field that a
// one-column UPDATE on audit_events changed.
func fieldHashes(e *Event) string { return fieldHashesOf(eventFields(e)) }

func fieldHashesOf(fields [][2]string) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		sum := sha256.Sum256([]byte(f[0] + "\x00" + f[1]))
		parts = append(parts, f[0]+":"+hex.EncodeToString(sum[:8]))
	}
	return strings.Join(parts, ",")
}

func parseFieldHashes(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(p, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// queryEvent reads the first event of audit_events that tail (a WHERE or
// ORDER BY clause, with its args) selects, and whether there is one.
func queryEvent(ctx context.Context, q store.Querier, tail string, args ...any) (Event, bool, error) {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+` FROM audit_events `+tail, args...)
	if err != nil {
		return Event{}, false, err
	}
	evs, err := scanEvents(rows)
	if err != nil || len(evs) == 0 {
		return Event{}, false, err
	}
	return evs[0], true, nil
}

// scanEvents reads rows of eventColumns.
func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEvent reads one row of eventColumns, then any further columns into
// extra. A stored time that does not parse leaves At zero and is kept for
// Verify to report.
func scanEvent(rows *sql.Rows, extra ...any) (Event, error) {
	var e Event
	var at string
	var content sql.NullString
	dst := append([]any{&e.Seq, &at, &e.Actor, &e.Action, &e.Op, &e.EntityType, &e.EntityID, &content, &e.RowHash, &e.FieldHashes, &e.PrevHash, &e.Hash, &e.KeyID, &e.Sig, &e.Xid}, extra...)
	if err := rows.Scan(dst...); err != nil {
		return Event{}, err
	}
	e.setStored(at, content)
	return e, nil
}

// scanEventByName reads the current row of rows, whose columns are cols,
// into an event: each column of eventColumns that is there fills its
// field, and any other column is skipped.
func scanEventByName(rows *sql.Rows, cols []string) (Event, error) {
	var e Event
	var at string
	var content sql.NullString
	fields := map[string]any{"seq": &e.Seq, "at": &at, "actor": &e.Actor, "action": &e.Action, "op": &e.Op,
		"entity_type": &e.EntityType, "entity_id": &e.EntityID, "content": &content, "row_hash": &e.RowHash,
		"field_hashes": &e.FieldHashes, "prev_hash": &e.PrevHash, "hash": &e.Hash, "key_id": &e.KeyID, "sig": &e.Sig, "xid": &e.Xid}
	dst := make([]any, len(cols))
	for i, c := range cols {
		if p, ok := fields[c]; ok {
			dst[i] = p
		} else {
			dst[i] = new(any)
		}
	}
	if err := rows.Scan(dst...); err != nil {
		return Event{}, err
	}
	e.setStored(at, content)
	return e, nil
}

// setStored sets the event's time and content from their stored forms. A
// time that does not parse leaves At zero and is kept for Verify to report.
func (e *Event) setStored(at string, content sql.NullString) {
	if content.Valid {
		e.Content = &content.String
	}
	t, err := store.ParseTime(at)
	if err != nil {
		e.badAt = at
	}
	e.At = t
}
