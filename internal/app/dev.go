package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/vetting"
)

// DemoLogin is a demo user and its fresh token.
type DemoLogin struct {
	Name  string       `json:"name"`
	Roles []actor.Role `json:"roles"`
	Token string       `json:"token"`
}

// DemoUsers are the staff users `serve --dev` creates.
var DemoUsers = []struct {
	Name  string
	Roles []actor.Role
}{
	{"admin", []actor.Role{actor.Admin}},
	{"alice", []actor.Role{actor.Verifier}},
	{"bob", []actor.Role{actor.Verifier}},
	{"carol", []actor.Role{actor.Verifier, actor.Compliance}},
	{"dave", []actor.Role{actor.Auditor}},
}

// DemoResult is what SeedDemo did.
type DemoResult struct {
	Logins          []DemoLogin `json:"logins"`
	AccountToken    string      `json:"accountToken,omitempty"`
	AccountID       string      `json:"accountId,omitempty"`
	OrganizationID  string      `json:"organizationId,omitempty"`
	Serial          string      `json:"serial,omitempty"`
	PendingOrderID  string      `json:"pendingOrderId,omitempty"`
	ProblemReportID string      `json:"problemReportId,omitempty"`
	// TemplateID is the approved ACME template for the demo domain, and
	// EAB a fresh External Account Binding key for the demo account (new
	// on every start: a key is shown once and binds once).
	TemplateID string       `json:"templateId,omitempty"`
	EAB        *eab.Created `json:"eab,omitempty"`
}

// demoOrganization is the demo's vetted organization that issues.
const demoOrganization = "Acme Widgets Inc."

// DemoDomain is the domain the dev demo validates and issues for (through
// the dev DNS responder of serve --dev).
const DemoDomain = "shop.acme-widgets.com"

// DevOrganization is the organization of the CA certificates serve --dev
// makes.
const DevOrganization = "vetca Dev"

// devCA reports whether the installation's issuing CA is the one serve
// --dev made (a demo database from before SettingDev).
func devCA(ctx context.Context, a *App) bool {
	iss, _, err := a.Engine.ActiveIssuer(ctx, a.DB)
	if err != nil {
		return false
	}
	c, err := iss.Certificate()
	return err == nil && len(c.Subject.Organization) == 1 && c.Subject.Organization[0] == DevOrganization
}

// SettingDev marks an installation that serve --dev loaded demo data into.
const SettingDev = "dev_installation"

// RequireDevInstallation refuses to load demo data into an installation
// that holds organizations serve --dev did not load: the demo issues a
// certificate for a demo domain on a validation its own DNS responder
// answers, rotates the tokens of users with the demo names, adds staff
// without a second admin's approval and records its own public URL, none
// of which belongs in a real CA (a VETCA_DB left exported, then `make
// run`). An installation is a demo one once marked (SettingDev), while it
// holds no organization yet (fresh from vetca init), or when its issuing
// CA is the one serve --dev makes; it is marked here.
func RequireDevInstallation(ctx context.Context, a *App) error {
	_, marked, err := getSetting(ctx, a.Recorder, a.DB, SettingDev)
	if err != nil || marked {
		return err
	}
	orgs, _, err := a.Vetting.Counts(ctx, actor.Actor{Kind: actor.Staff, ID: "dev-seed", Name: "dev-seed"})
	if err != nil {
		return err
	}
	if orgs > 0 && !devCA(ctx, a) {
		return fmt.Errorf("serve --dev loads demo data (a certificate for a demo domain, demo staff, new tokens for users with the demo names, its own public URL), and database %s is not a demo installation: it holds %d organization(s) that serve --dev did not load. Run serve without --dev, or point --db (VETCA_DB) at a demo database", a.DB.DSN(), orgs)
	}
	return a.SetSetting(ctx, actor.SystemActor("dev-seed"), SettingDev, "true")
}

