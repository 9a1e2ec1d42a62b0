package vetting_test

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
	"github.com/vetca/vetca/internal/vetting"
)

// docs/design.md §2: no_change refuses a proposal that repeats the current
// verified identity before it is due for re-verification. An organization
// whose only version was rejected (the evidence was not in yet, say) has
// no identity: proposing its fields again, as they are, is a new proposal
// to verify, not "no change". Before, it was refused with no_change
// naming the rejected version, and the organization could be proposed
// again only with a different identity.
func TestRejectedFirstVersionCanBeProposedAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Reject(ctx, bob, org.ID, 1, "the registry extract is not in yet"); err != nil {
			t.Fatal(err)
		}
		name := acme().OrganizationName
		v, err := e.svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{OrganizationName: &name})
		if err != nil || v.Status != vetting.StatusPending || v.Version != 2 {
			t.Fatalf("the rejected identity proposed again: %v %+v, want pending version 2", err, v)
		}
		if len(v.Diff) == 0 {
			t.Fatalf("version 2 shows verifiers no diff, as if it repeated a verified identity: %+v", v)
		}
		for _, by := range []actor.Actor{bob, dave} {
			if _, _, err := e.svc.Verify(ctx, by, org.ID, 2, nil); err != nil {
				t.Fatal(err)
			}
		}
		if cur, err := e.svc.CurrentVerified(ctx, db, org.ID); err != nil || cur.Version != 2 || cur.OrganizationName != name {
			t.Fatalf("current: %v %+v", err, cur)
		}
	})
}
