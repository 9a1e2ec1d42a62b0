package order_test

import (
	"context"
	"crypto/x509/pkix"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// Dual control (BR §5.2.2) on SQLite: the staff user who issued an
// account's token may not approve its orders. Retyping that token's
// account_id as a blob kept its row hash and hid it from the text
// comparison that finds who acted for the account, so bob approved. The
// lookup finds it all the same (store.TextIs) and fails closed on it.
func TestRetypedTokenDoesNotHideWhoActedForTheAccount(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	f := apptest.NewOrderFixture(t, apptest.New(t, apptest.SQLite, opt), dns, site)
	r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", f.Bob, nil)
	if r.Status != 200 {
		t.Fatalf("bob issues the account's token: %d %s", r.Status, r.Raw)
	}
	f.AccTok = r.Body["token"].(string)
	o := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
	if o.Status != 201 {
		t.Fatalf("order: %d %s", o.Status, o.Raw)
	}
	if _, err := f.App.DB.Exec(context.Background(), `UPDATE api_tokens SET account_id = CAST(account_id AS BLOB)
		WHERE issued_by = (SELECT id FROM users WHERE name = 'bob')`); err != nil {
		t.Fatal(err)
	}
	a := f.Do("POST", "/api/v1/orders/"+o.Body["id"].(string)+"/approve", f.Bob, map[string]any{"snapshotHash": o.Body["snapshotHash"]})
	if _, code := a.ErrField(); a.Status != 500 || code != "integrity_violation" {
		t.Fatalf("BR §5.2.2: bob, who issued the account's token, approving after the token was retyped: %d %s", a.Status, a.Raw)
	}
}
