package template_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/vetting"
)

// The wildcard coverage rule, name by name.
func TestCovers(t *testing.T) {
	tpl := template.Template{DNSNames: []string{"*.example.com", "shop.example.org", "*.eu.example.net"}}
	cases := []struct {
		name string
		want bool
		rule string
	}{
		{"a.example.com", true, "a wildcard covers a name one label below its base"},
		{"b.c.example.com", true, "a template wildcard covers every name below its base"},
		{"example.com", false, "a wildcard does not cover its base"},
		{"xexample.com", false, "below the base means a whole label below it"},
		{"*.example.com", true, "a requested wildcard is covered by a template wildcard at its level"},
		{"*.a.example.com", true, "a requested wildcard is covered by a template wildcard above it"},
		{"shop.example.org", true, "a plain name covers itself"},
		{"www.shop.example.org", false, "a plain name covers nothing below it"},
		{"*.example.org", false, "a plain name covers no wildcard"},
		{"*.shop.example.org", false, "a plain name covers no wildcard below it"},
		{"a.eu.example.net", true, "a wildcard covers a name below its base"},
		{"*.example.net", false, "a requested wildcard is not covered by a template wildcard below it"},
		{"eu.example.net", false, "a wildcard does not cover its base"},
	}
	for _, tc := range cases {
		if got := tpl.Covers(tc.name); got != tc.want {
			t.Errorf("Covers(%q) = %v, want %v (%s)", tc.name, got, tc.want, tc.rule)
		}
	}
}

// The hash covers exactly what the template allows: any field changes it,
// the order of names and key types does not.
func TestHashBindsWhatTheTemplateAllows(t *testing.T) {
	base := template.Template{AccountID: "acc_a", OrganizationID: "org_a", OrganizationVersion: 1, OrganizationRowHash: "aa",
		DNSNames: []string{"a.example.com", "b.example.com"}, KeyTypes: []string{"ecdsa-p256", "rsa-2048"}, MaxValidityDays: 90}
	h := base.ComputeHash()
	same := base
	same.DNSNames, same.KeyTypes = []string{"b.example.com", "a.example.com"}, []string{"rsa-2048", "ecdsa-p256"}
	same.Status, same.CreatedBy = template.StatusApproved, "user:someone"
	if same.ComputeHash() != h {
		t.Error("the hash depends on order or on fields that allow nothing")
	}
	changes := map[string]func(*template.Template){
		"account":              func(t *template.Template) { t.AccountID = "acc_b" },
		"organization":         func(t *template.Template) { t.OrganizationID = "org_b" },
		"organization version": func(t *template.Template) { t.OrganizationVersion = 2 },
		"version row hash":     func(t *template.Template) { t.OrganizationRowHash = "bb" },
		"a name":               func(t *template.Template) { t.DNSNames = []string{"a.example.com"} },
		"a key type":           func(t *template.Template) { t.KeyTypes = []string{"ecdsa-p256"} },
		"max validity":         func(t *template.Template) { t.MaxValidityDays = 89 },
	}
	for what, change := range changes {
		c := base
		change(&c)
		if c.ComputeHash() == h {
			t.Errorf("changing the %s does not change the hash (docs/design.md §4)", what)
		}
	}
}

func TestKeyTypeOf(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for pub, want := range map[any]string{&p256.PublicKey: "ecdsa-p256", &p384.PublicKey: "ecdsa-p384", &r2048.PublicKey: "rsa-2048"} {
		if got, err := template.KeyTypeOf(pub); err != nil || got != want {
			t.Errorf("KeyTypeOf: %q %v, want %q", got, err, want)
		}
	}
	for _, pub := range []any{&p521.PublicKey, ed} {
		if _, err := template.KeyTypeOf(pub); !apperr.HasCode(err, apperr.CodeInvalidKeyType) {
			t.Errorf("KeyTypeOf(%T): %v (BR §6.1.5: P-256, P-384 or RSA)", pub, err)
		}
	}
}

// approved creates a template as alice and has bob and carol approve it.
func approved(t *testing.T, f *apptest.OrderFixture, b map[string]any) string {
	t.Helper()
	id, hash := create(t, f, f.Alice, b)
	approveBy(t, f, id, hash, f.Bob, f.Carol)
	return id
}

