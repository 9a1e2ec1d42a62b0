package order_test

import (
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// An approval vouches for an order only while its approver is still a
// verifier: a staff user disabled after approving (say, on leaving the CA)
// no longer counts toward finalize (BR §5.2.2, dual control by trusted
// roles). Before, finalize counted every approval ever given, whoever had
// given it. Another active verifier's approval completes it again.
func TestDisabledApproverNoLongerCounts(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id := approvedOrder(t, f, apptest.Key(t)) // bob and carol
		bob := f.Actor(f.Bob)
		f.DisableUser(bob.ID)
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

// A reason is part of the record: at most 2000 bytes, and no character
// that makes it read as something else (a right-to-left override) or that
// is not text. Before, an order's rejection reason took a whole MiB of
// anything.
func TestRejectReasonIsChecked(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		id := approvedOrder(t, f, apptest.Key(t))
		for _, c := range []struct{ reason, code string }{
			{strings.Repeat("x", 2001), "too_long"},
			{"duplicate \u202eredro", "control_character"},
		} {
			r := f.Do("POST", "/api/v1/orders/"+id+"/reject", f.Carol, map[string]any{"reason": c.reason})
			if field, code := r.ErrField(); r.Status != 400 || code != c.code || field != "reason" {
				t.Fatalf("reject with reason %.20q: %d %s, want 400 %s naming reason", c.reason, r.Status, r.Raw, c.code)
			}
		}
		if r := f.Do("POST", "/api/v1/orders/"+id+"/reject", f.Carol, map[string]any{"reason": "Duplicate of another order.\r\nThe subscriber asked."}); r.Status != 200 {
			t.Fatalf("reject with a two-line reason: %d %s", r.Status, r.Raw)
		}
	})
}

// The same rule for an organization's new identity (docs/design.md §2):
// a verification by a verifier disabled since no longer counts when a
// second verifier verifies the version, so it stays pending, and the
// order keeps the identity two standing verifiers vouched for. A third,
// standing verifier completes it.
func TestDisabledVerifierNoLongerVerifiesAVersion(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		if p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); p.Status != 201 {
			t.Fatalf("propose: %d %s", p.Status, p.Raw)
		}
		f.VerifyVersion(2, f.Bob)
		f.DisableUser(f.Actor(f.Bob).ID)
		f.VerifyVersion(2, f.Dave)
		org := f.Do("GET", "/api/v1/organizations/"+f.OrgID, f.Carol, nil)
		if cur, _ := org.Body["current"].(map[string]any); cur["version"] != float64(1) {
			t.Fatalf("a disabled verifier's verification made version 2 current: %s", org.Raw)
		}
		f.VerifyVersion(2, f.Carol)
		org = f.Do("GET", "/api/v1/organizations/"+f.OrgID, f.Carol, nil)
		if cur, _ := org.Body["current"].(map[string]any); cur["version"] != float64(2) || cur["localityName"] != "Oakland" {
			t.Fatalf("dave and carol did not verify version 2: %s", org.Raw)
		}
	})
}
