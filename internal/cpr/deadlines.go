package cpr

import (
	"context"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// Kinds of obligation.
const (
	ObligationPreliminaryReport = "preliminary_report"
	ObligationRevocation        = "revocation"
)

// Sections the obligations cite.
const (
	SectionPreliminaryReport = "BR §4.9.5"
	SectionRevocation        = "BR §4.9.1.1"
)

// Obligation is one open deadline: a preliminary report of a case (Ref is
// the case id) or the revocation of one certificate (Ref is its serial).
type Obligation struct {
	Kind     string    `json:"kind"`
	Ref      string    `json:"ref"`
	Due      time.Time `json:"due"`
	Section  string    `json:"section"`
	Breached bool      `json:"breached"`
	CaseID   string    `json:"case"`
	// late marks an obligation met after its due time (a revocation
	// recorded past its deadline): not open, but a breach all the same.
	late bool
}

// Obligations lists every obligation not met as of at, of the cases
// received by at: a preliminary report not yet sent, by at, to the
// reporter and every matched subscriber (BR §4.9.5), or whose every
// delivery to one of them failed, and every certificate a decision taken
// by at covers and decided to revoke that was not revoked by at (BR
// §4.9.1.1, counted from receipt). Breached means its due time is not
// after at. Closed and merged cases keep their obligations: nothing but
// meeting one removes it. Evaluated at a past time, what was met only
// later is listed as it stood then.
func (s *Service) Obligations(ctx context.Context, at time.Time) ([]Obligation, error) {
	all, err := s.obligations(ctx, at)
	if err != nil {
		return nil, err
	}
	out := []Obligation{}
	for _, o := range all {
		if !o.late {
			out = append(out, o)
		}
	}
	return out, nil
}

// obligations is Obligations with the revocations met late added.
func (s *Service) obligations(ctx context.Context, at time.Time) ([]Obligation, error) {
	cases, err := s.tab.reports.Select(ctx, s.db, `WHERE received_at <= ? AND (preliminary_report_at IS NULL OR preliminary_report_at > ? OR decision = ?
		OR id NOT IN (SELECT report_id FROM problem_report_events WHERE kind = ?)) ORDER BY received_at, id`,
		store.FormatTime(at), store.FormatTime(at), DecisionRevoke, EventPrelimDelivered)
	if err != nil {
		return nil, err
	}
	out := []Obligation{}
	for _, c := range cases {
		met, err := s.preliminaryMetAt(ctx, s.db, c, at)
		if err != nil {
			return nil, err
		}
		if met == nil {
			out = append(out, Obligation{Kind: ObligationPreliminaryReport, Ref: c.ID, CaseID: c.ID, Due: c.PreliminaryReportDue,
				Section: SectionPreliminaryReport, Breached: !c.PreliminaryReportDue.After(at)})
		}
		items, err := s.revocationItems(ctx, s.db, c, at)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// revocationItems lists the certificates a revoke decision taken by at
// still has to revoke (issuances in flight included: their serial will be
// a certificate): those it covers.
func (s *Service) revocationItems(ctx context.Context, q store.Querier, c Case, at time.Time) ([]Obligation, error) {
	if c.Decision != DecisionRevoke || c.RevocationDue == nil {
		return nil, nil
	}
	decided, err := s.decisionTime(ctx, q, c)
	if err != nil || decided.IsZero() || decided.After(at) {
		return nil, err
	}
	ms, err := s.coveredMatches(ctx, q, c)
	if err != nil {
		return nil, err
	}
	var out []Obligation
	for _, m := range ms {
		open, late, err := s.unrevoked(ctx, q, m.Serial, at, *c.RevocationDue)
		if err != nil {
			return nil, err
		}
		if open || late {
			out = append(out, Obligation{Kind: ObligationRevocation, Ref: m.Serial, CaseID: c.ID, Due: *c.RevocationDue,
				Section: SectionRevocation, Breached: late || !c.RevocationDue.After(at), late: !open})
		}
	}
	return out, nil
}

// decisionTime is when the decision of c was taken: its first decision
// event, a revoke proposal awaiting confirmation included.
func (s *Service) decisionTime(ctx context.Context, q store.Querier, c Case) (time.Time, error) {
	evs, err := s.tab.events.Select(ctx, q, `WHERE report_id = ? AND kind IN (?, ?) ORDER BY at LIMIT 1`, c.ID, EventDecided, EventProposed)
	if err != nil {
		return time.Time{}, err
	}
	if len(evs) > 0 {
		return evs[0].At, nil
	}
	if c.DecidedAt != nil {
		return *c.DecidedAt, nil
	}
	return time.Time{}, nil
}

// unrevoked reports whether a serial still had to be revoked at at: it was
// not revoked by then (an abandoned issuance is revoked) and its
// certificate, if stored, had not expired. late reports a revocation
// recorded after its due time, by at.
func (s *Service) unrevoked(ctx context.Context, q store.Querier, serial string, at, due time.Time) (open, late bool, err error) {
	r, revoked, err := s.deps.Revoker.Get(ctx, q, serial)
	if err != nil {
		return false, false, err
	}
	if revoked && !r.RecordedAt.After(at) {
		return false, r.RecordedAt.After(due), nil
	}
	cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, q, serial)
	if err != nil {
		return false, false, err
	}
	return !ok || cert.NotAfter.After(at), false, nil
}

// TickResult is what one pass of the deadline watch did.
type TickResult struct {
	Obligations []Obligation
	Revoked     int // certificates revoked by scheduled decisions
	Alarms      int // alarms raised this pass
	Breaches    int // breaches recorded this pass
}

// Tick is one pass of the deadline watch (serve runs it under the lease
// cpr-deadlines): it carries out the revocations decided cases scheduled
// (and revokes certificates stored since on a compromised key), at their
// revokeAt and at the latest AlarmLead before their deadline, even if
// nobody acts; it raises one alarm to compliance per obligation AlarmLead
// before its due time; and it records one breach per obligation whose due
// time passed unmet. Alarms and breaches are recorded once whatever the
// number of passes or replicas.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	n, err := s.carryOut(ctx)
	if err != nil {
		return res, err
	}
	res.Revoked = n
	if err := s.settleDeliveries(ctx); err != nil {
		return res, err
	}
	now := s.now()
	obs, err := s.obligations(ctx, now)
	if err != nil {
		return res, err
	}
	for _, o := range obs {
		if !o.late && !now.Before(o.Due.Add(-s.cfg.AlarmLead)) {
			did, err := s.recordOnce(ctx, o, EventAlarm)
			if err != nil {
				return res, err
			}
			res.Alarms += did
		}
		if o.Breached && judged(o, now) {
			did, err := s.recordOnce(ctx, o, EventBreach)
			if err != nil {
				return res, err
			}
			res.Breaches += did
		}
	}
	for _, o := range obs {
		if !o.late {
			res.Obligations = append(res.Obligations, o)
		}
	}
	return res, nil
}

// judged reports whether an obligation's breach may be recorded at now. A
// revocation deadline is judged once revocation.CommitWindow has passed
// after it: a revocation recorded before it by another path (an incident's
// batch, the API, on another replica) may not have committed yet, and the
// case's lock does not order those. A report is judged once the second of
// its due time has passed: one sent in that second is in time (times are
// kept to the second), and a breach recorded then would stand on the
// record of a case that met BR §4.9.5.
func judged(o Obligation, now time.Time) bool {
	if o.Kind == ObligationRevocation {
		return !now.Before(o.Due.Add(revocation.CommitWindow))
	}
	return now.Truncate(time.Second).After(o.Due)
}

// eventIDFor derives the id of an obligation's alarm or breach, so the
// primary key holds even two writers that raced past the check to one.
func eventIDFor(kind EventKind, o Obligation) string {
	return fmt.Sprintf("cpe_%s_%s_%s_%s", kind, o.CaseID, o.Kind, o.Ref)
}

// obligationEvent is the alarm or breach event of an obligation, with its
// derived id; met, when set, says when a late obligation was met.
func obligationEvent(kind EventKind, o Obligation, met string) Event {
	detail := fmt.Sprintf("%s %s due %s (%s)", o.Kind, o.Ref, o.Due.Format(time.RFC3339), o.Section)
	if met != "" {
		detail += ", met " + met
	}
	return Event{ID: eventIDFor(kind, o), ReportID: o.CaseID, Kind: kind, Ref: o.Kind + ":" + o.Ref, Detail: detail}
}

// recordOnce records an alarm (with mail to compliance) or a breach of an
// obligation unless it is recorded already; it returns 1 when it did.
func (s *Service) recordOnce(ctx context.Context, o Obligation, kind EventKind) (int, error) {
	id := eventIDFor(kind, o)
	did := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Case
		if err := s.tab.reports.Lock(ctx, tx, o.CaseID, &c); err != nil {
			return err
		}
		if _, found, err := s.tab.events.First(ctx, tx, `WHERE id = ?`, id); err != nil || found {
			return err
		}
		if stands, err := s.stillStands(ctx, tx, c, o, kind); err != nil || !stands {
			return err
		}
		if err := s.event(ctx, tx, system, obligationEvent(kind, o, "")); err != nil {
			return err
		}
		did = 1
		if kind != EventAlarm || s.cfg.ComplianceEmail == "" {
			return nil
		}
		_, err := s.deps.Outbox.Enqueue(ctx, tx, system, notify.Message{To: s.cfg.ComplianceEmail, Kind: "cpr_deadline_alarm", RecipientRole: "compliance",
			Subject: fmt.Sprintf("[vetca] problem report %s: %s due %s", o.CaseID, o.Kind, o.Due.Format(time.RFC3339)),
			Body:    fmt.Sprintf("The %s obligation %s of problem report %s is due %s (%s) and is not met.\n", o.Kind, o.Ref, o.CaseID, o.Due.Format(time.RFC3339), o.Section),
			RefType: "problem_report", RefID: o.CaseID})
		return err
	})
	return did, err
}

