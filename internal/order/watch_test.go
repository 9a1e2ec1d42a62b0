package order_test

import (
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// newLocality proposes a version of f's organization in another city and
// has bob and carol verify it, which makes it current.
func newLocality(t *testing.T, f *apptest.OrderFixture, n int, city string) {
	t.Helper()
	if p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": city}); p.Status != 201 {
		t.Fatalf("propose: %d %s", p.Status, p.Raw)
	}
	f.VerifyVersion(n, f.Bob, f.Carol)
}

// The commit that verifies a new organization version voids the approvals
// of the organization's open orders: an approved order shows at once that
// it needs approving again under its new snapshot (an order shows only
// approvals that count for its current snapshot hash), the approved list
// no longer holds it, and finalize answers snapshot_mismatch, as when it
// finds the change itself.
func TestNewVersionVoidsApprovalsOfOpenOrdersAtOnce(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id := approvedOrder(t, f, apptest.Key(t))
		old := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil).Body["snapshotHash"]
		newLocality(t, f, 2, "Oakland")
		g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
		if g.Body["status"] != "pending_approval" || len(g.Body["approvals"].([]any)) != 0 ||
			g.Body["snapshotHash"] == old || g.Body["organizationVersion"] != float64(2) {
			t.Fatalf("right after version 2 was verified: %s", g.Raw)
		}
		l := f.Do("GET", "/api/v1/orders?status=approved", f.Bob, nil)
		for _, o := range l.Body["orders"].([]any) {
			if o.(map[string]any)["id"] == id {
				t.Fatalf("the approved list still holds %s: %s", id, l.Raw)
			}
		}
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		if fin.Status != 409 || errOf(fin)["code"] != "snapshot_mismatch" {
			t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
		}
		nothingSigned(t, f, id)
		auditClean(t, f)
	})
}

// An order whose certificate is being signed when a new version is
// verified is left alone: it was checked against the identity current
// when its intent was recorded, and its certificate is stored and
// delivered, not thrown away.
func TestNewVersionLeavesAnOrderBeingSigned(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, h := heldFixture(t, b)
			id := approvedOrder(t, f, apptest.Key(t))
			done := h.finalize(f, id)
			h.holding.Store(false)
			newLocality(t, f, 2, "Oakland")
			close(h.release)
			if fin := <-done; fin.Status != 200 {
				t.Fatalf("finalize held across the verification: %d %s", fin.Status, fin.Raw)
			}
			auditClean(t, f)
		})
	}
}
