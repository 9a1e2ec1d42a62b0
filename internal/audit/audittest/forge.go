// Package audittest holds test support for the audit trail. Forge does what
// an attacker with write access to the database and vetca's (public) source
// could do: throw the chain away and build a new, self-consistent one that
// vouches for the rows as they are now, signed with whatever key the
// attacker holds. With a key of the attacker's own, every event fails its
// signature check; with a stolen copy of the real key, only a signed
// checkpoint kept outside the database catches the rewrite.
package audittest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/store"
)

// NewKey returns a fresh in-memory Ed25519 audit key (not the
// installation's).
func NewKey() (*audit.Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return audit.NewKey(priv, "test:forger")
}

// Forge replaces the whole audit chain of db with one signed by key.
func Forge(ctx context.Context, db *store.DB, key *audit.Key, at time.Time) error {
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM audit_events"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM audit_checkpoints"); err != nil {
			return err
		}
		var seq int64
		prev := ""
		for _, name := range schema.Tables() {
			t, _ := schema.Table(name)
			if !audit.IsAudited(t) {
				continue
			}
			rows, err := tx.Query(ctx, "SELECT * FROM "+name)
			if err != nil {
				return err
			}
			maps, err := store.ScanMaps(rows)
			if err != nil {
				return err
			}
			for _, m := range maps {
				row, err := t.Normalize(m)
				if err != nil {
					return err
				}
				content, err := audit.CanonicalRow(row)
				if err != nil {
					return err
				}
				hash := audit.RowHash(name, content)
				seq++
				e := &audit.Event{Seq: seq, At: at.UTC().Truncate(time.Second), Actor: "user:mallory", Action: "forged", Op: audit.OpInsert,
					EntityType: name, EntityID: row["id"].(string), Content: &content, RowHash: hash, PrevHash: prev}
				e.FieldHashes = e.ComputeFieldHashes()
				if err := e.Sign(key); err != nil {
					return err
				}
				e.Hash = e.ComputeHash()
				prev = e.Hash
				if _, err := tx.Exec(ctx, `UPDATE `+name+` SET row_hash = ? WHERE id = ?`, hash, e.EntityID); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO audit_events (seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash, key_id, sig)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, store.FormatTime(e.At), e.Actor, e.Action, e.Op, e.EntityType, e.EntityID, e.Content, e.RowHash, e.FieldHashes, e.PrevHash, e.Hash, e.KeyID, e.Sig); err != nil {
					return fmt.Errorf("forge event %d: %w", seq, err)
				}
			}
		}
		// Whoever holds the key signs the head too.
		sig, err := audit.SignHead(key, seq, prev)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE audit_head SET seq = ?, head_hash = ?, sig = ? WHERE id = 1", seq, prev, sig)
		return err
	})
}