// SeedDemo loads demo data for `serve --dev`: staff users (their tokens
// are rotated on every start, since tokens are stored hashed and cannot be
// shown again), a verified organization with an account and contacts, a
// verified organization in a sanctioned country with its review, and a
// pending identity change. Every write goes through the services, so the
// demo data is audited like any other.
func SeedDemo(ctx context.Context, a *App) (*DemoResult, error) {
	sys := actor.SystemActor("dev-seed")
	res := &DemoResult{}
	users := map[string]actor.Actor{}
	for _, du := range DemoUsers {
		var token string
		u, tok, err := a.Auth.AddUser(ctx, sys, du.Name, du.Roles, du.Name+"@staff.vetca.localhost")
		switch {
		case err == nil:
			token = tok
		case apperr.HasCode(err, apperr.CodeNameTaken):
			if token, err = a.Auth.RotateUserToken(ctx, sys, du.Name); err != nil {
				return nil, err
			}
			found, ok, err := a.Auth.UserByName(ctx, du.Name)
			if err != nil || !ok {
				return nil, fmt.Errorf("demo user %s: %v", du.Name, err)
			}
			u = found
		default:
			return nil, err
		}
		users[du.Name] = actor.Actor{Kind: actor.Staff, ID: u.ID, Name: u.Name, Roles: u.Roles}
		res.Logins = append(res.Logins, DemoLogin{Name: u.Name, Roles: u.Roles, Token: token})
	}

	orgs, _, err := a.Vetting.List(ctx, users["alice"], store.Page{Limit: store.MaxPageSize})
	if err != nil {
		return nil, err
	}
	if len(orgs) > 0 {
		accs, _, err := a.Accounts.List(ctx, users["admin"], store.Page{Limit: 1})
		if err == nil && len(accs) > 0 {
			res.AccountID = accs[0].ID
			res.AccountToken, err = a.Accounts.RotateToken(ctx, users["admin"], accs[0].ID)
			if err != nil {
				return nil, err
			}
		}
		res.OrganizationID = orgs[0].ID
		for _, o := range orgs {
			if o.OrganizationName == demoOrganization {
				res.OrganizationID = o.ID
			}
		}
		if res.AccountID != "" {
			demoACME(ctx, a, users, res)
		}
		return res, nil
	}

	alice, bob, carol := users["alice"], users["bob"], users["carol"]
	ev := func(src, ref string) []vetting.Evidence { return []vetting.Evidence{{Source: src, Reference: ref}} }
	acme, _, err := a.Vetting.Create(ctx, alice, vetting.CreateInput{Fields: vetting.Fields{
		OrganizationName: demoOrganization, CountryName: "US", StateOrProvinceName: "California",
		LocalityName: "San Francisco", StreetAddress: "1 Market Street", PostalCode: "94105", RegistrationNumber: "C1234567",
	}})
	if err != nil {
		return nil, fmt.Errorf("demo organization: %w", err)
	}
	for _, v := range []actor.Actor{bob, carol} {
		if _, _, err := a.Vetting.Verify(ctx, v, acme.ID, 1, ev("California Secretary of State business search", "C1234567")); err != nil {
			return nil, fmt.Errorf("demo verification: %w", err)
		}
	}
	shwe, _, err := a.Vetting.Create(ctx, alice, vetting.CreateInput{
		Fields: vetting.Fields{OrganizationName: "Shwe Taung Trading Co. Ltd", CountryName: "MM", StateOrProvinceName: "Yangon", LocalityName: "Yangon"},
		SanctionsReview: &vetting.SanctionsReview{Reference: "LEGAL-2026-0142", Decision: "approved",
			Notes: "Reviewed against the applicable sanctions regulations; the applicant is not a listed person."},
	})
	if err != nil {
		return nil, fmt.Errorf("demo sanctioned organization: %w", err)
	}
	// A sanctioned country needs a compliance verifier (carol).
	for _, v := range []actor.Actor{bob, carol} {
		if _, _, err := a.Vetting.Verify(ctx, v, shwe.ID, 1, ev("Myanmar Companies Online (DICA)", "109876543")); err != nil {
			return nil, fmt.Errorf("demo verification: %w", err)
		}
	}
	acc, token, err := a.Accounts.Create(ctx, users["admin"], account.CreateInput{Name: "Acme Widgets", Organizations: []string{acme.ID}})
	if err != nil {
		return nil, err
	}
	for _, c := range []account.ContactInput{
		{Name: ptr("Jane Doe"), Email: ptr("jane.doe@acme-widgets.localhost"), Phone: ptr("+1 415 555 0100"), Role: ptr("administrative")},
		{Name: ptr("Sam Patel"), Email: ptr("sam.patel@acme-widgets.localhost"), Role: ptr("technical")},
	} {
		if _, err := a.Accounts.AddContact(ctx, users["admin"], acc.ID, c); err != nil {
			return nil, err
		}
	}
	if _, err := a.Vetting.Propose(ctx, alice, acme.ID, vetting.ChangeInput{StreetAddress: ptr("500 Howard Street")}); err != nil {
		return nil, err
	}
	res.AccountID, res.AccountToken, res.OrganizationID = acc.ID, token, acme.ID
	if err := demoIssuance(ctx, a, acc.ID, acme.ID, bob, carol, res); err != nil {
		// The demo still works for vetting without it (e.g. an explicit
		// --dns-resolver that does not know the demo domain).
		a.Log.Warn("demo issuance skipped", "err", err)
		return res, nil
	}
	demoACME(ctx, a, users, res)
	return res, nil
}

