package app

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/domain"

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
	domains, ok := any(a.Domains).(order.Domains)
	if !ok {
		domains = unwiredDomains{} // TEMPORARY while issue 4's service lands; removed when it does
	}
	a.Orders = order.New(a.DB, a.Recorder, a.Clock, a.Vetting, a.Accounts, domains, a.Engine, a.Keys,
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

// evidenceSource is the domain service's view of issuance evidence.
func (a *App) evidenceSource() order.EvidenceSource {
	if e, ok := any(a.Domains).(order.EvidenceSource); ok {
		return e
	}
	return nil
}

// unwiredDomains refuses every domain check. TEMPORARY (see wireOrders).
type unwiredDomains struct{}

func (unwiredDomains) err() error {
	return apperr.Unavailable("domains_unavailable", "domain validation is not available in this build")
}
func (u unwiredDomains) RequireValidated(context.Context, store.Querier, string, []string, time.Time) ([]domain.Reliance, error) {
	return nil, u.err()
}
func (u unwiredDomains) CheckCAA(context.Context, []string) ([]domain.CAAResult, error) {
	return nil, u.err()
}
func (u unwiredDomains) RecordIssuance(context.Context, *store.Tx, actor.Actor, string, string, []domain.Reliance, []domain.CAAResult) error {
	return u.err()
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
