package validation

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package validation owns: every audited read
// and write of them goes through these handles.
type tables struct {
	caaChecks                    *audit.Table[caaCheck]
	certificateDomainValidations *audit.Table[link]
	domainValidationAttempts     *audit.Table[Attempt]
	domainValidations            *audit.Table[Validation]
	flaggedMethodVersions        *audit.Table[FlaggedMethod]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		caaChecks:                    audit.TableOf[caaCheck](rec, "caa_checks"),
		certificateDomainValidations: audit.TableOf[link](rec, "certificate_domain_validations"),
		domainValidationAttempts:     audit.TableOf[Attempt](rec, "domain_validation_attempts"),
		domainValidations:            audit.TableOf[Validation](rec, "domain_validations"),
		flaggedMethodVersions:        audit.TableOf[FlaggedMethod](rec, "flagged_method_versions"),
	}
}

// The actions package validation records in the audit trail.
const (
	actCertificateDomainValidationRelied audit.Action = "certificate.domain_validation_relied"
	actCertificateCaaChecked             audit.Action = "certificate.caa_checked"
	actDomainValidationStarted           audit.Action = "domain.validation_started"
	actDomainValidationAttempted         audit.Action = "domain.validation_attempted"
	actDomainValidated                   audit.Action = "domain.validated"
	actDomainValidationFailed            audit.Action = "domain.validation_failed"
	actMethodVersionFlagged              audit.Action = "domain.method_version_flagged"
)
