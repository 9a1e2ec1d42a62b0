package acme

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package acme owns: every audited read and
// write of them goes through these handles.
type tables struct {
	accounts       *audit.Table[Account]
	orders         *audit.Table[Order]
	authorizations *audit.Table[Authorization]
	challenges     *audit.Table[Challenge]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		accounts:       audit.TableOf[Account](rec, "acme_accounts"),
		orders:         audit.TableOf[Order](rec, "acme_orders"),
		authorizations: audit.TableOf[Authorization](rec, "acme_authorizations"),
		challenges:     audit.TableOf[Challenge](rec, "acme_challenges"),
	}
}

// The actions package acme records in the audit trail.
const (
	actAccountCreated       audit.Action = "acme_account.created"
	actAccountUpdated       audit.Action = "acme_account.updated"
	actAccountDeactivated   audit.Action = "acme_account.deactivated"
	actOrderCreated         audit.Action = "acme_order.created"
	actOrderReady           audit.Action = "acme_order.ready"
	actOrderProcessing      audit.Action = "acme_order.processing"
	actOrderValid           audit.Action = "acme_order.valid"
	actOrderInvalid         audit.Action = "acme_order.invalid"
	actAuthorizationCreated audit.Action = "acme_authorization.created"
	actAuthorizationValid   audit.Action = "acme_authorization.valid"
	actAuthorizationInvalid audit.Action = "acme_authorization.invalid"
	actAuthorizationDeact   audit.Action = "acme_authorization.deactivated"
	actChallengeCreated     audit.Action = "acme_challenge.created"
	actChallengeProcessing  audit.Action = "acme_challenge.processing"
	actChallengeValid       audit.Action = "acme_challenge.valid"
	actChallengeInvalid     audit.Action = "acme_challenge.invalid"
)
