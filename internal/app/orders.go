package app

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/url"

	"github.com/vetca/vetca/internal/dnsname"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// wireOrders builds the linter, the issuance engine and the order service.
// extraLints and testHooks come from Options (tests only).
func (a *App) wireOrders(extraLints []lint.Option, testHooks *issuance.Hooks) error {
	hooks, lintOpts := issuance.TestHooks()
	if testHooks != nil {
		hooks = *testHooks
	}
	lintOpts = append(lintOpts, extraLints...)
	if t := internalURLTolerance(a.Cfg.PublicURL); t != nil {
		if a.serves {
			a.Log.Warn("--public-url is not a public DNS name: certificates will carry internal AIA and CRL URLs, and zlint's warning about them is tolerated; set --public-url to your public host for production",
				"public_url", a.Cfg.PublicURL)
		}
		lintOpts = append(lintOpts, lint.WithToleratedWarnings(t))
	}
	l, err := lint.New(lintOpts...)
	if err != nil {
		return fmt.Errorf("linter: %w", err)
	}
	a.Engine = issuance.NewEngine(a.DB, a.Recorder, a.Clock, l, issuance.EngineConfig{
		PublicURL: a.Cfg.StatusURL(), CRLShards: a.Cfg.CRLShards, OCSP: !a.Cfg.NoOCSP, CPSPolicyOID: a.Cfg.CPSPolicyOID,
		Signer: a.Cfg.SignerConfig(), Replica: a.Replica,
	}, hooks, a.Log)
	blocklist := issuance.Blocklist{DB: a.DB, Rec: a.Recorder}
	a.Keys = keypolicy.NewChecker(keypolicy.Options{Blocklist: blocklist})
	a.Revocations = revocation.New(a.DB, a.Recorder, a.Clock)
	a.Orders = order.New(a.DB, a.Recorder, a.Clock, order.Deps{
		Vetting: a.Vetting, Accounts: a.Accounts, Domains: a.Domains, Engine: a.Engine, Keys: a.Keys,
		Blocklist: blocklist, Abandoned: abandonedSerials{a.Revocations}, Settings: a.settingsGuard(), Templates: a.Templates,
		Staff: a.Auth, AccountKeys: acmeAccountKeys{a},
	}, order.Config{ApprovalsRequired: a.Cfg.ApprovalsRequired}, a.Log)
	return nil
}

// acmeAccountKeys asks the ACME server, wired after the orders it
// finalizes through, whether a key is an ACME account's.
type acmeAccountKeys struct{ a *App }

func (k acmeAccountKeys) IsAccountKey(ctx context.Context, q store.Querier, pub crypto.PublicKey) (bool, error) {
	if k.a.ACME == nil {
		return false, nil
	}
	return k.a.ACME.IsAccountKey(ctx, q, pub)
}

func (k acmeAccountKeys) AccountUsable(ctx context.Context, q store.Querier, acmeAccountID string) error {
	if k.a.ACME == nil {
		return nil
	}
	return k.a.ACME.AccountUsable(ctx, q, acmeAccountID)
}

// abandonedSerials has the serial of an abandoned intent answered as
// revoked.
type abandonedSerials struct{ r *revocation.Service }

func (s abandonedSerials) RecordAbandoned(ctx context.Context, tx *store.Tx, by actor.Actor, in issuance.Intent) error {
	_, err := s.r.RecordAbandoned(ctx, tx, by, in)
	return err
}

// PublishAbandoned re-signs the abandoned serial's stored OCSP responses
// and wakes the CRL publisher, as every revocation does once committed: a
// serial in flight answered good, and that answer must not outlive it.
func (s abandonedSerials) PublishAbandoned(ctx context.Context, serial string) {
	s.r.PublishSerial(ctx, serial)
}

// RecoverIssuance resolves intents left pending by a replica that is gone
// (docs/design.md, "Issuance"): serve runs it at start-up and every
// Config.RecoveryTick. Intents another live replica is signing are left alone.
func (a *App) RecoverIssuance(ctx context.Context) ([]issuance.Intent, error) {
	by := actor.SystemActor("recovery")
	resolved, err := a.Engine.Recover(ctx, by, a.replicaAlive, func(ctx context.Context, tx *store.Tx, in issuance.Intent) error {
		if _, err := a.Revocations.RecordAbandoned(ctx, tx, by, in); err != nil {
			return err
		}
		return a.Orders.Interrupted(ctx, tx, by, in.OrderID)
	})
	for _, in := range resolved {
		if in.Status == issuance.IntentAbandoned {
			abandonedSerials{a.Revocations}.PublishAbandoned(ctx, in.Serial)
		}
	}
	return resolved, err
}

// internalURLTolerance returns the lint tolerance a non-public --public-url
// needs: serve defaults it to http://LISTEN-ADDRESS (loopback), which
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

// ordersWatch passes a newly verified organization version to the order
// service (order.Service.VersionVerified), in the transaction that
// verifies it. Vetting is built before orders, which read it; the watch
// reaches a.Orders only when a version is verified, once wire is done.
type ordersWatch struct{ a *App }

func (w ordersWatch) VersionVerified(ctx context.Context, tx *store.Tx, by actor.Actor, v vetting.Version) error {
	if w.a.Orders == nil {
		return errors.New("a version was verified before the order service was built")
	}
	return w.a.Orders.VersionVerified(ctx, tx, by, v)
}
