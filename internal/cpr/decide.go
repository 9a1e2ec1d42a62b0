package cpr

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// keyCompromiseTrigger is BR §4.9.1.1 item 3: "The CA obtains evidence that
// the Subscriber's Private Key corresponding to the Public Key in the
// Certificate suffered a Key Compromise" (24 hours, keyCompromise).
const keyCompromiseTrigger = 3

// decideOnReceipt decides a report that proves a key compromised: revoke
// with BR §4.9.1.1 item 3, due 24 hours after receipt; every matched
// stored certificate with a proven key is revoked now and the key blocked.
// Matched issuances still in flight are revoked by Tick once stored. A
// certificate the report names otherwise (its serial, its PEM, a key it
// does not prove) stays matched for compliance to decide: the proof of one
// key is no proof about another. The final report goes, as a staff
// decision's does, to the reporter and the subscribers of what it covers.
func (s *Service) decideOnReceipt(ctx context.Context, tx *store.Tx, c *Case, ch checked, ms []Match) ([]revocation.Revocation, error) {
	t, _ := br.TriggerByNumber(keyCompromiseTrigger)
	due := revocationDueOf(c.ReceivedAt, t)
	now := s.now()
	c.Status, c.Decision, c.Trigger, c.RevocationDue, c.RevokeAt = StatusDecided, DecisionRevoke, t.Ref(), &due, &now
	c.DecisionReason = "the report proves the key compromised (" + proofWords(ch) + ")"
	c.DecidedBy, c.DecidedAt = system.String(), &now
	if err := s.tab.reports.Update(ctx, tx, system, actReportDecided, *c); err != nil {
		return nil, err
	}
	if err := s.event(ctx, tx, system, Event{ReportID: c.ID, Kind: EventDecided, Ref: t.Ref(), Detail: c.DecisionReason}); err != nil {
		return nil, err
	}
	proven := ch.provenKeys()
	for _, spki := range proven {
		if err := s.blockKey(ctx, tx, c.ID, spki); err != nil {
			return nil, err
		}
	}
	revs, err := s.revokeMatches(ctx, tx, c, withKeys(ms, proven))
	if err != nil {
		return nil, err
	}
	return revs, s.sendFinal(ctx, tx, system, *c)
}

// withKeys keeps the matches whose key is one of spkis.
func withKeys(ms []Match, spkis []string) []Match {
	var out []Match
	for _, m := range ms {
		if slices.Contains(spkis, m.SPKISHA256) {
			out = append(out, m)
		}
	}
	return out
}

func proofWords(ch checked) string {
	var w []string
	for _, p := range ch.proofs {
		if !p.proves {
			continue
		}
		if p.by == ByKey {
			w = appendOnce(w, "its private key")
		} else {
			w = appendOnce(w, "a CSR signed by the key")
		}
	}
	return strings.Join(w, " and ")
}

// blockKey puts a key on the blocklist (BR §6.1.1.3(4)), with a timeline
// entry; a key already blocked stays as it is.
func (s *Service) blockKey(ctx context.Context, tx *store.Tx, caseID, spki string) error {
	if err := issuance.BlockKey(ctx, tx, s.rec, system, spki, "keyCompromise reported in problem report "+caseID, "problem-report", s.now()); err != nil {
		return err
	}
	return s.event(ctx, tx, system, Event{ReportID: caseID, Kind: EventKeyBlocked, Ref: spki})
}

