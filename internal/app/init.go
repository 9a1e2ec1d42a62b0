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
	mig, err := a.DB.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	res.Migrated = mig.Applied
	if mig.Applied > 0 {
		res.Changed = true
		res.Messages = append(res.Messages, fmt.Sprintf("schema migrated from version %d to %d", mig.From, mig.To))
	}

	res.AuditKey = signer.Redact(a.Cfg.AuditKey)
	res.AuditKeyID = a.Recorder.PublicKey().ID()
	if a.AuditKeyCreated {
		res.Changed = true
		res.Messages = append(res.Messages, fmt.Sprintf("audit key written to %s, its public half pinned at %s (key id %s)", res.AuditKey, a.Cfg.AuditPublicKey, res.AuditKeyID))
	}

	created, err := a.EAB.EnsureSecret(ctx)
	if err != nil {
		return nil, err
	}
	if created {
		res.Changed = true
		res.Messages = append(res.Messages, fmt.Sprintf("EAB secret written to %s (id %s); EAB keys are derived from it, and it never goes into the database", a.Cfg.EABSecret, a.EAB.SecretID()))
	}

	issuers, err := issuance.ListIssuers(ctx, a.Recorder, a.DB)
	if err != nil {
		return nil, err
	}
	if len(issuers) != 0 && !slices.ContainsFunc(issuers, func(i issuance.Issuer) bool { return i.Kind == issuance.KindIntermediate }) {
		// Only an init from before the hierarchy was recorded in one
		// transaction could leave this; going on would serve a CA that
		// cannot issue.
		return nil, fmt.Errorf("the CA hierarchy is incomplete: root %s has no issuing CA (an earlier init stopped part way); create one with `vetca ceremony intermediate`", issuers[0].ID)
	}
	if len(issuers) == 0 {
		if o.RootAlg == "" {
			o.RootAlg = signer.ECDSAP384
		}
		if o.IssuingAlg == "" {
			o.IssuingAlg = signer.ECDSAP256
		}
		issuers, err = issuance.CreateHierarchy(ctx, a.DB, a.Recorder, o.By, issuance.HierarchyOptions{
			KeyDir: a.Cfg.KeyDir, PublicURL: a.Cfg.StatusURL(), Organization: o.Organization, Country: o.Country,
			RootAlg: o.RootAlg, IssuingAlg: o.IssuingAlg, IssuerKeyURI: o.IssuerKeyURI,
			Signer: a.Cfg.SignerConfig(), Now: a.Clock.Now(),
		})
		if err != nil {
			return nil, err
		}
		res.Changed = true
		res.Messages = append(res.Messages, fmt.Sprintf("created a root CA and an issuing CA; keys in %s", a.Cfg.KeyDir))
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
	}
	for _, i := range issuers {
		res.Issuers = append(res.Issuers, IssuerSummary{ID: i.ID, Subject: i.Subject, Kind: i.Kind, KeyURI: i.KeyURI})
	}

	n, err := a.Auth.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		name := o.AdminName
		if name == "" {
			name = "admin"
		}
		_, token, err := a.Auth.AddUser(ctx, o.By, name, []actor.Role{actor.Admin}, "")
		if err != nil {
			return nil, err
		}
		res.AdminToken = token
		res.Changed = true
		res.Messages = append(res.Messages, fmt.Sprintf("created admin user %q; its token is shown only now", name))
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
