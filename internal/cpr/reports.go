package cpr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
)

// Kinds of report a case sends.
const (
	reportPreliminary = "preliminary"
	reportFinal       = "final"
)

// Who a preliminary report goes to (PreliminaryInput.To).
const (
	ToAll         = "all"
	ToReporter    = "reporter"
	ToSubscribers = "subscribers"
)

// PreliminaryInput is the body of POST /problem-reports/{id}/preliminary-report.
type PreliminaryInput struct {
	Findings string `json:"findings"`
	// To is all (default), reporter or subscribers. The BR §4.9.5
	// obligation is met only once the reporter and every matched
	// subscriber have been sent one.
	To string `json:"to"`
}

// ReportSent is one report mailed about a case, and where its delivery
// stands in the outbox.
type ReportSent struct {
	To        string    `json:"to"`
	Role      string    `json:"role"`
	At        time.Time `json:"at"`
	Report    string    `json:"report"`
	AccountID string    `json:"accountId,omitempty"`
	// Delivery is pending, sent or failed (permanently: the recipient's
	// server refused it, or every attempt failed); empty for a report
	// recorded before deliveries were linked to the case.
	Delivery string `json:"delivery,omitempty"`
	// Error is the last delivery error of a failed report.
	Error string `json:"deliveryError,omitempty"`
}

// SendPreliminaryReport mails the preliminary report on a case's findings
// (BR §4.9.5) through the outbox to the reporter and to the contacts of
// every account a match belongs to, each recorded on the case. The case
// notes when the obligation is met: the reporter and every matched
// subscriber got one (a report matching nothing needs only the reporter).
func (s *Service) SendPreliminaryReport(ctx context.Context, by actor.Actor, id string, in PreliminaryInput) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(in.Findings) == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "findings", "the preliminary report states the findings so far")
	}
	switch in.To {
	case "", ToAll, ToReporter, ToSubscribers:
	default:
		return View{}, apperr.Invalid(apperr.CodeInvalidValue, "to", "to must be all, reporter or subscribers")
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Case
		if err := s.tab.reports.Lock(ctx, tx, id, &c); err != nil {
			return err
		}
		if err := s.sendTo(ctx, tx, by, c, reportPreliminary, in.Findings, in.To); err != nil {
			return err
		}
		return s.notePreliminaryMet(ctx, tx, by, c)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// sendReports mails a report to the reporter and every matched subscriber.
func (s *Service) sendReports(ctx context.Context, tx *store.Tx, by actor.Actor, c Case, kind, text string) error {
	return s.sendTo(ctx, tx, by, c, kind, text, ToAll)
}

type recipient struct {
	email, role, accountID string
	serials                []string // a subscriber's: its certificates the report is about
}

func (s *Service) recipients(ctx context.Context, q store.Querier, c Case, to string) ([]recipient, error) {
	var out []recipient
	if to != ToSubscribers {
		out = append(out, recipient{email: c.ReporterEmail, role: RoleReporter})
	}
	if to == ToReporter {
		return out, nil
	}
	ms, err := s.tab.matches.Select(ctx, q, `WHERE report_id = ? ORDER BY created_at, id`, c.ID)
	if err != nil {
		return nil, err
	}
	subs, err := s.subscribers(ctx, q, ms, nil)
	if err != nil {
		return nil, err
	}
	return append(out, subs...), nil
}

// subscribers are the contacts of every account with a match in ms, but
// those in skip, each told the serials of its own matches.
func (s *Service) subscribers(ctx context.Context, q store.Querier, ms []Match, skip map[string]bool) ([]recipient, error) {
	var accounts []string
	serials := map[string][]string{}
	for _, m := range ms {
		if m.AccountID == "" || skip[m.AccountID] {
			continue
		}
		accounts = appendOnce(accounts, m.AccountID)
		serials[m.AccountID] = appendOnce(serials[m.AccountID], m.Serial)
	}
	var out []recipient
	for _, acc := range accounts {
		cs, err := s.deps.Contacts.ContactsForAccount(ctx, q, acc)
		if err != nil {
			return nil, err
		}
		for _, ct := range cs {
			out = append(out, recipient{email: ct.Email, role: RoleSubscriber, accountID: acc, serials: serials[acc]})
		}
	}
	return out, nil
}

func (s *Service) matchedAccounts(ctx context.Context, q store.Querier, caseID string) ([]string, error) {
	ms, err := s.tab.matches.Select(ctx, q, `WHERE report_id = ? ORDER BY created_at, id`, caseID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.AccountID != "" {
			out = appendOnce(out, m.AccountID)
		}
	}
	return out, nil
}

func (s *Service) sendTo(ctx context.Context, tx *store.Tx, by actor.Actor, c Case, kind, text, to string) error {
	rs, err := s.recipients(ctx, tx, c, to)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, tx, by, c, kind, text, rs)
}