// stillStands re-checks, holding the case's row lock, that an obligation
// read before the lock is still unmet (for an alarm) or was missed (for a
// breach): a report sent or a certificate revoked in the meantime raises
// no false alarm.
func (s *Service) stillStands(ctx context.Context, tx *store.Tx, c Case, o Obligation, kind EventKind) (bool, error) {
	now := s.now()
	switch o.Kind {
	case ObligationPreliminaryReport:
		met, err := s.preliminaryMetAt(ctx, tx, c, now)
		if err != nil {
			return false, err
		}
		if met == nil {
			return true, nil
		}
		return kind == EventBreach && met.After(o.Due), nil
	case ObligationRevocation:
		open, late, err := s.unrevoked(ctx, tx, o.Ref, now, o.Due)
		return open || (kind == EventBreach && late), err
	}
	return false, nil
}

// carryOut revokes, for every case decided to revoke whose revocation is
// due (its revokeAt, or AlarmLead before its deadline), what its decision
// covers and is still unrevoked, matching again by the compromised keys so
// that a certificate stored since from an issuance in flight is caught.
func (s *Service) carryOut(ctx context.Context) (int, error) {
	cases, err := s.tab.reports.Select(ctx, s.db, `WHERE decision = ? AND status <> ? ORDER BY received_at, id`, DecisionRevoke, StatusAwaitingConfirmation)
	if err != nil {
		return 0, err
	}
	now, n := s.now(), 0
	for _, c := range cases {
		if c.RevocationDue == nil || c.RevokeAt == nil || (now.Before(*c.RevokeAt) && now.Before(c.RevocationDue.Add(-s.cfg.AlarmLead))) {
			continue
		}
		revs, err := s.carryOutCase(ctx, c.ID)
		if err != nil {
			return n, err
		}
		s.deps.Revoker.Published(ctx, revs...)
		n += len(revs)
	}
	return n, nil
}

func (s *Service) carryOutCase(ctx context.Context, id string) ([]revocation.Revocation, error) {
	var revs []revocation.Revocation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Case
		if err := s.tab.reports.Lock(ctx, tx, id, &c); err != nil {
			return err
		}
		m := &matcher{s: s, q: tx, seen: map[string]bool{}}
		for _, spki := range recordOf(c).CompromisedKeys {
			if err := m.byKey(ctx, spki, ByKey); err != nil {
				return err
			}
		}
		if err := s.insertMatches(ctx, tx, system, id, m.out); err != nil {
			return err
		}
		ms, err := s.coveredMatches(ctx, tx, c)
		if err != nil {
			return err
		}
		if revs, err = s.revokeMatches(ctx, tx, &c, ms); err != nil || len(revs) == 0 {
			return err
		}
		// Certificates revoked for sharing the key joined the case: their
		// subscribers get the final report too.
		return s.sendFinal(ctx, tx, system, c)
	})
	return revs, err
}
