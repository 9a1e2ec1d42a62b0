package notify

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package notify owns: every audited read
// and write of them goes through these handles.
type tables struct {
	outbox *audit.Table[Message]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		outbox: audit.TableOf[Message](rec, "outbox"),
	}
}

// The actions package notify records in the audit trail.
const (
	actMailQueued         audit.Action = "mail.queued"
	actMailSent           audit.Action = "mail.sent"
	actMailFailed         audit.Action = "mail.failed"
	actMailRetryScheduled audit.Action = "mail.retry_scheduled"
)