// Match covers a request with one approved template, or names what is not
// covered, by field.
func TestMatch(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		t1 := approved(t, f, body(f, "*.acme-widgets.com", "acme-widgets.com"))
		b2 := body(f, "shop.other-widgets.com")
		b2["keyTypes"], b2["maxValidityDays"] = []string{"ecdsa-p384"}, 30
		t2 := approved(t, f, b2)
		t3 := approved(t, f, body(f, "*.eu.third-widgets.com"))
		create(t, f, f.Alice, body(f, "pending-widgets.com"))
		cases := []struct {
			name, rule string
			names      []string
			keyType    string
			days       int
			want       string // template id, or "" for a refusal
			code       apperr.Code
			field      string
			rejected   string // the identifier not covered
		}{
			{"wildcard, one label below", "a wildcard covers the names below its base", []string{"a.acme-widgets.com"}, "ecdsa-p256", 90, t1, "", "", ""},
			{"wildcard, two labels below", "a wildcard covers every name below its base", []string{"b.c.acme-widgets.com"}, "rsa-2048", 1, t1, "", "", ""},
			{"base and wildcard", "names are covered by one template", []string{"acme-widgets.com", "*.acme-widgets.com", "*.a.acme-widgets.com"}, "ecdsa-p256", 90, t1, "", "", ""},
			{"upper case", "names are compared normalized", []string{"WWW.Acme-Widgets.COM."}, "ecdsa-p256", 90, t1, "", "", ""},
			{"plain name", "a plain name covers itself", []string{"shop.other-widgets.com"}, "ecdsa-p384", 30, t2, "", "", ""},
			{"lower wildcard", "a wildcard covers names below it", []string{"a.eu.third-widgets.com"}, "ecdsa-p256", 90, t3, "", "", ""},
			{"requested wildcard above the template's", "a requested wildcard needs a template wildcard at its level or above", []string{"*.third-widgets.com"}, "ecdsa-p256", 90, "", apperr.CodeIdentifierNotCovered, "dnsNames", "*.third-widgets.com"},
			{"wildcard's base", "a wildcard does not cover its base", []string{"eu.third-widgets.com"}, "ecdsa-p256", 90, "", apperr.CodeIdentifierNotCovered, "dnsNames", "eu.third-widgets.com"},
			{"below a plain name", "a plain name covers nothing below it", []string{"x.shop.other-widgets.com"}, "ecdsa-p384", 30, "", apperr.CodeIdentifierNotCovered, "dnsNames", "x.shop.other-widgets.com"},
			{"wildcard of a plain name", "a plain name covers no wildcard", []string{"*.other-widgets.com"}, "ecdsa-p384", 30, "", apperr.CodeIdentifierNotCovered, "dnsNames", "*.other-widgets.com"},
			{"first name not covered", "the refusal names the first name no template covers", []string{"a.acme-widgets.com", "evil-widgets.com", "evil2-widgets.com"}, "ecdsa-p256", 90, "", apperr.CodeIdentifierNotCovered, "dnsNames", "evil-widgets.com"},
			{"names of two templates", "one template must cover every name", []string{"a.acme-widgets.com", "shop.other-widgets.com"}, "ecdsa-p256", 30, "", apperr.CodeIdentifierNotCovered, "dnsNames", "shop.other-widgets.com"},
			{"pending template", "only approved templates match", []string{"pending-widgets.com"}, "ecdsa-p256", 90, "", apperr.CodeIdentifierNotCovered, "dnsNames", "pending-widgets.com"},
			{"key type", "the key type must be one the template allows", []string{"a.acme-widgets.com"}, "ecdsa-p384", 90, "", apperr.CodeKeyTypeNotAllowed, "keyType", ""},
			{"validity", "the validity may not exceed the template's maximum", []string{"a.acme-widgets.com"}, "ecdsa-p256", 91, "", apperr.CodeValidityNotAllowed, "validityDays", ""},
			{"validity of the other template", "the validity may not exceed the template's maximum", []string{"shop.other-widgets.com"}, "ecdsa-p384", 31, "", apperr.CodeValidityNotAllowed, "validityDays", ""},
			{"no names", "a request names at least one name", nil, "ecdsa-p256", 90, "", apperr.CodeMissingField, "dnsNames", ""},
			{"invalid name", "RFC 1034 §3.5: LDH labels", []string{"a..acme-widgets.com"}, "ecdsa-p256", 90, "", apperr.CodeInvalidDomain, "dnsNames", ""},
			{"unknown key type", "key types only from the list (BR §6.1.5)", []string{"a.acme-widgets.com"}, "dsa-1024", 90, "", apperr.CodeInvalidKeyType, "keyType", ""},
			{"zero days", "a validity of at least one day", []string{"a.acme-widgets.com"}, "ecdsa-p256", 0, "", apperr.CodeInvalidValidity, "validityDays", ""},
			{"over the BR cap", "BR §6.3.2: 200 days from 2026-03-15", []string{"a.acme-widgets.com"}, "ecdsa-p256", 201, "", apperr.CodeValidityTooLong, "validityDays", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := f.App.Templates.Match(ctx, f.AccountID, tc.names, tc.keyType, tc.days)
				if tc.want != "" {
					if err != nil || got.ID != tc.want {
						t.Fatalf("%s: matched %q, %v; want %s", tc.rule, got.ID, err, tc.want)
					}
					return
				}
				e, ok := apperr.As(err)
				if !ok || e.Code != tc.code || e.Field != tc.field {
					t.Fatalf("%s: %v, want %s naming %q", tc.rule, err, tc.code, tc.field)
				}
				if id, ok := template.RejectedIdentifier(err); ok != (tc.rejected != "") || id != tc.rejected {
					t.Fatalf("%s: rejected identifier %q (%v), want %q", tc.rule, id, ok, tc.rejected)
				}
			})
		}
		if _, err := f.App.Templates.Match(ctx, "", []string{"a.acme-widgets.com"}, "ecdsa-p256", 90); !apperr.HasCode(err, apperr.CodeMissingField) {
			t.Fatalf("no account: %v", err)
		}
		other := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Other", "organizations": []string{f.OrgID}})
		if _, err := f.App.Templates.Match(ctx, other.Body["id"].(string), []string{"a.acme-widgets.com"}, "ecdsa-p256", 90); !apperr.HasCode(err, apperr.CodeIdentifierNotCovered) {
			t.Fatalf("another account's templates matched: %v", err)
		}
	})
}

