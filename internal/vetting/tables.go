package vetting

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package vetting owns: every audited read
// and write of them goes through these handles.
type tables struct {
	organizationVerifications *audit.Table[Verification]
	organizationVersions      *audit.Table[Version]
	organizations             *audit.Table[Organization]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		organizationVerifications: audit.TableOf[Verification](rec, "organization_verifications"),
		organizationVersions:      audit.TableOf[Version](rec, "organization_versions"),
		organizations:             audit.TableOf[Organization](rec, "organizations"),
	}
}

// The actions package vetting records in the audit trail.
const (
	actOrganizationCreated               audit.Action = "organization.created"
	actOrganizationVersionProposed       audit.Action = "organization.version_proposed"
	actOrganizationVersionVerification   audit.Action = "organization.version_verification"
	actOrganizationVersionVerified       audit.Action = "organization.version_verified"
	actOrganizationVersionSuperseded     audit.Action = "organization.version_superseded"
	actOrganizationVersionStale          audit.Action = "organization.version_stale"
	actOrganizationCurrentVersionChanged audit.Action = "organization.current_version_changed"
	actOrganizationVersionRejected       audit.Action = "organization.version_rejected"
)
