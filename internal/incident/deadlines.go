package incident

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/store"
)

// Kinds of obligation.
const (
	ObligationRevocation    = "revocation"
	ObligationInitialReport = "incident_initial_report"
	ObligationFullReport    = "incident_full_report"
	ObligationUpdate        = "incident_update"
	// ObligationDelayUpdate is the 3-day SHOULD update of a
	// revocation-delay incident; its 7-day MUST is ObligationUpdate.
	ObligationDelayUpdate = "incident_delay_update"
)

// Sections the obligations cite.
const (
	SectionRevocation  = "BR §4.9.1.1"
	SectionIRG         = "CCADB IRG v3.2"
	SectionDelayShould = "CCADB IRG v3.2 (revocation delay, SHOULD)"
	SectionDelayMust   = "CCADB IRG v3.2 (revocation delay, MUST)"
)

// Obligation is one open deadline of an incident: Ref is the incident id,
// or the serial of a certificate to revoke.
type Obligation struct {
	Kind       string    `json:"kind"`
	Ref        string    `json:"ref"`
	Due        time.Time `json:"due"`
	Section    string    `json:"section"`
	Breached   bool      `json:"breached"`
	IncidentID string    `json:"incident"`
}

func obligation(kind, ref string, inc Incident, due time.Time, section string, at time.Time) Obligation {
	return Obligation{Kind: kind, Ref: ref, Due: due, Section: section, Breached: !due.After(at), IncidentID: inc.ID}
}

// Obligations lists every obligation of the open incidents not met as of
// at: each affected certificate not revoked (and not expired) by at, due
// revocationDue; the initial report (awareAt + 72 h); the full report (14
// days after the initial disclosure, or after the initial report's due
// time while nothing was disclosed); the next update (7 days after the
// last one, or on the "Next update" date set); and for a revocation-delay
// incident the 3-day SHOULD update too (IRG v3.2). Breached means the due
// time is not after at. Recorded delays change none of these. A closed
// incident keeps its revocation obligations until they are met: closing
// it meets no BR §4.9.1.1 deadline (docs/design.md §13).
func (s *Service) Obligations(ctx context.Context, at time.Time) ([]Obligation, error) {
	ts := store.FormatTime(at)
	incs, err := s.tab.incidents.Select(ctx, s.db, `WHERE created_at <= ? AND (status = ? OR (kind = ? AND `+unmetRevocation+`)) ORDER BY created_at, id`,
		ts, StatusOpen, KindIncident, ts, ts)
	if err != nil {
		return nil, err
	}
	out := []Obligation{}
	for _, inc := range incs {
		if inc.Status == StatusOpen {
			out = append(out, reportObligations(inc, at)...)
			changed, err := s.actionItemObligation(ctx, s.db, inc, at)
			if err != nil {
				return nil, err
			}
			out = append(out, changed...)
		}
		if inc.Kind == KindDelayedRevocation {
			continue // its certificates are the parent's obligations
		}
		items, err := s.revocationItems(ctx, s.db, inc, at)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// unmetRevocation selects (as t) an incident with an affected certificate
// neither revoked through it nor expired at the time bound twice: closed
// incidents are read only when they may still have a revocation
// obligation then (stateAt decides; a certificate revoked by another path
// is found so there).
const unmetRevocation = `EXISTS (SELECT 1 FROM incident_certificates c WHERE c.incident_id = t.id AND (c.revoked_at IS NULL OR c.revoked_at > ?) AND c.not_after > ?)`

// met reports whether a report recorded at t was made by at.
func met(t *time.Time, at time.Time) bool { return t != nil && !t.After(at) }

// reportObligations are an incident's report deadlines at at (IRG v3.2).
func reportObligations(inc Incident, at time.Time) []Obligation {
	var out []Obligation
	if !met(inc.InitialReportAt, at) {
		out = append(out, obligation(ObligationInitialReport, inc.ID, inc, inc.InitialReportDue, SectionIRG, at))
	}
	disclosed := inc.InitialReportDue
	if met(inc.InitialReportAt, at) {
		disclosed = *inc.InitialReportAt
	}
	if !met(inc.FullReportAt, at) {
		out = append(out, obligation(ObligationFullReport, inc.ID, inc, br.IncidentFullReportDue(disclosed), SectionIRG, at))
	}
	last := disclosed
	if met(inc.LastUpdateAt, at) {
		last = *inc.LastUpdateAt
	}
	if inc.Kind == KindDelayedRevocation {
		should, must := br.RevocationDelayUpdateDue(last)
		return append(out, obligation(ObligationDelayUpdate, inc.ID, inc, should, SectionDelayShould, at),
			obligation(ObligationUpdate, inc.ID, inc, must, SectionDelayMust, at))
	}
	var next time.Time
	if inc.NextUpdate != nil {
		next = *inc.NextUpdate
	}
	return append(out, obligation(ObligationUpdate, inc.ID, inc, br.IncidentNextUpdateDue(last, next), SectionIRG, at))
}

// revocationItems lists the affected certificates still to revoke at at.
func (s *Service) revocationItems(ctx context.Context, q store.Querier, inc Incident, at time.Time) ([]Obligation, error) {
	certs, err := s.tab.certs.Select(ctx, q, `WHERE incident_id = ? AND (revoked_at IS NULL OR revoked_at > ?) ORDER BY serial`, inc.ID, store.FormatTime(at))
	if err != nil {
		return nil, err
	}
	var out []Obligation
	for _, c := range certs {
		st, err := s.stateAt(ctx, q, c, at)
		if err != nil {
			return nil, err
		}
		if st == "valid" {
			out = append(out, obligation(ObligationRevocation, c.Serial, inc, inc.RevocationDue, SectionRevocation, at))
		}
	}
	return out, nil
}
