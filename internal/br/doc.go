// Package br is the CA/Browser Forum TLS Baseline Requirements, the Mozilla
// Root Store Policy and the CCADB incident rules as code: every deadline,
// limit and table that vetca enforces comes from here (docs/design.md §9).
//
// Each exported constant, table row and function names the section it
// implements. Section numbers are those of these versions:
//
//   - BR: TLS Baseline Requirements v2.2.6 (see BRVersion);
//   - MRSP: Mozilla Root Store Policy v3.1 (and v2.8 §6.1.1 for the
//     keyCompromise evidence rules that later moved to the wiki);
//   - IRG: CCADB Incident Reporting Guidelines v3.2.
//
// The package is pure: it performs no I/O and reads no clock. Every rule that
// depends on a date takes the instant it is evaluated at as a parameter, so a
// caller passes clock.Now() and a test can run time forward. Dates at which a
// rule changes (for example the SC-081 validity milestones) are instants at
// 00:00:00 UTC, the reading zlint also uses.
//
// Errors for bad input are *apperr.Error values that name the JSON field the
// API uses for that input ("reason", "trigger", "validityDays",
// "countryName", ...), so a service can return them unchanged.
package br

import "time"

// BRVersion is the version of the TLS Baseline Requirements this package
// encodes (BR §1.2.1, ballot SC095, effective 2026-03-31).
const BRVersion = "2.2.6"

// Day is the length of a day for every duration rule in the BR: "a day is
// measured as 86,400 seconds" (BR §6.3.2; the same measure for OCSP in
// §4.9.9). Leap seconds are ignored.
const Day = 86400 * time.Second

// Section labels for the obligations vetca tracks, to show next to each due
// time. Revocation items use Trigger.Section instead, which names the
// §4.9.1.1 item.
const (
	SectionPreliminaryReport = "BR 4.9.5"                         // preliminary CPR report within 24 h
	SectionIncidentInitial   = "CCADB IRG 3.2"                    // initial incident report within 72 h
	SectionIncidentFull      = "CCADB IRG 3.2"                    // full incident report within 14 days
	SectionIncidentUpdate    = "CCADB IRG 3.2"                    // open reports updated at least every 7 days
	SectionIncidentComment   = "CCADB IRG 3.2"                    // answer comments within 7 days
	SectionCRL               = "BR 4.9.7"                         // CRL republication
	SectionOCSP              = "BR 4.9.9"                         // OCSP refresh
	SectionSubCARevocation   = "BR 4.9.1.2"                       // subordinate CA revocation within 7 days
	SectionDelayedRevocation = "CCADB IRG 3.2 (revocation-delay)" // delay bugs: updates every 3/7 days
)
