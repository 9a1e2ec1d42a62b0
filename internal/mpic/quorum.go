// Package mpic implements Multi-Perspective Issuance Corroboration (BR
// §3.2.2.9): domain control validation and CAA checks are repeated from
// remote network perspectives, and issuance proceeds only if enough of them
// corroborate the primary perspective's determination.
//
// A remote perspective is another vetca process ("vetca perspective serve")
// running a Server: an http.Handler reached over HTTPS with mutual TLS (BR
// §3.2.2.9: "authenticated and encrypted channel"). It runs the requested
// check with its own resolver (so no DNS cache is shared between
// perspectives) and its own HTTP validation port, and answers with the
// result, the full evidence, its perspective identifier and its RIR/region
// label. The primary side runs a Corroborator: it asks every configured
// perspective concurrently, with a timeout, and applies the BR quorum rules
// in force on the evaluation date. The Outcome holds each perspective's
// answer and the quorum result ("3/4 corroborated, quorum met") so both can
// be recorded (BR §5.4.1(2)).
//
// What vetca cannot check, and the operator must ensure by deployment:
//
//   - that perspectives are "distinct" and "remote": at least 500 km
//     straight-line distance between the states/provinces/countries they
//     (and their DNS resolvers) reside in. vetca has no trustworthy location
//     data; each perspective reports a configured Region label, nothing more.
//   - that the corroborating perspectives really fall in the service regions
//     of two distinct Regional Internet Registries. vetca counts distinct
//     Region labels as configured by the operator; a mislabelled perspective
//     defeats the rule.
//   - network hardening of the perspectives (BGP/RPKI measures, BR
//     §3.2.2.9 "MUST: Network Hardening").
//
// On loopback, as in the tests, all perspectives share one host and these
// properties are simulated by labels only.
package mpic

import (
	"fmt"
	"time"
)

// Phase is one step of the BR §3.2.2.9 "Phased Implementation Timeline".
type Phase struct {
	Effective time.Time `json:"effective"`
	// MinRemote is the minimum number of remote perspectives to use.
	MinRemote int `json:"minRemote"`
	// Mandatory: the CA MUST (rather than SHOULD) implement MPIC.
	Mandatory bool `json:"mandatory"`
	// Enforced: the CA MUST NOT issue when non-corroborations exceed the
	// Quorum Requirements table (before, it MAY proceed).
	Enforced bool `json:"enforced"`
	// DistinctRIRs is how many distinct RIR service regions the
	// corroborating perspectives must span (0: no such rule).
	DistinctRIRs int `json:"distinctRIRs"`
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// phases is the BR v2.2.6 §3.2.2.9 timeline. The BR gives dates without a
// time zone; vetca takes 00:00 UTC.
var phases = []Phase{
	{Effective: day(2024, time.September, 15), MinRemote: 2},
	{Effective: day(2025, time.March, 15), MinRemote: 2, Mandatory: true},
	{Effective: day(2025, time.September, 15), MinRemote: 2, Mandatory: true, Enforced: true},
	{Effective: day(2026, time.March, 15), MinRemote: 3, Mandatory: true, Enforced: true, DistinctRIRs: 2},
	{Effective: day(2026, time.June, 15), MinRemote: 4, Mandatory: true, Enforced: true, DistinctRIRs: 2},
	{Effective: day(2026, time.December, 15), MinRemote: 5, Mandatory: true, Enforced: true, DistinctRIRs: 2},
}

// PhaseAt returns the phase in force at t. Before 2024-09-15 it is the zero
// Phase (no requirement).
func PhaseAt(t time.Time) Phase {
	var p Phase
	for _, ph := range phases {
		if !t.Before(ph.Effective) {
			p = ph
		}
	}
	return p
}

// Phases returns the whole timeline, oldest first.
func Phases() []Phase { return append([]Phase(nil), phases...) }

// AllowedNonCorroborations is the BR §3.2.2.9 "Quorum Requirements" table:
// with 2 to 5 distinct remote perspectives used, 1 may fail to corroborate;
// with 6 or more, 2. The table does not cover fewer than 2; vetca allows
// none then.
func AllowedNonCorroborations(used int) int {
	switch {
	case used < 2:
		return 0
	case used <= 5:
		return 1
	default:
		return 2
	}
}

// Quorum is the evaluated quorum for one corroboration.
type Quorum struct {
	Used                     int      `json:"used"` // distinct remote perspectives asked
	Corroborations           int      `json:"corroborations"`
	NonCorroborations        int      `json:"nonCorroborations"`
	AllowedNonCorroborations int      `json:"allowedNonCorroborations"`
	Phase                    Phase    `json:"phase"`
	CorroboratingRegions     []string `json:"corroboratingRegions"` // distinct, sorted
	Met                      bool     `json:"met"`
	MayIssue                 bool     `json:"mayIssue"`
	Summary                  string   `json:"summary"` // e.g. "3/4 corroborated, quorum met"
}

// EvaluateQuorum applies BR §3.2.2.9 at time at to the number of
// perspectives used, how many corroborated, and the distinct regions of
// those that did.
//
// Met requires: at least Phase.MinRemote perspectives used, no more
// non-corroborations than the table allows, and (when the phase has the
// rule) corroborating perspectives in at least Phase.DistinctRIRs regions.
// MayIssue is Met, or true when the phase does not yet enforce the quorum.
func EvaluateQuorum(at time.Time, used, corroborations int, regions []string) Quorum {
	ph := PhaseAt(at)
	q := Quorum{
		Used:                     used,
		Corroborations:           corroborations,
		NonCorroborations:        used - corroborations,
		AllowedNonCorroborations: AllowedNonCorroborations(used),
		Phase:                    ph,
		CorroboratingRegions:     regions,
	}
	var why string
	switch {
	case used == 0 && ph.MinRemote == 0:
		why = "no remote perspectives used"
	case used < ph.MinRemote:
		why = fmt.Sprintf("only %d remote perspectives used; BR §3.2.2.9 requires at least %d from %s", used, ph.MinRemote, ph.Effective.Format(time.DateOnly))
	case q.NonCorroborations > q.AllowedNonCorroborations:
		why = fmt.Sprintf("%d non-corroborations; at most %d allowed with %d perspectives", q.NonCorroborations, q.AllowedNonCorroborations, used)
	case ph.DistinctRIRs > 0 && len(regions) < ph.DistinctRIRs:
		why = fmt.Sprintf("corroborating perspectives span %d RIR region(s); at least %d required", len(regions), ph.DistinctRIRs)
	default:
		q.Met = used > 0
	}
	q.MayIssue = q.Met || !ph.Enforced && !(ph.Mandatory && used == 0)
	if q.Met {
		q.Summary = fmt.Sprintf("%d/%d corroborated, quorum met", corroborations, used)
	} else {
		q.Summary = fmt.Sprintf("%d/%d corroborated, quorum not met: %s", corroborations, used, why)
		if q.MayIssue && ph.MinRemote > 0 {
			q.Summary += " (not yet enforced on this date)"
		}
	}
	return q
}