// revokeMatches revokes every stored certificate among ms under the case's
// decision (a match that was in flight is revoked once its certificate is
// stored). Certificates already revoked are left alone, except that a
// keyCompromise decision upgrades their entry (BR §7.2.2).
func (s *Service) revokeMatches(ctx context.Context, tx *store.Tx, c *Case, ms []Match) ([]revocation.Revocation, error) {
	t, err := br.ParseTrigger(c.Trigger)
	if err != nil {
		return nil, err
	}
	due := revocationDueOf(c.ReceivedAt, t)
	d := revocation.Decision{Reason: t.Reason, Trigger: &t, Source: revocation.SourceReport, EvidenceAt: c.ReceivedAt, Deadline: &due}
	in := revocation.Input{Evidence: "problem report " + c.ID + ": " + c.DecisionReason}
	var out []revocation.Revocation
	for _, m := range ms {
		cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, tx, m.Serial)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		prior, had, err := s.deps.Revoker.Locked(ctx, tx, cert)
		if err != nil {
			return nil, err
		}
		if had && (t.Reason != br.KeyCompromise || prior.Reason == br.KeyCompromise.String()) {
			continue
		}
		r, err := s.deps.Revoker.RevokeInTx(ctx, tx, system, cert, d, in)
		if err != nil {
			return nil, err
		}
		e := Event{ReportID: c.ID, Kind: EventRevoked, AccountID: cert.AccountID, Ref: m.Serial, Detail: r.Reason + " (" + t.Ref() + ")"}
		if err := s.event(ctx, tx, system, e); err != nil {
			return nil, err
		}
		if err := s.joinSameKey(ctx, tx, c, m.Serial, t, r.SameKey()); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// joinSameKey makes the certificates a keyCompromise revocation revoked in
// the same step for sharing the key (BR §4.9.1.1(3), revocation's
// same-key revocation) part of the case: each is named on its timeline as
// revoked because of cause, matched (so its subscriber is among the
// recipients of the case's reports) and covered by the decision that
// revoked it. The loop of revokeMatches then finds them revoked.
func (s *Service) joinSameKey(ctx context.Context, tx *store.Tx, c *Case, cause string, t br.Trigger, same []revocation.Revocation) error {
	var ms []Match
	var serials []string
	for _, sk := range same {
		other, ok, err := s.deps.Inventory.CertificateBySerial(ctx, tx, sk.Serial)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		e := Event{ReportID: c.ID, Kind: EventRevoked, AccountID: other.AccountID, Ref: sk.Serial,
			Detail: sk.Reason + " (" + t.Ref() + ", same key as " + cause + ")"}
		if err := s.event(ctx, tx, system, e); err != nil {
			return err
		}
		ms = append(ms, Match{Serial: other.Serial, Kind: MatchCertificate, AccountID: other.AccountID, MatchedBy: ByKey, SPKISHA256: other.SPKISHA256})
		serials = append(serials, other.Serial)
	}
	if err := s.insertMatches(ctx, tx, system, c.ID, ms); err != nil {
		return err
	}
	return s.widenScope(ctx, tx, system, c, serials)
}

// DecideInput is the body of POST /problem-reports/{id}/decide.
type DecideInput struct {
	Decision string `json:"decision"` // revoke or no_action
	Trigger  string `json:"trigger"`  // "4.9.1.1#N", for revoke
	Reason   string `json:"reason"`
	// RevokeAt is the date the CA will revoke (BR §4.9.5): at most the
	// revocation deadline; by default at once.
	RevokeAt *time.Time `json:"revokeAt"`
}

// Decide records a decision on an open case. A revoke decision's deadline
// follows its BR §4.9.1.1 trigger from the report's receipt (BR §4.9.5),
// never from the decision. With Config.ConfirmRevocation a revoke waits for
// another compliance user (Confirm). Revocations due now are made at once;
// later ones by Tick, before the deadline.
func (s *Service) Decide(ctx context.Context, by actor.Actor, id string, in DecideInput) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	var revs []revocation.Revocation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.lockUndecided(ctx, tx, id)
		if err != nil {
			return err
		}
		switch Decision(in.Decision) {
		case DecisionNoAction:
			return s.decideNoAction(ctx, tx, by, c, in)
		case DecisionRevoke:
			revs, err = s.decideRevoke(ctx, tx, by, c, in)
			return err
		}
		return apperr.Invalid(apperr.CodeInvalidDecision, "decision", "decision must be %q (with a trigger) or %q (with a reason)", DecisionRevoke, DecisionNoAction)
	})
	if err != nil {
		return View{}, err
	}
	s.deps.Revoker.Published(ctx, revs...)
	return s.Get(ctx, by, id)
}

func (s *Service) decideNoAction(ctx context.Context, tx *store.Tx, by actor.Actor, c Case, in DecideInput) error {
	if strings.TrimSpace(in.Reason) == "" {
		return apperr.Invalid(apperr.CodeMissingField, "reason", "say why no action is taken")
	}
	if in.Trigger != "" || in.RevokeAt != nil {
		return apperr.Invalid(apperr.CodeInvalidDecision, "trigger", "a no_action decision names no trigger or revokeAt")
	}
	now := s.now()
	c.Status, c.Decision, c.DecisionReason, c.DecidedBy, c.DecidedAt = StatusDecided, DecisionNoAction, in.Reason, by.String(), &now
	if err := s.recordScope(ctx, tx, &c); err != nil {
		return err
	}
	if err := s.tab.reports.Update(ctx, tx, by, actReportDecided, c); err != nil {
		return err
	}
	if err := s.event(ctx, tx, by, Event{ReportID: c.ID, Kind: EventDecided, Detail: "no_action: " + in.Reason}); err != nil {
		return err
	}
	return s.sendFinal(ctx, tx, by, c)
}

