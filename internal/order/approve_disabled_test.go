package order_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/change"
)

// An approval counts toward an order's approval only while its approver
// is an active verifier, as at finalize: before, an approval by a
// verifier disabled since made the order "approved" while finalize
// refused it.
func TestApprovalCountsOnlyActiveVerifiers(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site, "www.acme-widgets.com")
	ctx := context.Background()
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Bob, map[string]any{"snapshotHash": hash}); a.Status != 200 {
		t.Fatalf("approve: %d %s", a.Status, a.Raw)
	}
	req, err := f.App.Changes.Create(ctx, f.Staff("rita", actor.Admin), change.Input{Kind: change.KindAmend, Table: "users", RowID: f.Actor(f.Bob).ID,
		Field: "disabled", Value: json.RawMessage(`true`), Reason: "left the company"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cleo", "cyrus"} {
		if _, err := f.App.Changes.Approve(ctx, f.Staff(name, actor.Compliance), req.ID); err != nil {
			t.Fatal(err)
		}
	}
	a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Carol, map[string]any{"snapshotHash": hash})
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if a.Body["status"] == "approved" && fin.Status != 200 {
		t.Fatalf("carol's approval made the order %v (bob disabled), yet finalize: %d %s", a.Body["status"], fin.Status, fin.Raw)
	}
}
