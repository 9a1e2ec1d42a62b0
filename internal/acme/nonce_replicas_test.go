package acme_test

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/apptest"
)

// A nonce is used once on every replica (RFC 8555 §6.5), also when the
// replicas' clocks differ by a few seconds, as real clocks do. A replica
// pruned the used nonces that had expired by its own clock: one whose
// clock ran ahead deleted the record of a nonce another replica, whose
// clock had not reached that expiry yet, still accepted, and the captured
// request was accepted there a second time.
func TestNonceUsedOnceAcrossReplicasWithSkewedClocks(t *testing.T) {
	f := setup(t, apptest.Postgres)
	f.register(t)
	b := f.Replica()
	b.Clock.Set(f.Clock.Now().Add(2 * time.Second)) // b's clock runs 2 s ahead
	onA := f.c
	onB := acmetest.New(t, b.Server.URL, f.Cfg.PublicURL, f.c.Key)
	onB.KID = f.c.KID

	nonce := onA.Nonce() // valid for an hour by a's clock
	f.Clock.Advance(time.Hour - time.Second)
	b.Clock.Advance(time.Hour - time.Second)
	captured := onA.Sign(onA.KID, nil, acmetest.Opts{Nonce: nonce})
	if r := onA.PostRaw(onA.KID, captured); r.Status != 200 {
		t.Fatalf("first use on a: %d %s", r.Status, r.Raw)
	}
	// Ordinary traffic on b, enough for it to prune.
	for i := 0; i < 300; i++ {
		if r := onB.Post(onB.KID, nil, acmetest.Opts{}); r.Status != 200 {
			t.Fatalf("request %d on b: %d %s", i, r.Status, r.Raw)
		}
	}
	if r := onA.PostRaw(onA.KID, captured); r.Status != 400 || r.Type() != probNS+"badNonce" {
		t.Fatalf("RFC 8555 §6.5: the captured request replayed on a within its nonce's hour: want 400 badNonce, got %d %s", r.Status, r.Raw)
	}
}
