package vetting_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/atonce"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/audit/audittest"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
	"github.com/vetca/vetca/internal/vetting"
)

type recipients []vetting.Recipient

func (r recipients) ContactsForOrganization(context.Context, store.Querier, string) ([]vetting.Recipient, error) {
	return r, nil
}

// staffRoster stands for package auth's record of who is staff now: the
// test actors below, less those a test has disabled or changed.
type staffRoster struct {
	mu    sync.Mutex
	users map[string][]actor.Role
}

func newRoster(users ...actor.Actor) *staffRoster {
	r := &staffRoster{users: map[string][]actor.Role{}}
	for _, u := range users {
		r.users[u.ID] = u.Roles
	}
	return r
}

func (r *staffRoster) ActiveRoles(_ context.Context, _ store.Querier, ids []string) (map[string][]actor.Role, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]actor.Role{}
	for _, id := range ids {
		if roles, ok := r.users[id]; ok {
			out[id] = roles
		}
	}
	return out, nil
}

// set gives u the roles, or with none disables u.
func (r *staffRoster) set(u actor.Actor, roles ...actor.Role) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(roles) == 0 {
		delete(r.users, u.ID)
		return
	}
	r.users[u.ID] = roles
}

type env struct {
	staff *staffRoster
	db    *store.DB
	rec   *audit.Recorder
	clk   *clock.Fake
	svc   *vetting.Service
}

func staff(name string, roles ...actor.Role) actor.Actor {
	return actor.Actor{Kind: actor.Staff, ID: "usr_" + name, Name: name, Roles: roles}
}

var (
	alice = staff("alice", actor.Verifier)
	bob   = staff("bob", actor.Verifier)
	carol = staff("carol", actor.Verifier, actor.Compliance)
	dave  = staff("dave", actor.Verifier)
	ed    = staff("ed", actor.Auditor)
)

// roster is the staff of tests that change nobody's roles.
var roster = newRoster(alice, bob, carol, dave, ed)

func newEnv(t *testing.T, db *store.DB) *env {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	rec := audittest.NewRecorder(t, db, clk)
	staff := newRoster(alice, bob, carol, dave, ed)
	svc := vetting.New(db, rec, clk, notify.NewOutbox(rec, clk), recipients{{Name: "Jane", Email: "jane@example.org", Role: "contact:administrative"}},
		staff, vetting.Config{ComplianceEmail: "compliance@ca.test"})
	return &env{staff: staff, db: db, rec: rec, clk: clk, svc: svc}
}

func acme() vetting.CreateInput {
	return vetting.CreateInput{Fields: vetting.Fields{OrganizationName: "Acme Widgets Inc.", CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco"}}
}

func mustCode(t *testing.T, err error, kind apperr.Kind, code apperr.Code) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

// docs/design.md §2: a version is verified only by the required number of
// distinct verifiers, none of them its proposer.
func TestDualVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, v1, err := e.svc.Create(ctx, alice, acme())
		if err != nil || v1.Status != vetting.StatusPending {
			t.Fatal(err, v1.Status)
		}
		if _, err := e.svc.CurrentVerified(ctx, db, org.ID); !apperr.HasCode(err, "organization_not_verified") {
			t.Fatalf("unverified organization usable: %v", err)
		}
		_, _, err = e.svc.Verify(ctx, alice, org.ID, 1, nil)
		mustCode(t, err, apperr.KindForbidden, "self_verification")
		_, _, err = e.svc.Verify(ctx, ed, org.ID, 1, nil)
		if !apperr.IsKind(err, apperr.KindForbidden) {
			t.Fatalf("an auditor verified: %v", err)
		}
		v, _, err := e.svc.Verify(ctx, bob, org.ID, 1, []vetting.Evidence{{Source: "registry", Reference: "C1"}})
		if err != nil || v.Status != vetting.StatusPending {
			t.Fatalf("after one verifier: %v %s", err, v.Status)
		}
		_, _, err = e.svc.Verify(ctx, bob, org.ID, 1, nil)
		mustCode(t, err, apperr.KindConflict, "already_verified")
		v, verifs, err := e.svc.Verify(ctx, dave, org.ID, 1, nil)
		if err != nil || v.Status != vetting.StatusVerified || len(verifs) != 2 || v.VerifiedAt == nil {
			t.Fatalf("after two verifiers: %v %+v", err, v)
		}
		cur, err := e.svc.CurrentVerified(ctx, db, org.ID)
		if err != nil || cur.Version != 1 || cur.OrganizationName != "Acme Widgets Inc." {
			t.Fatalf("current: %v %+v", err, cur)
		}
		_, _, err = e.svc.Verify(ctx, carol, org.ID, 1, nil)
		mustCode(t, err, apperr.KindConflict, "version_not_pending")
	})
}

