package issuance

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package issuance owns: every audited read
// and write of them goes through these handles.
type tables struct {
	blockedKeys     *audit.Table[BlockedKey]
	certificates    *audit.Table[Certificate]
	issuanceIntents *audit.Table[Intent]
	issuers         *audit.Table[Issuer]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		blockedKeys:     audit.TableOf[BlockedKey](rec, "blocked_keys"),
		certificates:    audit.TableOf[Certificate](rec, "certificates"),
		issuanceIntents: audit.TableOf[Intent](rec, "issuance_intents"),
		issuers:         audit.TableOf[Issuer](rec, "issuers"),
	}
}

// The actions package issuance records in the audit trail.
const (
	actKeyBlocked               audit.Action = "key.blocked"
	actCertificateStatusRevoked audit.Action = "certificate.status_revoked"
	actIssuerCreated            audit.Action = "issuer.created"
	actIssuanceIntentRecorded   audit.Action = "issuance.intent_recorded"
	actIssuanceIntentAbandoned  audit.Action = "issuance.intent_abandoned"
	actIssuanceIntentResolved   audit.Action = "issuance.intent_resolved"
	actCertificateIssued        audit.Action = "certificate.issued"
	actIssuanceIntentRecovered  audit.Action = "issuance.intent_recovered"
)
