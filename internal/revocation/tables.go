package revocation

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package revocation owns: every audited read
// and write of them goes through these handles.
type tables struct {
	crlShards   *audit.Table[ShardRecord]
	revocations *audit.Table[Revocation]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		crlShards:   audit.TableOf[ShardRecord](rec, "crl_shards"),
		revocations: audit.TableOf[Revocation](rec, "revocations"),
	}
}

// The actions package revocation records in the audit trail.
const (
	actOCSPReplayRefused            audit.Action = "ocsp.replay_refused"
	actCRLReplayRefused             audit.Action = "crl.replay_refused"
	actCrlPublished                 audit.Action = "crl.published"
	actOcspResponsesRefreshed       audit.Action = "ocsp.responses_refreshed"
	actCertificateRevocationUpdated audit.Action = "certificate.revocation_updated"
	actCertificateRevoked           audit.Action = "certificate.revoked"
)