// docs/design.md §2, with the verifiers at once (on PostgreSQL concurrently):
// two verifications of one version are counted together and the second
// makes it current; each counted alone would leave it pending for good. A
// rejection racing them never turns a version that became current into a
// rejected one: it finds it verified (409), or rejects it before it is.
func TestConcurrentVerificationsCompleteTheVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 6; n++ {
			if n > 1 {
				street := fmt.Sprintf("%d Market Street", n)
				if _, err := e.svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{StreetAddress: &street}); err != nil {
					t.Fatal(err)
				}
			}
			acts := []func() error{
				func() error { _, _, err := e.svc.Verify(ctx, bob, org.ID, n, nil); return err },
				func() error { _, _, err := e.svc.Verify(ctx, dave, org.ID, n, nil); return err },
			}
			rejecting := n%2 == 0
			if rejecting {
				acts = append(acts, func() error { _, err := e.svc.Reject(ctx, carol, org.ID, n, "wrong street"); return err })
			}
			errs := make([]error, len(acts))
			atonce.Each(len(acts), func(i int) { errs[i] = acts[i]() })
			for i, err := range errs {
				if err != nil && !(rejecting && apperr.HasCode(err, apperr.CodeVersionNotPending)) {
					t.Fatalf("version %d, act %d: %v", n, i, err)
				}
			}
			v, ok, err := e.svc.VersionOf(ctx, db, org.ID, n)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			cur, err := e.svc.CurrentVerified(ctx, db, org.ID)
			switch {
			case !rejecting && (v.Status != vetting.StatusVerified || err != nil || cur.Version != n):
				t.Fatalf("version %d after two verifications at once: %s; current %d (%v)", n, v.Status, cur.Version, err)
			case rejecting && v.Status == vetting.StatusVerified && (err != nil || cur.Version != n):
				t.Fatalf("version %d verified but not current: %d (%v)", n, cur.Version, err)
			case rejecting && v.Status == vetting.StatusRejected && errs[2] != nil:
				t.Fatalf("version %d rejected, but the rejection failed: %v", n, errs[2])
			case rejecting && v.Status != vetting.StatusVerified && v.Status != vetting.StatusRejected:
				t.Fatalf("version %d after two verifications and a rejection at once: %s", n, v.Status)
			}
		}
		if rep, err := audit.Verify(ctx, db, e.rec.Schema(), e.rec.PublicKey(), nil); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// Seed 1535735: an identity change is a pending version; certificates keep
// the verified version until the change is verified by two others.
func TestChangeStaysPendingUntilVerified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, dave, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		name := "Subcontractor Services LLC"
		v2, err := e.svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{OrganizationName: &name})
		if err != nil || v2.Version != 2 || len(v2.Diff) != 1 || v2.Diff[0].From != "Acme Widgets Inc." || v2.Diff[0].To != name {
			t.Fatalf("propose: %v %+v", err, v2)
		}
		if cur, err := e.svc.CurrentVerified(ctx, db, org.ID); err != nil || cur.OrganizationName != "Acme Widgets Inc." {
			t.Fatalf("a pending change reached the current version (%v)", err)
		}
		if _, err := e.svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{}); !apperr.HasCode(err, "no_change") {
			t.Fatalf("empty change: %v", err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 2, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, carol, org.ID, 2, nil); err != nil {
			t.Fatal(err)
		}
		cur, err := e.svc.CurrentVerified(ctx, db, org.ID)
		if err != nil || cur.Version != 2 || cur.OrganizationName != name {
			t.Fatalf("current after verification: %+v", cur)
		}
		view, err := e.svc.Get(ctx, bob, org.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if view.History[0].Status != vetting.StatusSuperseded {
			t.Fatalf("v1 should be superseded: %s", view.History[0].Status)
		}
		// Mail: the contact and compliance got the proposal and the verification, with the diff.
		msgs, err := notify.ForRef(ctx, e.rec, db, "organizations", org.ID)
		if err != nil {
			t.Fatal(err)
		}
		var toJane []notify.Message
		for _, m := range msgs {
			if m.To == "jane@example.org" {
				toJane = append(toJane, m)
			}
		}
		if len(toJane) != 4 {
			t.Fatalf("mail to the contact: %d messages, want 4 (v1 and v2, proposed and verified)", len(toJane))
		}
		diffLine := `organizationName: "Acme Widgets Inc." -> "Subcontractor Services LLC"`
		var withDiff int
		for _, m := range toJane {
			if strings.Contains(m.Subject, "version 2") && strings.Contains(m.Body, diffLine) {
				withDiff++
			}
		}
		if withDiff != 2 {
			t.Fatalf("the v2 proposal and verification mails must both carry the diff; %d did", withDiff)
		}
	})
}