// enqueue mails a report to each recipient through the outbox and records
// each on the case, naming the outbox message (its delivery is read back
// from there).
func (s *Service) enqueue(ctx context.Context, tx *store.Tx, by actor.Actor, c Case, kind, text string, rs []recipient) error {
	for _, r := range rs {
		msg, err := s.deps.Outbox.Enqueue(ctx, tx, by, notify.Message{
			To: r.email, Subject: fmt.Sprintf("[vetca] %s report on certificate problem report %s", kind, c.ID),
			Body: reportBody(c, kind, text, r), Kind: "cpr_" + kind + "_report", RecipientRole: r.role,
			RefType: refType, RefID: c.ID,
		})
		if err != nil {
			return err
		}
		e := Event{ReportID: c.ID, Kind: EventReportSent, Recipient: r.email, Role: r.role, AccountID: r.accountID, Ref: kind, Detail: messagePrefix + msg.ID}
		if err := s.event(ctx, tx, by, e); err != nil {
			return err
		}
	}
	return nil
}

// sendFinal mails the final report of the case's decision to the reporter
// and to the contacts of every account with a match the decision covers,
// each party once: a party already sent one is skipped, so a later step (a
// scheduled revocation that also revoked certificates sharing the key)
// mails only the parties it added.
func (s *Service) sendFinal(ctx context.Context, tx *store.Tx, by actor.Actor, c Case) error {
	sent, err := s.tab.events.Select(ctx, tx, `WHERE report_id = ? AND kind = ? AND ref = ?`, c.ID, EventReportSent, reportFinal)
	if err != nil {
		return err
	}
	had := map[string]bool{}
	for _, e := range sent {
		had[partyOf(e)] = true
	}
	var rs []recipient
	if !had[""] {
		rs = append(rs, recipient{email: c.ReporterEmail, role: RoleReporter})
	}
	ms, err := s.coveredMatches(ctx, tx, c)
	if err != nil {
		return err
	}
	subs, err := s.subscribers(ctx, tx, ms, had)
	if err != nil {
		return err
	}
	rs = append(rs, subs...)
	return s.enqueue(ctx, tx, by, c, reportFinal, finalText(c), rs)
}

func reportBody(c Case, kind, text string, r recipient) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This is the %s report on the certificate problem report %s, received %s.\n\n", kind, c.ID, c.ReceivedAt.Format(time.RFC3339))
	if r.role == RoleSubscriber {
		fmt.Fprintf(&b, "You receive it as the subscriber of the certificates of your account the report concerns (serial numbers, hexadecimal):\n  %s\n\n",
			strings.Join(r.serials, "\n  "))
	} else {
		b.WriteString("You receive it because you filed the report.\n\n")
	}
	b.WriteString(text + "\n")
	if c.RevocationDue != nil && c.Decision == DecisionRevoke {
		fmt.Fprintf(&b, "\nThe certificates concerned will be revoked by %s.\n", c.RevocationDue.Format(time.RFC3339))
	}
	return b.String()
}

func finalText(c Case) string {
	switch c.Decision {
	case DecisionRevoke:
		return "Decision: the certificates concerned are revoked (" + c.Trigger + "). " + c.DecisionReason
	case DecisionNoAction:
		return "Decision: no action. " + c.DecisionReason
	}
	return "The case is closed. " + c.CloseReason
}

// notePreliminaryMet records, once, when the preliminary report obligation
// was met, and a breach when it was met late: first sent after its due
// time, or sent again after its due time to a party all of whose earlier
// deliveries failed.
func (s *Service) notePreliminaryMet(ctx context.Context, tx *store.Tx, by actor.Actor, c Case) error {
	if c.PreliminaryReportAt == nil {
		ok, err := s.preliminaryComplete(ctx, tx, c.ID)
		if err != nil || !ok {
			return err
		}
		now := s.now()
		c.PreliminaryReportAt = &now
		if c.Status == StatusReceived || c.Status == StatusInvestigating {
			c.Status = StatusPreliminarySent
		}
		if err := s.tab.reports.Update(ctx, tx, by, actReportPrelimMet, c); err != nil {
			return err
		}
		if err := s.event(ctx, tx, by, Event{ReportID: c.ID, Kind: EventPrelimMet, Detail: "the reporter and every matched subscriber have been sent a preliminary report"}); err != nil {
			return err
		}
	}
	met, err := s.preliminaryMetAt(ctx, tx, c, s.now())
	if err != nil || met == nil || !met.After(c.PreliminaryReportDue) {
		return err
	}
	// Met late: the breach stands whether or not the watch saw it open.
	o := Obligation{Kind: ObligationPreliminaryReport, Ref: c.ID, CaseID: c.ID, Due: c.PreliminaryReportDue, Section: SectionPreliminaryReport, Breached: true}
	e := obligationEvent(EventBreach, o, met.Format(time.RFC3339))
	if _, found, err := s.tab.events.First(ctx, tx, `WHERE id = ?`, e.ID); err != nil || found {
		return err
	}
	return s.event(ctx, tx, system, e)
}

// preliminaryComplete reports whether the reporter and every account a
// match belongs to were sent a preliminary report whose delivery has not
// failed.
func (s *Service) preliminaryComplete(ctx context.Context, q store.Querier, caseID string) (bool, error) {
	sends, err := s.preliminarySends(ctx, q, caseID, s.now())
	if err != nil {
		return false, err
	}
	accounts, err := s.matchedAccounts(ctx, q, caseID)
	if err != nil {
		return false, err
	}
	ok := !sends[""].IsZero()
	for _, a := range accounts {
		ok = ok && !sends[a].IsZero()
	}
	return ok, nil
}
