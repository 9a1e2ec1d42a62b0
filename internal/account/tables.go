package account

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package account owns: every audited read
// and write of them goes through these handles.
type tables struct {
	accountOrganizations *audit.Table[Link]
	accounts             *audit.Table[Account]
	contacts             *audit.Table[Contact]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		accountOrganizations: audit.TableOf[Link](rec, "account_organizations"),
		accounts:             audit.TableOf[Account](rec, "accounts"),
		contacts:             audit.TableOf[Contact](rec, "contacts"),
	}
}

// The actions package account records in the audit trail.
const (
	actAccountCreated            audit.Action = "account.created"
	actAccountOrganizationLinked audit.Action = "account.organization_linked"
	actContactCreated            audit.Action = "contact.created"
	actContactUpdated            audit.Action = "contact.updated"
	actContactDeleted            audit.Action = "contact.deleted"
)
