package br

import "time"

// Certificate Problem Reports (BR §4.9.5) and incident reports (MRSP §2.4,
// CCADB Incident Reporting Guidelines v3.2, "When are reports
// expected/updated?").
const (
	// PreliminaryReportWithin: "Within 24 hours after receiving a Certificate
	// Problem Report, the CA SHALL investigate ... and provide a preliminary
	// report on its findings to both the Subscriber and the entity who filed
	// the Certificate Problem Report" (BR §4.9.5), whether or not the report
	// proves true.
	PreliminaryReportWithin = 24 * time.Hour
	// IncidentInitialReportWithin: within 72 hours of becoming aware of an
	// incident the CA Owner MUST disclose a Preliminary or Full Incident
	// Report (IRG v3.2).
	IncidentInitialReportWithin = 72 * time.Hour
	// IncidentFullReportWithin: the Full Incident Report is due within 14
	// days of the initial disclosure (IRG v3.2).
	IncidentFullReportWithin = 14 * Day
	// IncidentUpdateWithin: an open report MUST be updated on or before its
	// "Next update" date, within 7 days if none is set (IRG v3.2).
	IncidentUpdateWithin = 7 * Day
	// IncidentCommentResponseWithin: questions and comments are answered
	// within 7 days; acknowledging is enough (IRG v3.2).
	IncidentCommentResponseWithin = 7 * Day
	// IncidentActionItemUpdateWithin: a report is updated within 3 days of an
	// Action Item being changed, completed or delayed (IRG v3.2).
	IncidentActionItemUpdateWithin = 3 * Day
	// RevocationDelayUpdateShould and RevocationDelayUpdateMust: a
	// revocation-delay incident SHOULD be updated every 3 days and MUST be at
	// least every 7 days (IRG v3.2).
	RevocationDelayUpdateShould = 3 * Day
	RevocationDelayUpdateMust   = 7 * Day
)

// PreliminaryReportDue returns when the preliminary report on a Certificate
// Problem Report received at receivedAt is due to both the subscriber and
// the reporter: receivedAt + 24 h (BR §4.9.5).
func PreliminaryReportDue(receivedAt time.Time) time.Time {
	return receivedAt.Add(PreliminaryReportWithin)
}

// ProblemReportRevocationDue returns the latest instant a certificate that a
// problem report received at receivedAt was decided against may be revoked:
// "The period from receipt of the Certificate Problem Report ... to
// published revocation MUST NOT exceed the time frame set forth in Section
// 4.9.1.1" (BR §4.9.5). The clock runs from receipt, not from the decision
// and not from when the subscriber is told.
func ProblemReportRevocationDue(receivedAt time.Time, t Trigger) time.Time {
	return t.Deadline(receivedAt)
}

// IncidentInitialReportDue returns when the first incident report is due
// for an incident the CA became aware of at awareAt: awareAt + 72 h (IRG
// v3.2).
func IncidentInitialReportDue(awareAt time.Time) time.Time {
	return awareAt.Add(IncidentInitialReportWithin)
}

// IncidentFullReportDue returns when the Full Incident Report is due:
// 14 days after the initial disclosure (IRG v3.2).
func IncidentFullReportDue(initialDisclosureAt time.Time) time.Time {
	return initialDisclosureAt.Add(IncidentFullReportWithin)
}

// IncidentNextUpdateDue returns when an open incident report must next be
// updated: on nextUpdate if the report set one (the Bugzilla whiteboard
// "Next update" date), otherwise 7 days after lastUpdateAt (IRG v3.2).
func IncidentNextUpdateDue(lastUpdateAt, nextUpdate time.Time) time.Time {
	if !nextUpdate.IsZero() {
		return nextUpdate
	}
	return lastUpdateAt.Add(IncidentUpdateWithin)
}

// IncidentCommentResponseDue returns when a comment or question posted at
// commentAt must be answered: 7 days later (IRG v3.2).
func IncidentCommentResponseDue(commentAt time.Time) time.Time {
	return commentAt.Add(IncidentCommentResponseWithin)
}

// IncidentActionItemUpdateDue returns when the report must be updated after
// an Action Item changed at changedAt: 3 days later (IRG v3.2).
func IncidentActionItemUpdateDue(changedAt time.Time) time.Time {
	return changedAt.Add(IncidentActionItemUpdateWithin)
}

// RevocationDelayUpdateDue returns when a revocation-delay incident report
// SHOULD (3 days) and MUST (7 days) next be updated after lastUpdateAt (IRG
// v3.2; MRSP §6.1.3).
func RevocationDelayUpdateDue(lastUpdateAt time.Time) (should, must time.Time) {
	return lastUpdateAt.Add(RevocationDelayUpdateShould), lastUpdateAt.Add(RevocationDelayUpdateMust)
}