func (s *Service) decideRevoke(ctx context.Context, tx *store.Tx, by actor.Actor, c Case, in DecideInput) ([]revocation.Revocation, error) {
	if in.Trigger == "" {
		return nil, apperr.Invalid(apperr.CodeMissingField, "trigger", "a revoke decision names its BR §4.9.1.1 trigger (4.9.1.1#N)")
	}
	t, err := br.ParseTrigger(in.Trigger)
	if err != nil {
		return nil, err
	}
	due, now := revocationDueOf(c.ReceivedAt, t), s.now()
	at := now
	if in.RevokeAt != nil {
		at = in.RevokeAt.UTC().Truncate(time.Second)
	}
	if at.After(due) {
		return nil, apperr.Invalid(apperr.CodeInvalidTime, "revokeAt", "revokeAt %s is after the revocation deadline %s (BR §4.9.5: %s from receipt)",
			at.Format(time.RFC3339), due.Format(time.RFC3339), t.Within)
	}
	c.Decision, c.Trigger, c.DecisionReason, c.RevocationDue, c.RevokeAt = DecisionRevoke, t.Ref(), in.Reason, &due, &at
	if err := s.recordScope(ctx, tx, &c); err != nil {
		return nil, err
	}
	if s.cfg.ConfirmRevocation {
		c.Status, c.PendingBy = StatusAwaitingConfirmation, by.ID
		if err := s.tab.reports.Update(ctx, tx, by, actReportDecided, c); err != nil {
			return nil, err
		}
		return nil, s.event(ctx, tx, by, Event{ReportID: c.ID, Kind: EventProposed, Ref: t.Ref(), Detail: "revoke, awaiting confirmation: " + in.Reason})
	}
	return s.confirmRevoke(ctx, tx, by, c)
}

// confirmRevoke makes a revoke decision final, revokes what it covers if
// due now, and sends the final report (after the revocations, so that the
// subscribers of certificates revoked for sharing a key get it too).
func (s *Service) confirmRevoke(ctx context.Context, tx *store.Tx, by actor.Actor, c Case) ([]revocation.Revocation, error) {
	now := s.now()
	c.Status, c.DecidedBy, c.DecidedAt = StatusDecided, by.String(), &now
	if err := s.tab.reports.Update(ctx, tx, by, actReportDecided, c); err != nil {
		return nil, err
	}
	if err := s.event(ctx, tx, by, Event{ReportID: c.ID, Kind: EventDecided, Ref: c.Trigger, Detail: "revoke: " + c.DecisionReason}); err != nil {
		return nil, err
	}
	var revs []revocation.Revocation
	if !c.RevokeAt.After(now) {
		ms, err := s.coveredMatches(ctx, tx, c)
		if err != nil {
			return nil, err
		}
		if revs, err = s.revokeMatches(ctx, tx, &c, ms); err != nil {
			return nil, err
		}
	}
	return revs, s.sendFinal(ctx, tx, by, c)
}

// Confirm makes a revoke decision awaiting confirmation final. The
// confirming compliance user must not be the one who proposed it.
func (s *Service) Confirm(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	var revs []revocation.Revocation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.lockOpen(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.Status != StatusAwaitingConfirmation {
			return apperr.Conflict(apperr.CodeNotAwaitingConfirmation, apperr.NoField, "problem report %s has no decision awaiting confirmation", id)
		}
		if c.PendingBy == by.ID {
			return apperr.Forbidden(apperr.CodeSelfConfirmation, apperr.NoField, "you proposed this decision; another compliance user must confirm it")
		}
		c.PendingBy = ""
		revs, err = s.confirmRevoke(ctx, tx, by, c)
		return err
	})
	if err != nil {
		return View{}, err
	}
	s.deps.Revoker.Published(ctx, revs...)
	return s.Get(ctx, by, id)
}

// lockUndecided locks a case that awaits its decision: an open case not
// decided yet, or a merged duplicate never decided. A duplicate keeps its
// own clocks, and its decision covers its own matches, which the case it
// was merged into may not have decided (docs/design.md §12).
func (s *Service) lockUndecided(ctx context.Context, tx *store.Tx, id string) (Case, error) {
	var c Case
	if err := s.tab.reports.Lock(ctx, tx, id, &c); err != nil {
		return Case{}, err
	}
	switch {
	case c.Status == StatusClosed:
		return Case{}, apperr.Conflict(apperr.CodeCaseClosed, apperr.NoField, "problem report %s is %s", id, c.Status)
	case c.AwaitsDecision():
		return c, nil
	}
	return Case{}, apperr.Conflict(apperr.CodeAlreadyDecided, apperr.NoField, "problem report %s is already %s", id, c.Status)
}

// lockOpen locks a case that is neither closed nor merged.
func (s *Service) lockOpen(ctx context.Context, tx *store.Tx, id string) (Case, error) {
	var c Case
	if err := s.tab.reports.Lock(ctx, tx, id, &c); err != nil {
		return Case{}, err
	}
	if c.Status == StatusClosed || c.Status == StatusMerged {
		return Case{}, apperr.Conflict(apperr.CodeCaseClosed, apperr.NoField, "problem report %s is %s", id, c.Status)
	}
	return c, nil
}
