package revocation

import (
	"context"
	"crypto"
)

// StoreAsOf signs serialHex's response for st, a status read earlier, and
// stores it as a signer that read st then would, at the moment of its
// store; it reports whether the response was stored.
func (o *Responder) StoreAsOf(ctx context.Context, st Status, issuerID, serialHex string, h crypto.Hash) (bool, error) {
	_, stored, err := o.signStatus(ctx, o.mem.ticket(), st, issuerID, serialHex, h, memHold)
	return stored, err
}

// AfterNextStore makes fn run once, just after the next response is
// stored and before its store's guard is read again.
func (o *Responder) AfterNextStore(fn func()) { o.afterStore.Store(&fn) }
