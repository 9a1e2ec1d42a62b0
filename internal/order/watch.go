package order

import (
	"context"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// VersionVerified is told, inside the transaction that makes v its
// organization's current verified version (vetting.VersionObserver), to
// bring the organization's open orders up to date in the same commit.
// Every order still waiting for approval or approved gets its snapshot
// computed again from current data: if the hash changes, its approvals,
// given to the old identity, are voided and it is pending_approval under
// the new hash. So an order never shows approvals that no longer count,
// and the approved list never holds an order that finalize would refuse.
//
// An order whose certificate is being signed (its intent recorded, not
// yet landed) is left alone: it was approved and checked against the
// identity that was current when its intent was recorded, and voiding it
// now would throw away that certificate.
func (s *Service) VersionVerified(ctx context.Context, tx *store.Tx, by actor.Actor, v vetting.Version) error {
	open, err := s.tab.orders.Select(ctx, tx, `WHERE organization_id = ? AND status IN (?, ?) ORDER BY id`,
		v.OrganizationID, StatusPendingApproval, StatusApproved)
	if err != nil {
		return err
	}
	intents := issuance.NewInventory(s.rec)
	for _, o := range open {
		if err := s.tab.orders.Lock(ctx, tx, o.ID, &o); err != nil {
			return err
		}
		if o.Status != StatusPendingApproval && o.Status != StatusApproved {
			continue
		}
		in, err := intents.IntentsOfOrders(ctx, tx, []string{o.ID})
		if err != nil {
			return err
		}
		if signing(in) {
			continue
		}
		if _, _, _, _, err := s.refresh(ctx, tx, by, o); err != nil {
			return err
		}
	}
	return nil
}

// signing reports whether one of an order's intents is still pending.
func signing(in []issuance.Intent) bool {
	for _, i := range in {
		if i.Status == issuance.IntentPending {
			return true
		}
	}
	return false
}
