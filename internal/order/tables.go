package order

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package order owns: every audited read
// and write of them goes through these handles.
type tables struct {
	orderApprovals *audit.Table[Approval]
	orders         *audit.Table[Order]
	orderTemplates *audit.Table[TemplateBinding]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		orderApprovals: audit.TableOf[Approval](rec, "order_approvals"),
		orders:         audit.TableOf[Order](rec, "orders"),
		orderTemplates: audit.TableOf[TemplateBinding](rec, "order_templates"),
	}
}

// The actions package order records in the audit trail.
const (
	actOrderCaaRefused          audit.Action = "order.caa_refused"
	actOrderIssued              audit.Action = "order.issued"
	actOrderFailed              audit.Action = "order.failed"
	actOrderFailureDetails      audit.Action = "order.failure_details"
	actOrderCreated             audit.Action = "order.created"
	actOrderSnapshotChanged     audit.Action = "order.snapshot_changed"
	actOrderSnapshotMismatch    audit.Action = "order.snapshot_mismatch"
	actOrderApprovalVoided      audit.Action = "order.approval_voided"
	actOrderApproved            audit.Action = "order.approved"
	actOrderStatusApproved      audit.Action = "order.status_approved"
	actOrderRejected            audit.Action = "order.rejected"
	actOrderIssuanceInterrupted audit.Action = "order.issuance_interrupted"
	actOrderTemplateBound       audit.Action = "order.template_bound"
)
