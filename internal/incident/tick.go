package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// TickResult is what one pass of the incident deadline watch did.
type TickResult struct {
	Obligations []Obligation
	Breaches    int // revocation breaches recorded this pass
	Opened      int // delayed-revocation incidents opened this pass
}

// Tick is one pass of the incident deadline watch (serve runs it under the
// lease incident-deadlines): for every incident, open or closed, whose revocation
// deadline has passed and that had affected certificates still valid at
// it (unrevoked, or revoked only later, even while no serve ran), it
// records the breach and opens a separate delayed-revocation incident
// (IRG v3.2), once: both have ids derived from the incident, written in
// one transaction holding the incident's row lock.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	now := s.now()
	obs, err := s.Obligations(ctx, now)
	if err != nil {
		return res, err
	}
	res.Obligations = obs
	// A closed incident is read too while a certificate of its set may
	// have been valid at its deadline: closing it moves no obligation. A
	// deadline is judged once commitWindow has passed after it.
	incs, err := s.tab.incidents.Select(ctx, s.db, `WHERE kind = ? AND revocation_due <= ? AND (status = ? OR `+unmetAtDeadline+`) ORDER BY created_at, id`,
		KindIncident, store.FormatTime(now.Add(-commitWindow)), StatusOpen)
	if err != nil {
		return res, err
	}
	for _, inc := range incs {
		did, err := s.checkDeadline(ctx, inc)
		if err != nil {
			return res, err
		}
		res.Breaches += did
		res.Opened += did
	}
	return res, nil
}

// commitWindow is how long after an incident's revocation deadline the
// watch waits before judging it (revocation.CommitWindow): a revocation
// recorded a moment before the deadline, in a bulk revocation's batch
// still running on another replica, would otherwise be counted as late, a
// breach on the record for a certificate revoked in time. The breach, when
// there is one, is recorded against the deadline itself, not the time it
// was found.
const commitWindow = revocation.CommitWindow

// unmetAtDeadline selects (as t) an incident with an affected certificate
// neither revoked through it nor expired at its revocation deadline.
const unmetAtDeadline = `EXISTS (SELECT 1 FROM incident_certificates c WHERE c.incident_id = t.id AND (c.revoked_at IS NULL OR c.revoked_at > t.revocation_due) AND c.not_after > t.revocation_due)`

// checkDeadline opens the delayed-revocation incident of inc if a
// certificate of its set was still valid at its revocation deadline.
func (s *Service) checkDeadline(ctx context.Context, inc Incident) (int, error) {
	if _, ok, err := s.tab.incidents.First(ctx, s.db, `WHERE id = ?`, DelayedID(inc.ID)); err != nil || ok {
		return 0, err
	}
	late, err := s.revocationItems(ctx, s.db, inc, inc.RevocationDue)
	if err != nil || len(late) == 0 {
		return 0, err
	}
	serials := make([]string, len(late))
	for i, o := range late {
		serials[i] = o.Ref
	}
	return s.openDelayed(ctx, inc.ID, serials)
}

// DelayedID is the id of the delayed-revocation incident of incident id.
func DelayedID(id string) string { return id + "_delay" }

// openDelayed records the breach of an incident's revocation deadline and
// opens its delayed-revocation incident, unless done already.
func (s *Service) openDelayed(ctx context.Context, id string, serials []string) (int, error) {
	did := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var parent Incident
		if err := s.tab.incidents.Lock(ctx, tx, id, &parent); err != nil {
			return err
		}
		if _, ok, err := s.tab.incidents.First(ctx, tx, `WHERE id = ?`, DelayedID(id)); err != nil || ok {
			return err
		}
		inc := delayedOf(parent, len(serials), s.now())
		if err := s.tab.incidents.Insert(ctx, tx, system, actIncidentOpened, inc); err != nil {
			return err
		}
		if err := s.copyCertificates(ctx, tx, parent.ID, inc.ID, serials); err != nil {
			return err
		}
		detail := fmt.Sprintf("%d certificate(s) not revoked by %s (%s)", len(serials), parent.RevocationDue.Format(time.RFC3339), parent.Trigger)
		for _, e := range []Event{
			{ID: "ine_" + id + "_breach", IncidentID: id, Kind: EventBreach, Ref: ObligationRevocation, Detail: detail},
			{ID: "ine_" + id + "_delayed", IncidentID: id, Kind: EventDelayedOpened, Ref: inc.ID},
			{IncidentID: inc.ID, Kind: EventOpened, Ref: id, Detail: inc.Title},
		} {
			if err := s.event(ctx, tx, system, e); err != nil {
				return err
			}
		}
		did = 1
		return nil
	})
	return did, err
}

// delayedOf is the delayed-revocation incident of parent: aware when the
// parent's revocation deadline passed, its report clocks running from then.
func delayedOf(parent Incident, n int, now time.Time) Incident {
	ca, _, _ := strings.Cut(parent.Title, ": ")
	aware := parent.RevocationDue
	title := fmt.Sprintf("%s: Delayed revocation of %d certificate(s) of incident %s", ca, n, parent.ID)
	if len([]rune(title)) > MaxTitle {
		title = string([]rune(title)[:MaxTitle])
	}
	return Incident{ID: DelayedID(parent.ID), Title: title, Kind: KindDelayedRevocation, Source: SourceSelf, Trigger: parent.Trigger,
		AwareAt: aware, RevocationDue: parent.RevocationDue, InitialReportDue: br.IncidentInitialReportDue(aware), Status: StatusOpen,
		ProblemReportID: parent.ProblemReportID, ParentID: parent.ID, Query: parent.Query, Affected: n, CreatedBy: system.String(), CreatedAt: now}
}

// copyCertificates freezes the late certificates again as the delayed
// incident's set.
func (s *Service) copyCertificates(ctx context.Context, tx *store.Tx, from, to string, serials []string) error {
	for _, sn := range serials {
		row, ok, err := s.tab.certs.First(ctx, tx, `WHERE incident_id = ? AND serial = ?`, from, sn)
		if err != nil || !ok {
			return err
		}
		row.ID, row.IncidentID, row.StateAtFreeze = ids.New("inc_crt"), to, "valid"
		if err := s.tab.certs.Insert(ctx, tx, system, actCertificateFrozen, row); err != nil {
			return err
		}
	}
	return nil
}
