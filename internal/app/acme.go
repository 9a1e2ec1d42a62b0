package app

import (
	"context"
	"errors"

	"github.com/vetca/vetca/internal/acme"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"

	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/template"
)

// wireACME builds the foundations of ACME with External Account Binding:
// the EAB key service and the template service (docs/design.md,
// "Templates and EAB keys"). A process that writes opens the installation
// EAB secret (EABSecret, default KEY-DIR/eab.secret); when there is none
// yet, the EAB service creates it at the first key (init creates it at
// once, through EnsureSecret). A process that only reads never opens it.
func (a *App) wireACME(opts Options) error {
	cfg := eab.Config{SecretPath: a.Cfg.EABSecret}
	if opts.Write {
		s, err := eab.OpenSecret(a.Cfg.EABSecret)
		switch {
		case errors.Is(err, eab.ErrNoSecret):
			cfg.CreateSecret = true
		case err != nil:
			return err
		default:
			cfg.Secret = s
		}
	}
	a.EAB = eab.New(a.DB, a.Recorder, a.Clock, a.Accounts, cfg)
	a.Templates = template.New(a.DB, a.Recorder, a.Clock, a.Vetting, a.Accounts, a.EAB, a.Auth,
		template.Config{ApprovalsRequired: a.Cfg.ApprovalsRequired}, a.Log)
	return nil
}

// wireACMEServer builds the RFC 8555 server (package acme) on the services
// it drives: EAB keys, templates, domain validation, orders and the
// issuance pipeline, revocation, and renewal information.
func (a *App) wireACMEServer() {
	a.ACME = acme.New(a.DB, a.Recorder, a.Clock, acme.Deps{
		EAB: a.EAB, Templates: a.Templates, Domains: a.Domains, Orders: a.Orders,
		Certificates: acmeCertificates{a}, Revocations: a.Revocations,
		Keys:      acmeKeys{Checker: a.Keys, Blocklist: issuance.Blocklist{DB: a.DB, Rec: a.Recorder}},
		Exposures: a.Incidents,
	}, acme.Config{BaseURL: a.Cfg.PublicURL, CAAIdentities: a.Cfg.CAAIdentities}, a.Log)
}

// acmeCertificates reads the certificate inventory and the issuers for
// the ACME server (integrity-checked, as every read that feeds a
// decision).
type acmeCertificates struct{ a *App }

func (c acmeCertificates) Certificate(ctx context.Context, serialHex string) (issuance.Certificate, error) {
	return issuance.GetCertificate(ctx, c.a.Recorder, c.a.DB, serialHex)
}

func (c acmeCertificates) PublishedIssuer(ctx context.Context, id string) (issuance.Issuer, error) {
	return c.a.Engine.PublishedIssuer(ctx, id)
}

// acmeKeys is the key policy and the blocklist of compromised keys.
type acmeKeys struct {
	*keypolicy.Checker
	issuance.Blocklist
}
