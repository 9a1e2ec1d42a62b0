package app

import (
	"errors"

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
	a.Templates = template.New(a.DB, a.Recorder, a.Clock, a.Vetting, a.Accounts, a.EAB,
		template.Config{ApprovalsRequired: a.Cfg.ApprovalsRequired}, a.Log)
	return nil
}