// A new verified organization version voids the approvals of the
// organization's templates at once, in the transaction that verifies it,
// without anyone calling Match (docs/design.md §4): Match then refuses,
// and accepts again once two verifiers approved the template's new hash.
func TestNewOrganizationVersionVoidsTemplate(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		id := approved(t, f, body(f))
		if got, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); err != nil || got.ID != id {
			t.Fatalf("approved template: %v", err)
		}
		old := status(t, f, id)
		f.Clock.Advance(36 * time.Hour)
		if r := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); r.Status != 201 {
			t.Fatalf("propose: %d %s", r.Status, r.Raw)
		}
		f.VerifyVersion(2, f.Bob, f.Dave)
		g := status(t, f, id)
		if g.Body["status"] != "pending_approval" || g.Body["organizationVersion"] != float64(2) ||
			g.Body["templateHash"] == old.Body["templateHash"] || len(g.Body["approvals"].([]any)) != 0 {
			t.Fatalf("after organization version 2 was verified: %s", g.Raw)
		}
		ev := f.Do("GET", "/api/v1/audit/events?entityType=templates&entityId="+id+"&action=template.mismatch", f.AdminToken, nil)
		if ev.Status != 200 || len(ev.Body["events"].([]any)) != 1 {
			t.Fatalf("the mismatch event: %d %s", ev.Status, ev.Raw)
		}
		_, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90)
		if !apperr.HasCode(err, apperr.CodeIdentifierNotCovered) {
			t.Fatalf("Match after the new version: %v", err)
		}
		approveBy(t, f, id, g.Body["templateHash"].(string), f.Bob, f.Carol)
		got, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90)
		if err != nil || got.ID != id || got.OrganizationVersion != 2 {
			t.Fatalf("Match after approving again: %+v %v", got, err)
		}
	})
}

