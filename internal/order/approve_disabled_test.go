package order_test

import (
	"crypto/x509/pkix"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// An approval counts toward an order's approval only while its approver
// is an active verifier, as at finalize: before, an approval by a
// verifier disabled since made the order "approved" while finalize
// refused it.
func TestApprovalCountsOnlyActiveVerifiers(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site, "www.acme-widgets.com")
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Bob, map[string]any{"snapshotHash": hash}); a.Status != 200 {
		t.Fatalf("approve: %d %s", a.Status, a.Raw)
	}
	f.DisableUser(f.Actor(f.Bob).ID)
	a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Carol, map[string]any{"snapshotHash": hash})
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if a.Body["status"] == "approved" && fin.Status != 200 {
		t.Fatalf("carol's approval made the order %v (bob disabled), yet finalize: %d %s", a.Body["status"], fin.Status, fin.Raw)
	}
}
