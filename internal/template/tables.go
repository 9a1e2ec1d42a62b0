package template

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package template owns: every audited read
// and write of them goes through these handles.
type tables struct {
	templates *audit.Table[Template]
	approvals *audit.Table[Approval]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		templates: audit.TableOf[Template](rec, "templates"),
		approvals: audit.TableOf[Approval](rec, "template_approvals"),
	}
}

// The actions package template records in the audit trail.
const (
	actTemplateCreated          audit.Action = "template.created"
	actTemplateChanged          audit.Action = "template.changed"
	actTemplateDisabled         audit.Action = "template.disabled"
	actTemplateApproved         audit.Action = "template.approved"
	actTemplateStatusApproved   audit.Action = "template.status_approved"
	actTemplateApprovalVoided   audit.Action = "template.approval_voided"
	actTemplateOrganizationMove audit.Action = "template.organization_version_changed"
	actTemplateMismatch         audit.Action = "template.mismatch"
)