// Match never trusts a stored approval: it recomputes the hash from
// current data. A template left approved against an older organization
// version (here, verified by a vetting service built without the
// templates' watch) is voided by Match, with an audit event, and refused
// with 409 template_mismatch.
func TestMatchRecomputesTheHash(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		id := approved(t, f, body(f))
		unwatched := vetting.New(f.App.DB, f.App.Recorder, f.Clock, f.App.Outbox, nil, f.App.Auth, vetting.Config{})
		f.Clock.Advance(time.Hour)
		if _, err := unwatched.Propose(ctx, f.Actor(f.Alice), f.OrgID, vetting.ChangeInput{LocalityName: ptr("Oakland")}); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{f.Bob, f.Dave} {
			if _, _, err := unwatched.Verify(ctx, f.Actor(tok), f.OrgID, 2, nil); err != nil {
				t.Fatal(err)
			}
		}
		if g := status(t, f, id); g.Body["status"] != "approved" {
			t.Fatalf("the template should still look approved: %s", g.Raw)
		}
		_, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90)
		if !apperr.HasCode(err, apperr.CodeTemplateMismatch) {
			t.Fatalf("Match of a stale template: %v", err)
		}
		g := status(t, f, id)
		if g.Body["status"] != "pending_approval" || g.Body["organizationVersion"] != float64(2) || len(g.Body["approvals"].([]any)) != 0 {
			t.Fatalf("after Match found it stale: %s", g.Raw)
		}
		ev := f.Do("GET", "/api/v1/audit/events?entityType=templates&entityId="+id+"&action=template.mismatch", f.AdminToken, nil)
		if len(ev.Body["events"].([]any)) != 1 || ev.Body["events"].([]any)[0].(map[string]any)["actor"] != "system:acme" {
			t.Fatalf("the mismatch event: %s", ev.Raw)
		}
		if _, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); !apperr.HasCode(err, apperr.CodeIdentifierNotCovered) {
			t.Fatalf("Match again: %v", err)
		}
	})
}

// Approvals are counted again at Match: an approver who has since acted
// for the account (here, created an EAB key of it) no longer counts, and
// the template matches again once another independent verifier approves.
func TestMatchRecountsIndependentApprovals(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		id, hash := create(t, f, f.Alice, body(f))
		approveBy(t, f, id, hash, f.Bob, f.Carol)
		if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", f.Bob, nil); r.Status != 201 {
			t.Fatalf("eab key: %d %s", r.Status, r.Raw)
		}
		_, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90)
		if !apperr.HasCode(err, apperr.CodeTemplateNotApproved) {
			t.Fatalf("Match with an approver who since acted for the account: %v", err)
		}
		approveBy(t, f, id, hash, f.Dave)
		if got, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); err != nil || got.ID != id {
			t.Fatalf("Match with two independent approvals: %v", err)
		}
	})
}

func ptr(s string) *string { return &s }

// A standing approval vouches for every issuance under the template only
// while its approver is still an active verifier: once bob is disabled
// (say, on leaving the CA), Match and Confirm count one approval, and the
// template issues nothing until another verifier approves it.
func TestMatchCountsOnlyActiveVerifiers(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		id, hash := create(t, f, f.Alice, body(f))
		approveBy(t, f, id, hash, f.Bob, f.Carol)
		f.DisableUser(f.Actor(f.Bob).ID)
		if _, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); !apperr.HasCode(err, apperr.CodeTemplateNotApproved) {
			t.Fatalf("Match with an approver disabled since: %v", err)
		}
		if err := f.App.Templates.Confirm(ctx, f.App.DB, id, hash, f.AccountID, f.OrgID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); !apperr.HasCode(err, apperr.CodeTemplateNotApproved) {
			t.Fatalf("Confirm with an approver disabled since: %v", err)
		}
		approveBy(t, f, id, hash, f.Dave)
		if got, err := f.App.Templates.Match(ctx, f.AccountID, []string{"shop.acme-widgets.com"}, "ecdsa-p256", 90); err != nil || got.ID != id {
			t.Fatalf("Match with carol and dave: %v", err)
		}
	})
}
