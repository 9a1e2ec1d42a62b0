package order_test

import (
	"crypto/x509/pkix"
	"strings"
	"sync"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// No one person completes a dual control (BR §5.2.2): a verifier who acted
// for the requester — created its account, issued (or rotated) one of its
// tokens, or linked the organization to it — is refused as an approver of
// that account's orders with 403 self_approval, even though the order was
// placed with the subscriber's token and not in the verifier's name.
func TestWhoActedForTheRequesterCannotApprove(t *testing.T) {
	cases := []struct {
		name string
		// act makes verifier tok act for the account; it returns the
		// subscriber token to order with.
		act  func(t *testing.T, f *apptest.OrderFixture, tok string) string
		what string
	}{
		{"rotated the account's token", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", tok, nil)
			if r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
			return r.Body["token"].(string)
		}, "issued subscriber token"},
		{"created the account", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			r := f.Do("POST", "/api/v1/accounts", tok, map[string]any{"name": "Acme Shell", "organizations": []string{f.OrgID}})
			if r.Status != 201 {
				t.Fatalf("account: %d %s", r.Status, r.Raw)
			}
			f.AccountID, f.AccTok = r.Body["id"].(string), r.Body["token"].(string)
			f.ValidateDomain(site)
			return f.AccTok
		}, "created account"},
		{"linked the organization", func(t *testing.T, f *apptest.OrderFixture, tok string) string {
			r := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Acme Other"})
			if r.Status != 201 {
				t.Fatalf("account: %d %s", r.Status, r.Raw)
			}
			f.AccountID, f.AccTok = r.Body["id"].(string), r.Body["token"].(string)
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/organizations", tok, map[string]any{"organizationId": f.OrgID}); r.Status >= 300 {
				t.Fatalf("link: %d %s", r.Status, r.Raw)
			}
			f.ValidateDomain(site)
			return f.AccTok
		}, "linked organization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, f *apptest.OrderFixture) {
				subTok := tc.act(t, f, f.Alice)
				r := f.Do("POST", "/api/v1/orders", subTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site},
					"csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
				if r.Status != 201 {
					t.Fatalf("order: %d %s", r.Status, r.Raw)
				}
				id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
				a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Alice, map[string]any{"snapshotHash": hash})
				if a.Status != 403 || errOf(a)["code"] != "self_approval" || !strings.Contains(errOf(a)["message"].(string), tc.what) {
					t.Fatalf("a verifier who %s approved: %d %s", tc.name, a.Status, a.Raw)
				}
				// Two verifiers who did not act for the account can.
				for _, tok := range []string{f.Bob, f.Carol} {
					if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
						t.Fatalf("independent approver: %d %s", a.Status, a.Raw)
					}
				}
				if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "approved" {
					t.Fatalf("order after two independent approvals: %s", g.Raw)
				}
			})
		})
	}
}

// Concurrent approvals by one verifier count once: one succeeds, the rest
// get 409, and the order still needs a second, distinct approver.
func TestConcurrentApprovalsByOneVerifierCountOnce(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		if r.Status != 201 {
			t.Fatalf("order: %d %s", r.Status, r.Raw)
		}
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		const n = 8
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				codes[i] = f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Bob, map[string]any{"snapshotHash": hash}).Status
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			switch c {
			case 200:
				ok++
			case 409:
			default:
				t.Fatalf("concurrent approval answered %d (all: %v)", c, codes)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent approvals by one verifier succeeded: %v", ok, n, codes)
		}
		g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
		if g.Body["status"] != "pending_approval" || len(g.Body["approvals"].([]any)) != 1 {
			t.Fatalf("one verifier approved the order alone: %s", g.Raw)
		}
		if fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 409 {
			t.Fatalf("finalize with one approver: %d %s", fin.Status, fin.Raw)
		}
	})
}

// A staff user created, or a role granted, through the API stays inactive
// until a second admin approves it; the creating admin, and the user
// itself, cannot approve it.
func TestAPIRoleGrantsNeedASecondAdmin(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		admin2 := f.User("admin2", actor.Admin)
		r := f.Do("POST", "/api/v1/users", f.AdminToken, map[string]any{"name": "victor", "roles": []string{"verifier"}})
		if r.Status != 201 || r.Body["status"] != "pending_approval" || r.Body["token"] == "" {
			t.Fatalf("create user: %d %s", r.Status, r.Raw)
		}
		uid, tok := r.Body["id"].(string), r.Body["token"].(string)
		if m := f.Do("GET", "/api/v1/me", tok, nil); m.Status != 401 {
			t.Fatalf("a pending user's token authenticated: %d %s", m.Status, m.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+uid+"/approve", f.AdminToken, nil); a.Status != 403 || errOf(a)["code"] != "self_approval" {
			t.Fatalf("the creating admin approved: %d %s", a.Status, a.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+uid+"/approve", f.Bob, nil); a.Status != 403 {
			t.Fatalf("a verifier approved a user: %d %s", a.Status, a.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+uid+"/approve", admin2, nil); a.Status != 200 || a.Body["status"] != "active" {
			t.Fatalf("second admin: %d %s", a.Status, a.Raw)
		}
		if m := f.Do("GET", "/api/v1/me", tok, nil); m.Status != 200 {
			t.Fatalf("approved user: %d %s", m.Status, m.Raw)
		}

		// Adding a role to an existing user works the same way: the auditor
		// cannot approve orders until a second admin approves the grant.
		audrey := f.Do("GET", "/api/v1/me", f.Auditor, nil)
		if audrey.Status != 200 {
			t.Fatal(audrey.Raw)
		}
		audreyID := userID(t, f, "audrey")
		g := f.Do("POST", "/api/v1/users/"+audreyID+"/roles", f.AdminToken, map[string]any{"roles": []string{"verifier"}})
		if g.Status != 200 || g.Body["status"] != "pending_approval" {
			t.Fatalf("grant: %d %s", g.Status, g.Raw)
		}
		o := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		id, hash := o.Body["id"].(string), o.Body["snapshotHash"].(string)
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Auditor, map[string]any{"snapshotHash": hash}); a.Status != 403 {
			t.Fatalf("a pending role was used: %d %s", a.Status, a.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+audreyID+"/approve", f.AdminToken, nil); a.Status != 403 {
			t.Fatalf("the granting admin approved the grant: %d %s", a.Status, a.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+audreyID+"/approve", admin2, nil); a.Status != 200 {
			t.Fatalf("second admin approves the grant: %d %s", a.Status, a.Raw)
		}
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", f.Auditor, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("the granted role: %d %s", a.Status, a.Raw)
		}
		// An admin cannot approve a grant to itself.
		admin2ID := userID(t, f, "admin2")
		if g := f.Do("POST", "/api/v1/users/"+admin2ID+"/roles", f.AdminToken, map[string]any{"roles": []string{"compliance"}}); g.Status != 200 {
			t.Fatalf("grant: %d %s", g.Status, g.Raw)
		}
		if a := f.Do("POST", "/api/v1/users/"+admin2ID+"/approve", admin2, nil); a.Status != 403 || errOf(a)["code"] != "self_approval" {
			t.Fatalf("an admin approved its own grant: %d %s", a.Status, a.Raw)
		}
	})
}

func userID(t *testing.T, f *apptest.OrderFixture, name string) string {
	t.Helper()
	users := f.Do("GET", "/api/v1/users", f.AdminToken, nil)
	for _, u := range users.Body["users"].([]any) {
		if m := u.(map[string]any); m["name"] == name {
			return m["id"].(string)
		}
	}
	t.Fatalf("no user %s in %s", name, users.Raw)
	return ""
}
