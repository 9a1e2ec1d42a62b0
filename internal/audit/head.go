package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/vetca/vetca/internal/store"
)

// The PostgreSQL chain head row (audit_head) is signed by the sealer each
// time it moves it. Linking an event takes no key (chainHash), so an
// unsigned head could be moved by anyone over events they linked
// themselves, an event of a transaction that rolled back among them, and
// the sealer would go on from there, and reads and verify, which check the
// writer of events above the head only, would accept it.

// headMessage is what the audit key signs for the chain head.
func headMessage(seq int64, hash string) []byte {
	return fmt.Appendf(nil, "vetca-audit-head-v1\nseq=%d\nhash=%s\n", seq, hash)
}

// SignHead returns the signature of the chain head (seq, hash) with k,
// base64, as the sealer stores it in audit_head.
func SignHead(k *Key, seq int64, hash string) (string, error) {
	sig, err := k.Sign(headMessage(seq, hash))
	if err != nil {
		return "", fmt.Errorf("audit: sign the chain head: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// headSigned reports whether sig is the audit key's signature of the head
// (seq, hash).
func headSigned(pub *PublicKey, seq int64, hash, sig string) bool {
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(b) == 0 || base64.StdEncoding.EncodeToString(b) != sig {
		return false
	}
	return pub.Verify(headMessage(seq, hash), b)
}

// headVouched reports whether the head row (seq, hash, sig) is one vetca
// moved there: the empty head, a head signed by the audit key, or an
// unsigned head standing on an event that carries no transaction id (the
// head as the migration to signed heads found it, written before events
// carried their transaction's id). An unsigned head on an event with an id
// was moved outside vetca: only a sealer that signs writes such events, and
// a sealer of the previous release can no longer move the head.
func headVouched(ctx context.Context, q store.Querier, pub *PublicKey, seq int64, hash, sig string) (bool, error) {
	if seq == 0 && hash == "" {
		return true, nil
	}
	if sig != "" {
		return headSigned(pub, seq, hash, sig), nil
	}
	var xid string
	err := q.QueryRow(ctx, `SELECT xid FROM audit_events WHERE seq = ?`, seq).Scan(&xid)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("audit: read the event at the chain head: %w", err)
	}
	return xid == "", nil
}

// errHeadUnsigned is the sealer's refusal of a head it cannot vouch for.
func errHeadUnsigned(seq int64) error {
	return fmt.Errorf("%w: the chain head row (event %d) is not signed by the installation's audit key: it was moved outside vetca; not sealing", ErrChainCheck, seq)
}