// demoACME makes ACME usable at once in the demo: a template for the demo
// domain, created by alice and approved by bob and carol (none of whom
// acted for the account), unless the account has one already, and a fresh
// EAB key made by the admin. The demo domain's validation is reused, so an
// ACME order for it is ready without a challenge. A failure leaves the
// rest of the demo working.
func demoACME(ctx context.Context, a *App, users map[string]actor.Actor, res *DemoResult) {
	existing, _, err := a.Templates.List(ctx, users["admin"], res.AccountID, string(template.StatusApproved), store.Page{Limit: 1})
	if err != nil {
		a.Log.Warn("demo ACME skipped", "err", err)
		return
	}
	if len(existing) > 0 {
		res.TemplateID = existing[0].ID
	} else {
		days := 90
		t, err := a.Templates.Create(ctx, users["alice"], template.Input{AccountID: res.AccountID, OrganizationID: res.OrganizationID,
			DNSNames: []string{DemoDomain}, KeyTypes: []string{"ecdsa-p256", "rsa-2048"}, MaxValidityDays: &days})
		if err != nil {
			a.Log.Warn("demo ACME template skipped", "err", err)
			return
		}
		for _, v := range []string{"bob", "carol"} {
			if _, err := a.Templates.Approve(ctx, users[v], t.ID, t.TemplateHash); err != nil {
				a.Log.Warn("demo ACME template approval skipped", "err", err)
				return
			}
		}
		res.TemplateID = t.ID
	}
	k, err := a.EAB.Create(ctx, users["admin"], res.AccountID)
	if err != nil {
		a.Log.Warn("demo EAB key skipped", "err", err)
		return
	}
	res.EAB = &k
}

// demoIssuance validates the demo domain, issues one certificate (two
// approvals, finalize) and leaves one order awaiting approval.
func demoIssuance(ctx context.Context, a *App, accountID, orgID string, bob, carol actor.Actor, res *DemoResult) error {
	sub := actor.Actor{Kind: actor.Subscriber, ID: accountID, AccountID: accountID}
	v, err := a.Domains.Start(ctx, sub, accountID, DemoDomain, "dns-change")
	if err != nil {
		return err
	}
	if att, err := a.Domains.Validate(ctx, sub, accountID, v.ID); err != nil || att.Status != "valid" {
		return fmt.Errorf("demo domain validation: %v (%s)", err, att.Status)
	}
	place := func() (order.Order, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return order.Order{}, err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{DemoDomain}}, k)
		if err != nil {
			return order.Order{}, err
		}
		return a.Orders.Create(ctx, sub, order.CreateInput{OrganizationID: orgID, DNSNames: []string{DemoDomain},
			CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	}
	o, err := place()
	if err != nil {
		return err
	}
	for _, ap := range []actor.Actor{bob, carol} {
		if _, err := a.Orders.Approve(ctx, ap, o.ID, o.SnapshotHash); err != nil {
			return err
		}
	}
	issued, err := a.Orders.Finalize(ctx, sub, o.ID)
	if err != nil {
		return err
	}
	pending, err := place()
	if err != nil {
		return err
	}
	res.Serial, res.PendingOrderID = issued.Serial, pending.ID
	// A problem report about the certificate, so the compliance desk has a
	// case with its BR §4.9.5 clock running.
	c, err := a.CPR.Submit(ctx, cpr.Submission{ReporterEmail: "finder@example.org", Category: string(cpr.CategoryMisissuance),
		Description: "The locality in this certificate looks wrong to me.", Serials: []string{issued.Serial}, Channel: cpr.ChannelWeb})
	if err != nil {
		return fmt.Errorf("demo problem report: %w", err)
	}
	res.ProblemReportID = c.ID
	return nil
}

func ptr(s string) *string { return &s }
