package app

import (
	"context"
	"fmt"
	"net/url"

	"github.com/vetca/vetca/internal/dnsname"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
)

// wireOrders builds the linter, the issuance engine and the order service.
func (a *App) wireOrders(ctx context.Context) error {
	hooks, lintOpts := issuance.TestHooks()
	lintOpts = append(lintOpts, a.extraLints...)
	if t := internalURLTolerance(a.Cfg.PublicURL); t != nil {
		a.Log.Warn("--public-url is not a public DNS name: certificates will carry internal AIA and CRL URLs, and zlint's warning about them is tolerated; set --public-url to your public host for production",
			"public_url", a.Cfg.PublicURL)
		lintOpts = append(lintOpts, lint.WithToleratedWarnings(t))
	}
	l, err := lint.New(lintOpts...)
	if err != nil {
		return fmt.Errorf("linter: %w", err)
	}
	a.Engine = issuance.NewEngine(a.DB, a.Recorder, a.Clock, l, issuance.EngineConfig{
		PublicURL: a.Cfg.PublicURL, CRLShards: a.Cfg.CRLShards, OCSP: !a.Cfg.NoOCSP, CPSPolicyOID: a.Cfg.CPSPolicyOID,
		Signer: a.Cfg.SignerConfig(),
	}, hooks, a.Log)
	a.Keys = keypolicy.NewChecker(keypolicy.Options{Blocklist: issuance.Blocklist{DB: a.DB}})
	a.Orders = order.New(a.DB, a.Recorder, a.Clock, a.Vetting, a.Accounts, a.Domains, a.Engine, a.Keys,
		order.Config{ApprovalsRequired: a.Cfg.ApprovalsRequired})
	return nil
}

// RecoverIssuance resolves intents left pending by an interrupted process
// (run at start-up by `vetca serve`).
func (a *App) RecoverIssuance(ctx context.Context) ([]issuance.Intent, error) {
	by := actor.SystemActor("recovery")
	return a.Engine.Recover(ctx, by, func(ctx context.Context, tx *store.Tx, in issuance.Intent) error {
		if _, err := a.Revocations.RecordAbandoned(ctx, tx, by, in); err != nil {
			return err
		}
		return a.Orders.Interrupted(ctx, tx, by, in.OrderID)
	})
}

// internalURLTolerance returns the lint tolerance a non-public --public-url
// needs: CONTRACT §2 defaults it to http://LISTEN-ADDRESS (loopback), which
// makes zlint warn that AIA URLs hold internal names. Only that warning is
// tolerated, and only then.
func internalURLTolerance(publicURL string) map[string]string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil
	}
	if _, err := dnsname.Normalize(u.Hostname(), false); err == nil {
		return nil
	}
	return map[string]string{
		"w_sub_cert_aia_contains_internal_names": "the --public-url host " + u.Hostname() + " is not a public DNS name (development or test set-up)",
	}
}
