package incident

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package incident owns: every audited read
// and write of them goes through these handles.
type tables struct {
	incidents *audit.Table[Incident]
	certs     *audit.Table[Certificate]
	events    *audit.Table[Event]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		incidents: audit.TableOf[Incident](rec, "incidents"),
		certs:     audit.TableOf[Certificate](rec, "incident_certificates"),
		events:    audit.TableOf[Event](rec, "incident_events"),
	}
}

// The actions package incident records in the audit trail.
const (
	actIncidentOpened    audit.Action = "incident.opened"
	actIncidentUpdated   audit.Action = "incident.updated"
	actCertificateFrozen audit.Action = "incident.certificate_frozen"
	actCertificateMet    audit.Action = "incident.certificate_revoked"
	actIncidentEvent     audit.Action = "incident.event"
)