// A pending version proposed against an older base is stale once another
// version is verified; it can no longer be verified (it would silently undo
// the other change).
func TestStaleVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, dave, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		a, b := "Oakland", "Berkeley"
		if _, err := e.svc.Propose(ctx, alice, org.ID, vetting.ChangeInput{LocalityName: &a}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Propose(ctx, bob, org.ID, vetting.ChangeInput{LocalityName: &b}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 2, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, carol, org.ID, 2, nil); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Verify(ctx, alice, org.ID, 3, nil)
		mustCode(t, err, apperr.KindConflict, "version_not_pending")
	})
}

// docs/design.md §3: sanctioned countries are first-class,
// need a review, and a compliance verifier.
func TestSanctionedCountry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		in := vetting.CreateInput{Fields: vetting.Fields{OrganizationName: "Shwe Taung Trading Co. Ltd", CountryName: "MM", StateOrProvinceName: "Yangon", LocalityName: "Yangon"}}
		_, _, err := e.svc.Create(ctx, alice, in)
		if e, ok := apperr.As(err); !ok || e.Field != "sanctionsReview" {
			t.Fatalf("no review: %v", err)
		}
		in.SanctionsReview = &vetting.SanctionsReview{Reference: "LEGAL-1", Decision: "approved"}
		org, _, err := e.svc.Create(ctx, alice, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		v, _, err := e.svc.Verify(ctx, dave, org.ID, 1, nil)
		if err != nil || v.Status != vetting.StatusPending {
			t.Fatal("verified without a compliance verifier")
		}
		v, _, err = e.svc.Verify(ctx, carol, org.ID, 1, nil)
		if err != nil || v.Status != vetting.StatusVerified {
			t.Fatalf("with compliance: %v %s", err, v.Status)
		}
		// A rejected review can never be verified.
		in.SanctionsReview = &vetting.SanctionsReview{Reference: "LEGAL-2", Decision: "rejected"}
		org2, _, err := e.svc.Create(ctx, alice, in)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Verify(ctx, carol, org2.ID, 1, nil)
		mustCode(t, err, apperr.KindConflict, "sanctions_rejected")
	})
}

// docs/design.md §2: dual control counts people who may vouch now. A
// verification by a verifier disabled since, or who no longer holds a
// verifying role, does not make a version current when a second person
// verifies it; nor does a compliance verification of a sanctioned
// country's version by someone who has lost the compliance role.
func TestVerificationsCountOnlyStandingVerifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		e.staff.set(bob) // disabled
		v, verifs, err := e.svc.Verify(ctx, dave, org.ID, 1, nil)
		if err != nil || v.Status != vetting.StatusPending || len(verifs) != 2 {
			t.Fatalf("a disabled verifier's verification counted: %v %s", err, v.Status)
		}
		e.staff.set(bob, actor.Auditor) // back, without a verifying role
		if _, _, err := e.svc.Verify(ctx, carol, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if cur, err := e.svc.CurrentVerified(ctx, db, org.ID); err != nil || cur.Version != 1 {
			t.Fatalf("dave and carol, both standing, did not verify it: %v", err)
		}

		in := vetting.CreateInput{Fields: vetting.Fields{OrganizationName: "Shwe Taung Trading Co. Ltd", CountryName: "MM", StateOrProvinceName: "Yangon", LocalityName: "Yangon"},
			SanctionsReview: &vetting.SanctionsReview{Reference: "LEGAL-1", Decision: "approved"}}
		mm, _, err := e.svc.Create(ctx, alice, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, carol, mm.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		e.staff.set(carol, actor.Verifier) // compliance role taken away
		v, _, err = e.svc.Verify(ctx, dave, mm.ID, 1, nil)
		if err != nil || v.Status != vetting.StatusPending {
			t.Fatalf("a former compliance officer's verification cleared a sanctioned country: %v %s", err, v.Status)
		}
	})
}

// Reads for decisions fail closed on rows edited outside vetca.
func TestCurrentVerifiedFailsClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		org, _, err := e.svc.Create(ctx, alice, acme())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, bob, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Verify(ctx, dave, org.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE organization_versions SET country_name = 'AD' WHERE organization_id = ?`, org.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CurrentVerified(ctx, db, org.ID)
		if !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "organization_versions") || !strings.Contains(err.Error(), "country_name") {
			t.Fatalf("tampered country used: %v", err)
		}
	})
}
