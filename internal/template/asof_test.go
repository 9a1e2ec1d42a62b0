package template_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/template"
)

// issuedScene is a template approved by bob, then by carol ten minutes
// later, and an order issued under it right after carol's approval.
type issuedScene struct {
	svc      *template.Service
	id, hash string
	in       template.Issued
}

func newIssuedScene(t *testing.T, f *apptest.OrderFixture, bounded bool) *issuedScene {
	t.Helper()
	sc := &issuedScene{svc: f.App.Templates}
	if bounded {
		sc.svc = template.New(f.App.DB, f.App.Recorder, f.Clock, f.App.Vetting, f.App.Accounts, f.App.EAB, f.App.Auth,
			template.Config{}, slog.New(slog.DiscardHandler))
	}
	sc.id, sc.hash = create(t, f, f.Alice, body(f))
	approveBy(t, f, sc.id, sc.hash, f.Bob)
	f.Clock.Advance(10 * time.Minute)
	approveBy(t, f, sc.id, sc.hash, f.Carol)
	v, err := f.App.Templates.Get(context.Background(), f.Actor(f.Bob), sc.id)
	if err != nil {
		t.Fatal(err)
	}
	sc.in = template.Issued{AccountID: f.AccountID, OrganizationID: f.OrgID, OrganizationVersion: v.OrganizationVersion,
		OrganizationRowHash: v.OrganizationRowHash, DNSNames: []string{"shop.acme-widgets.com"}, KeyType: template.KeyECDSAP256,
		ValidityDays: 90, At: f.Clock.Now()}
	return sc
}

func do(t *testing.T, f *apptest.OrderFixture, method, path, tok string, body any, want int) {
	t.Helper()
	if r := f.Do(method, path, tok, body); r.Status != want {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Raw)
	}
}

func disable(t *testing.T, f *apptest.OrderFixture, id string) {
	t.Helper()
	do(t, f, "POST", "/api/v1/templates/"+id+"/disable", f.Dave, map[string]any{"reason": "customer left"}, 200)
}

func rotateToken(t *testing.T, f *apptest.OrderFixture, tok string) {
	t.Helper()
	do(t, f, "POST", "/api/v1/accounts/"+f.AccountID+"/token", tok, nil, 200)
}

func eabKey(t *testing.T, f *apptest.OrderFixture, tok string) {
	t.Helper()
	do(t, f, "POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", tok, nil, 201)
}

func reverify(t *testing.T, f *apptest.OrderFixture) {
	t.Helper()
	do(t, f, "POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}, 201)
	f.VerifyVersion(2, f.Bob, f.Dave)
}

// ConfirmIssued judges an order issued under a template as of its
// issuance (docs/design.md §5): what was done to the template after it
// (disabled, an approver acting for the account, rebound, changed) is not
// a finding; everything that already failed then still is.
func TestConfirmIssuedJudgesAsOfIssuance(t *testing.T) {
	later := func(sc *issuedScene, f *apptest.OrderFixture) { sc.in.At = f.Clock.Now() }
	cases := []struct {
		name, rule string
		bounded    bool // the EAB key service bounds its creators in time
		act        func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene)
		code       apperr.Code // "" when it stands
		want       []string    // the refusal names these
	}{
		{"nothing since", "approved by two independent verifiers at issuance", false, func(*testing.T, *apptest.OrderFixture, *issuedScene) {}, "", nil},
		{"disabled after issuance", "a disable ends a template's approval from then on", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) { disable(t, f, sc.id) }, "", nil},
		{"disabled before issuance", "a disabled template approves nothing", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				disable(t, f, sc.id)
				f.Clock.Advance(time.Minute)
				later(sc, f)
			},
			apperr.CodeTemplateNotApproved, []string{"disabled"}},
		{"approver rotated the token after issuance", "BR §5.2.2: an act after issuance breaks no dual control already met", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) { rotateToken(t, f, f.Bob) }, "", nil},
		{"approver rotated the token before issuance", "BR §5.2.2: no approver acted for the account by the issuance", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				rotateToken(t, f, f.Bob)
				f.Clock.Advance(time.Minute)
				later(sc, f)
			}, apperr.CodeTemplateNotApproved, []string{"1 of 2", "bob", "issued subscriber token"}},
		{"approver created an EAB key after issuance", "BR §5.2.2: an act after issuance breaks no dual control already met", true,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) { eabKey(t, f, f.Carol) }, "", nil},
		{"approver created an EAB key before issuance", "docs/design.md §14: whoever created an EAB key of the account acted for it", true,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				eabKey(t, f, f.Carol)
				f.Clock.Advance(time.Minute)
				later(sc, f)
			}, apperr.CodeTemplateNotApproved, []string{"1 of 2", "carol", "created EAB key"}},
		{"rebound after issuance", "docs/design.md §14: a new verified version voids the approvals from then on", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) { reverify(t, f) }, "", nil},
		{"changed by an approver after issuance", "docs/design.md §14: a change voids the approvals from then on", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				do(t, f, "PUT", "/api/v1/templates/"+sc.id, f.Bob, body(f, "acme-widgets.com"), 200)
			}, "", nil},
		{"second approval only after issuance", "BR §5.2.2: two approvals recorded by the issuance", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				sc.in.At = sc.in.At.Add(-5 * time.Minute)
			},
			apperr.CodeTemplateNotApproved, []string{"1 of 2"}},
		{"issued after a rebind under the old hash", "docs/design.md §14: approvals bind to the hash", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				reverify(t, f)
				f.Clock.Advance(time.Minute)
				later(sc, f)
			},
			apperr.CodeTemplateNotApproved, []string{"0 of 2"}},
		{"a hash never approved", "docs/design.md §14: approvals bind to the hash", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) { sc.hash = strings.Repeat("0", 64) },
			apperr.CodeTemplateNotApproved, []string{"0 of 2"}},
		{"a template never approved", "docs/design.md §14: two verifiers approve a template", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				sc.id, sc.hash = create(t, f, f.Alice, body(f))
			},
			apperr.CodeTemplateNotApproved, []string{"0 of 2"}},
		{"a name not covered", "docs/design.md §14: the template covers every name", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				sc.in.DNSNames = []string{"shop.evil-widgets.com"}
			},
			apperr.CodeTemplateMismatch, []string{"shop.evil-widgets.com"}},
		{"a name not covered, rebound since", "docs/design.md §14: the template as it stood at issuance covers every name", false,
			func(t *testing.T, f *apptest.OrderFixture, sc *issuedScene) {
				reverify(t, f)
				sc.in.DNSNames = []string{"shop.evil-widgets.com"}
			}, apperr.CodeTemplateMismatch, []string{"shop.evil-widgets.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, f *apptest.OrderFixture) {
				sc := newIssuedScene(t, f, tc.bounded)
				f.Clock.Advance(time.Hour)
				tc.act(t, f, sc)
				err := sc.svc.ConfirmIssued(context.Background(), f.App.DB, sc.id, sc.hash, sc.in)
				if tc.code == "" {
					if err != nil {
						t.Fatalf("%s: %v", tc.rule, err)
					}
					return
				}
				if e, ok := apperr.As(err); !ok || e.Code != tc.code || e.Kind != apperr.KindConflict {
					t.Fatalf("%s: %v, want a 409 %s", tc.rule, err, tc.code)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("%s: %q does not name %q", tc.rule, err, w)
					}
				}
			})
		})
	}
}
