package change

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package change owns: every audited read
// and write of them goes through these handles.
type tables struct {
	changeRequestApprovals *audit.Table[Approval]
	changeRequests         *audit.Table[Request]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		changeRequestApprovals: audit.TableOf[Approval](rec, "change_request_approvals"),
		changeRequests:         audit.TableOf[Request](rec, "change_requests"),
	}
}

// The actions package change records in the audit trail.
const (
	actChangeRequestCreated  audit.Action = "change_request.created"
	actChangeRequestApproved audit.Action = "change_request.approved"
	actChangeRequestApplied  audit.Action = "change_request.applied"
	actChangeRequestOutcome  audit.Action = "change_request.outcome"
	actChangeRequestRejected audit.Action = "change_request.rejected"
)
