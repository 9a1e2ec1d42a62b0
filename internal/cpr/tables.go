package cpr

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package cpr owns: every audited read and
// write of them goes through these handles.
type tables struct {
	reports *audit.Table[Case]
	matches *audit.Table[Match]
	events  *audit.Table[Event]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		reports: audit.TableOf[Case](rec, "problem_reports"),
		matches: audit.TableOf[Match](rec, "problem_report_matches"),
		events:  audit.TableOf[Event](rec, "problem_report_events"),
	}
}

// The actions package cpr records in the audit trail.
const (
	actReportReceived     audit.Action = "problem_report.received"
	actReportMatched      audit.Action = "problem_report.matched"
	actReportDecided      audit.Action = "problem_report.decided"
	actReportUpdated      audit.Action = "problem_report.updated"
	actReportClosed       audit.Action = "problem_report.closed"
	actReportMerged       audit.Action = "problem_report.merged"
	actReportEvent        audit.Action = "problem_report.event"
	actReportBreach       audit.Action = "problem_report.breach"
	actReportAlarm        audit.Action = "problem_report.alarm"
	actReportSent         audit.Action = "problem_report.report_sent"
	actReportPrelimMet    audit.Action = "problem_report.preliminary_met"
	actReportRevokeQueued audit.Action = "problem_report.revocation_scheduled"
)
