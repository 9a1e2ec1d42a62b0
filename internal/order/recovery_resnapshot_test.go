package order_test

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// docs/design.md §4: the commit that makes a new organization version
// current re-snapshots every order pending approval or approved, "so no
// order shows approvals that no longer count, and the list of approved
// orders never holds one that finalize would refuse". It skips an order
// whose intent is pending (being signed). When that issuance then failed
// and recovery abandoned the intent, the order stayed approved with the
// approvals of the old identity: on the approved list, showing approvals
// that no longer count, refused by finalize. Recovery now re-snapshots it.
func TestRecoveredOrderDropsApprovalsOfOldIdentity(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, h := heldFixture(t, b)
			id := approvedOrder(t, f, apptest.Key(t))
			h.storeFails.Store(true)
			if fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 500 {
				t.Fatalf("finalize with a failing store step: %d %s", fin.Status, fin.Raw)
			}
			h.storeFails.Store(false)
			newLocality(t, f, 2, "Oakland") // skipped: its intent is pending
			if _, err := f.App.RecoverIssuance(context.Background()); err != nil {
				t.Fatal(err)
			}
			g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
			list := f.Do("GET", "/api/v1/orders?status=approved", f.Bob, nil)
			fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
			if g.Body["status"] == "approved" || len(g.Body["approvals"].([]any)) != 0 {
				t.Fatalf("after version 2 was verified and the interrupted issuance recovered, the order is %v at organization version %v with %d approvals of the old identity; approved list: %.300s; finalize then: %d %.200s",
					g.Body["status"], g.Body["organizationVersion"], len(g.Body["approvals"].([]any)), list.Raw, fin.Status, fin.Raw)
			}
		})
	}
}
