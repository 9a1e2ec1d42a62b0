package acme_test

import (
	"slices"
	"testing"

	"github.com/vetca/vetca/internal/acme/acmetest"
)

// RFC 8555 §7.1.2.1: the account's orders list SHOULD include pending
// orders and SHOULD NOT include invalid ones. An order made invalid (here
// by deactivating its authorization, §7.1.6) was still listed.
func TestOrdersListLeavesOutInvalidOrders(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		gone := readyOrder(t, f.c, "www.acme-widgets.com")
		kept := readyOrder(t, f.c, "shop.acme-widgets.com")
		if r := deactivate(f.c, authzURL(t, gone)); r.Status != 200 {
			t.Fatalf("deactivate: %d %s", r.Status, r.Raw)
		}
		if g := f.c.Post(gone.Location, nil, acmetest.Opts{}); g.Body["status"] != "invalid" {
			t.Fatalf("setup: the order is %v, want invalid: %s", g.Body["status"], g.Raw)
		}
		r := f.c.Post(f.c.KID+"/orders", nil, acmetest.Opts{})
		if r.Status != 200 {
			t.Fatalf("orders list: %d %s", r.Status, r.Raw)
		}
		var urls []string
		for _, u := range r.Body["orders"].([]any) {
			urls = append(urls, u.(string))
		}
		if !slices.Contains(urls, kept.Location) {
			t.Errorf("the ready order %s is not listed: %v", kept.Location, urls)
		}
		if slices.Contains(urls, gone.Location) {
			t.Errorf("RFC 8555 §7.1.2.1: the invalid order %s is listed: %v", gone.Location, urls)
		}
	})
}
