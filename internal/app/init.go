package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/signer"
)

// InitOptions are the `vetca init` choices beyond Config.
type InitOptions struct {
	By           actor.Actor
	AdminName    string
	Organization string
	Country      string
	RootAlg      signer.Algorithm
	IssuingAlg   signer.Algorithm
	IssuerKeyURI string // pkcs11: URI for the issuing CA key, or ""
}

// IssuerSummary is one issuer in the output of `vetca init`.
type IssuerSummary struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	KeyURI  string `json:"keyUri"`
}

// InitResult says what init did.
type InitResult struct {
	AdminToken string          `json:"adminToken"`
	Issuers    []IssuerSummary `json:"issuers"`
	Changed    bool            `json:"changed"`
	Migrated   int             `json:"migrationsApplied"`
	AuditKey   string          `json:"auditKey"`
	AuditKeyID string          `json:"auditKeyId"`
	Messages   []string        `json:"messages"`
}

// Init creates or migrates the schema, the CA hierarchy, the audit key, the
// EAB secret and the first admin user. Each step runs only if its result is
// missing, so a second run changes nothing and says so.
func Init(ctx context.Context, a *App, o InitOptions) (*InitResult, error) {
	res := &InitResult{}
	if err := a.RequireAuditKey(); err != nil {
		return nil, fmt.Errorf("%w (the public key is pinned at %s, but the private key at %s is missing)", err, a.Cfg.AuditPublicKey, a.Cfg.AuditKey)
	}
	for _, step := range []func(context.Context, *App, InitOptions, *InitResult) error{
		initSchema, initSecrets, initHierarchy, initAdmin,
	} {
		if err := step(ctx, a, o, res); err != nil {
			return nil, err
		}
	}
	if _, ok, err := getSetting(ctx, a.Recorder, a.DB, SettingPublicURL); err != nil {
		return nil, err
	} else if !ok {
		if err := a.SetSetting(ctx, o.By, SettingPublicURL, a.Cfg.PublicURL); err != nil {
			return nil, err
		}
	}
	if !res.Changed {
		res.Messages = append(res.Messages, "already initialized; nothing changed")
	}
	return res, nil
}

// say records that init changed something, and what.
func (res *InitResult) say(format string, args ...any) {
	res.Changed = true
	res.Messages = append(res.Messages, fmt.Sprintf(format, args...))
}

// initSchema migrates the schema. Open (Options.Migrate) may have migrated
// it already: what Open applied is this init's too.
func initSchema(ctx context.Context, a *App, _ InitOptions, res *InitResult) error {
	mig, err := a.DB.Migrate(ctx)
	if err != nil {
		return err
	}
	if a.Migrated.Applied > 0 {
		mig.From, mig.Applied = a.Migrated.From, mig.Applied+a.Migrated.Applied
	}
	res.Migrated = mig.Applied
	if mig.Applied > 0 {
		res.say("schema migrated from version %d to %d", mig.From, mig.To)
	}
	return nil
}

// initSecrets reports the audit key Open made, and makes the EAB secret.
func initSecrets(ctx context.Context, a *App, _ InitOptions, res *InitResult) error {
	res.AuditKey = signer.Redact(a.Cfg.AuditKey)
	res.AuditKeyID = a.Recorder.PublicKey().ID()
	if a.AuditKeyCreated {
		res.say("audit key written to %s, its public half pinned at %s (key id %s)", res.AuditKey, a.Cfg.AuditPublicKey, res.AuditKeyID)
	}
	created, err := a.EAB.EnsureSecret(ctx)
	if err != nil {
		return err
	}
	if created {
		res.say("EAB secret written to %s (id %s); EAB keys are derived from it, and it never goes into the database", a.Cfg.EABSecret, a.EAB.SecretID())
	}
	return nil
}

// initHierarchy creates the root and issuing CA, with their ceremony
// records, when there is no CA yet.
func initHierarchy(ctx context.Context, a *App, o InitOptions, res *InitResult) error {
	issuers, err := issuance.ListIssuers(ctx, a.Recorder, a.DB)
	if err != nil {
		return err
	}
	if len(issuers) != 0 && !slices.ContainsFunc(issuers, func(i issuance.Issuer) bool { return i.Kind == issuance.KindIntermediate }) {
		// Only an init from before the hierarchy was recorded in one
		// transaction could leave this; going on would serve a CA that
		// cannot issue.
		return fmt.Errorf("the CA hierarchy is incomplete: root %s has no issuing CA (an earlier init stopped part way); create one with `vetca ceremony intermediate`", issuers[0].ID)
	}
	if len(issuers) == 0 {
		if issuers, err = createHierarchy(ctx, a, o, res); err != nil {
			return err
		}
	}
	for _, i := range issuers {
		res.Issuers = append(res.Issuers, IssuerSummary{ID: i.ID, Subject: i.Subject, Kind: i.Kind, KeyURI: i.KeyURI})
	}
	return nil
}

func createHierarchy(ctx context.Context, a *App, o InitOptions, res *InitResult) ([]issuance.Issuer, error) {
	if o.RootAlg == "" {
		o.RootAlg = signer.ECDSAP384
	}
	if o.IssuingAlg == "" {
		o.IssuingAlg = signer.ECDSAP256
	}
	issuers, err := issuance.CreateHierarchy(ctx, a.DB, a.Recorder, o.By, issuance.HierarchyOptions{
		KeyDir: a.Cfg.KeyDir, PublicURL: a.Cfg.StatusURL(), Organization: o.Organization, Country: o.Country,
		RootAlg: o.RootAlg, IssuingAlg: o.IssuingAlg, IssuerKeyURI: o.IssuerKeyURI,
		Signer: a.Cfg.SignerConfig(), Now: a.Clock.Now(),
	})
	if err != nil {
		return nil, err
	}
	res.say("created a root CA and an issuing CA; keys in %s", a.Cfg.KeyDir)
	for i, kind := range []string{"root-ca-created", "intermediate-ca-created"} {
		var parent *issuance.Issuer
		if i == 1 {
			parent = &issuers[0]
		}
		path, err := a.writeCeremony(ctx, o.By, kind, issuers[i], parent, "")
		if err != nil {
			return nil, err
		}
		res.Messages = append(res.Messages, "ceremony record written to "+path)
	}
	return issuers, nil
}

// initAdmin creates the first admin user when there is no user.
func initAdmin(ctx context.Context, a *App, o InitOptions, res *InitResult) error {
	n, err := a.Auth.CountUsers(ctx)
	if err != nil || n != 0 {
		return err
	}
	name := o.AdminName
	if name == "" {
		name = "admin"
	}
	_, token, err := a.Auth.AddUser(ctx, o.By, name, []actor.Role{actor.Admin}, "")
	if err != nil {
		return err
	}
	res.AdminToken = token
	res.say("created admin user %q; its token is shown only now", name)
	return nil
}
