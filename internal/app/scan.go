package app

import (
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/scan"
)

// Scanner returns the certificate scanner (docs/architecture.md, "Scans")
// over this installation. linter is the lint set to apply; nil means the
// issuance engine's, which holds every current zlint and vetca lint.
func (a *App) Scanner(linter scan.Linter) *scan.Scanner {
	if linter == nil {
		linter = a.Engine.Linter()
	}
	return scan.New(scan.Deps{
		DB: a.DB, Rec: a.Recorder, Clock: a.Clock, Inventory: issuance.NewInventory(a.Recorder), Orders: a.Orders,
		Organizations: a.Vetting, Blocklist: issuance.Blocklist{DB: a.DB, Rec: a.Recorder}, Linter: linter,
		Validations: a.Domains, OrderApprovals: a.Orders, Accounts: a.Accounts,
	})
}
