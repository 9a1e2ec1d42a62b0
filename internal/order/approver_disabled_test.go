package order_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/change"
)

// An approval vouches for an order only while its approver is still a
// verifier: a staff user disabled after approving (say, on leaving the CA)
// no longer counts toward finalize (BR §5.2.2, dual control by trusted
// roles). Before, finalize counted every approval ever given, whoever had
// given it. Another active verifier's approval completes it again.
func TestDisabledApproverNoLongerCounts(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		id := approvedOrder(t, f, apptest.Key(t)) // bob and carol
		bob := f.Actor(f.Bob)
		req, err := f.App.Changes.Create(ctx, f.Staff("rita", actor.Admin), change.Input{Kind: change.KindAmend, Table: "users", RowID: bob.ID,
			Field: "disabled", Value: json.RawMessage(`true`), Reason: "left the company"})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"cleo", "cyrus"} {
			if _, err := f.App.Changes.Approve(ctx, f.Staff(name, actor.Compliance), req.ID); err != nil {
				t.Fatal(err)
			}
		}
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		if _, code := fin.ErrField(); fin.Status != 409 || code != "order_not_approved" {
			t.Fatalf("finalize with a disabled approver: %d %s, want 409 order_not_approved", fin.Status, fin.Raw)
		}
		g := f.Do("GET", "/api/v1/orders/"+id, f.Carol, nil)
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Dave, map[string]any{"snapshotHash": g.Body["snapshotHash"]}); a.Status != 200 {
			t.Fatalf("dave approves: %d %s", a.Status, a.Raw)
		}
		if fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 200 {
			t.Fatalf("finalize with carol and dave: %d %s", fin.Status, fin.Raw)
		}
	})
}
