package cpr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/store"
)

// MatchView is a match with whether its serial is revoked now, and
// whether it still awaits a decision: no decision covers it, neither the
// case's own nor that of the case it was merged into or of a duplicate
// merged into it (docs/design.md §12).
type MatchView struct {
	Match
	Revoked          bool `json:"revoked"`
	AwaitingDecision bool `json:"awaitingDecision"`
}

// EvidenceView is the evidence a case keeps: certificates and CSRs as
// sent, the SPKI SHA-256 of keys proven compromised (never the key), and
// of keys named by a CSR that proves nothing by itself.
type EvidenceView struct {
	Certificates    []string `json:"certificates"`
	CSRs            []string `json:"csrs"`
	CompromisedKeys []string `json:"compromisedKeys"`
	ReportedKeys    []string `json:"reportedKeys"`
	Serials         []string `json:"serials"`
	// MailText is a mailed report's whole text when its description had
	// to be cut.
	MailText string `json:"mailText,omitempty"`
}

// View is a case as compliance sees it (GET /problem-reports/{id}).
type View struct {
	Case
	MatchedCertificates       []string     `json:"matchedCertificates"`
	Matches                   []MatchView  `json:"matches"`
	ReportsSent               []ReportSent `json:"reportsSent"`
	PreliminaryReportComplete bool         `json:"preliminaryReportComplete"`
	// UnreachableAccounts are the matched accounts with no contact: no
	// report can be mailed to their subscriber, so BR §4.9.5 is not met
	// until one is added and the report sent again.
	UnreachableAccounts []string     `json:"unreachableAccounts"`
	Breaches            []Event      `json:"breaches"`
	Notes               []Event      `json:"notes"`
	Evidence            EvidenceView `json:"evidence"`
}

// Get returns a case with its matches, reports sent, breaches and notes.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	var c Case
	if err := s.tab.reports.Get(ctx, s.db, id, &c); err != nil {
		return View{}, err
	}
	v := View{Case: c, MatchedCertificates: []string{}, Matches: []MatchView{}, ReportsSent: []ReportSent{}, Breaches: []Event{}, Notes: []Event{}}
	if err := s.viewMatches(ctx, &v); err != nil {
		return View{}, err
	}
	evs, err := s.events(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	box, err := s.outboxOf(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	for _, e := range evs {
		switch e.Kind {
		case EventReportSent:
			st, lastErr := delivery(e, box)
			v.ReportsSent = append(v.ReportsSent, ReportSent{To: e.Recipient, Role: e.Role, At: e.At, Report: e.Ref, AccountID: e.AccountID,
				Delivery: string(st), Error: lastErr})
		case EventBreach:
			v.Breaches = append(v.Breaches, e)
		case EventNote:
			v.Notes = append(v.Notes, e)
		}
	}
	met, err := s.preliminaryMetAt(ctx, s.db, c, s.now())
	if err != nil {
		return View{}, err
	}
	v.PreliminaryReportComplete = met != nil
	if v.UnreachableAccounts, err = s.unreachable(ctx, v.Matches); err != nil {
		return View{}, err
	}
	rec := recordOf(c)
	v.Evidence = EvidenceView{Certificates: nonNil(rec.Certificates), CSRs: nonNil(rec.CSRs), CompromisedKeys: nonNil(rec.CompromisedKeys), ReportedKeys: nonNil(rec.ReportedKeys),
		Serials: nonNil(rec.Serials), MailText: rec.MailText}
	return v, nil
}

// unreachable returns the accounts of ms that have no contact to mail.
func (s *Service) unreachable(ctx context.Context, ms []MatchView) ([]string, error) {
	var accounts []string
	for _, m := range ms {
		if m.AccountID != "" {
			accounts = appendOnce(accounts, m.AccountID)
		}
	}
	out := []string{}
	for _, acc := range accounts {
		cs, err := s.deps.Contacts.ContactsForAccount(ctx, s.db, acc)
		if err != nil {
			return nil, fmt.Errorf("reading the contacts of account %s: %w", acc, err)
		}
		if len(cs) == 0 {
			out = append(out, acc)
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Service) viewMatches(ctx context.Context, v *View) error {
	ms, err := s.tab.matches.Select(ctx, s.db, `WHERE report_id = ? ORDER BY created_at, serial`, v.ID)
	if err != nil {
		return err
	}
	decided, err := s.decidedSerials(ctx, s.db, v.Case)
	if err != nil {
		return err
	}
	for _, m := range ms {
		_, revoked, err := s.deps.Revoker.Get(ctx, s.db, m.Serial)
		if err != nil {
			return err
		}
		v.MatchedCertificates = append(v.MatchedCertificates, m.Serial)
		v.Matches = append(v.Matches, MatchView{Match: m, Revoked: revoked, AwaitingDecision: !decided[m.Serial]})
	}
	return nil
}

// kindOrder orders events of the same second as they happen.
var kindOrder = map[EventKind]int{EventReceived: 0, EventMatched: 1, EventDecided: 2, EventKeyBlocked: 3, EventRevoked: 4}

// events returns a case's timeline in time order.
func (s *Service) events(ctx context.Context, q store.Querier, id string) ([]Event, error) {
	evs, err := s.tab.events.Select(ctx, q, `WHERE report_id = ? ORDER BY at, `+s.tab.events.InsertOrder()+`, id`, id)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].At.Equal(evs[j].At) {
			return evs[i].At.Before(evs[j].At)
		}
		oi, iok := kindOrder[evs[i].Kind]
		oj, jok := kindOrder[evs[j].Kind]
		if !iok {
			oi = 10
		}
		if !jok {
			oj = 10
		}
		return oi < oj
	})
	return evs, nil
}

// Timeline exports a case's events (received, matched, reports sent,
// decisions, revocations, alarms, breaches, notes) with their times, for
// incident reports. The CLI (vetca incident report), run with the
// installation's keys, may read it too.
func (s *Service) Timeline(ctx context.Context, by actor.Actor, id string) ([]Event, error) {
	if by.Kind != actor.CLI {
		if err := by.Require(append(deskRoles, actor.Auditor)...); err != nil {
			return nil, err
		}
	}
	if err := s.tab.reports.Check(ctx, s.db, id); err != nil {
		return nil, err
	}
	evs, err := s.events(ctx, s.db, id)
	if evs == nil && err == nil {
		evs = []Event{}
	}
	return evs, err
}

// Filter selects cases for List.
type Filter struct {
	Status   Status
	Category Category
	Open     *bool // not closed or merged
	Breached *bool // a deadline passed unmet
}

// List returns one page of cases, newest first.
func (s *Service) List(ctx context.Context, by actor.Actor, f Filter, p store.Page) ([]Case, string, error) {
	if err := by.Require(deskRoles...); err != nil {
		return nil, "", err
	}
	var w store.Where
	if f.Status != "" {
		w.Add("status = ?", f.Status)
	}
	if f.Category != "" {
		w.Add("category = ?", f.Category)
	}
	if f.Open != nil {
		op := "NOT IN"
		if !*f.Open {
			op = "IN"
		}
		w.AddN("status "+op+" (?, ?)", StatusClosed, StatusMerged)
	}
	if f.Breached != nil {
		op := "IN"
		if !*f.Breached {
			op = "NOT IN"
		}
		w.Add("id "+op+" (SELECT report_id FROM problem_report_events WHERE kind = ?)", EventBreach)
	}
	tail, err := store.Keyset{Cols: []string{"received_at", "id"}, Desc: true}.Apply(&w, p)
	if err != nil {
		return nil, "", err
	}
	list, err := s.tab.reports.Select(ctx, s.db, w.Clause()+tail, w.Args()...)
	if err != nil {
		return nil, "", err
	}
	list, next := store.Finish(list, p, func(c Case) []string { return []string{store.FormatTime(c.ReceivedAt), c.ID} })
	if list == nil {
		list = []Case{}
	}
	return list, next, nil
}

// Assign records who works a case.
func (s *Service) Assign(ctx context.Context, by actor.Actor, id, to string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	to = strings.TrimSpace(to)
	if to == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "assignee", "name the staff user the case is assigned to")
	}
	if s.deps.Assignable == nil {
		return View{}, errors.New("cpr: no staff directory to check an assignee against")
	}
	ok, err := s.deps.Assignable(ctx, to)
	if err != nil {
		return View{}, err
	}
	if !ok {
		return View{}, apperr.Invalid(apperr.CodeInvalidValue, "assignee", "%q is not an active compliance or admin user; a case is assigned to someone who can work it", to)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.lockOpen(ctx, tx, id)
		if err != nil {
			return err
		}
		c.AssignedTo = to
		if c.Status == StatusReceived {
			c.Status = StatusInvestigating
		}
		if err := s.tab.reports.Update(ctx, tx, by, actReportUpdated, c); err != nil {
			return err
		}
		return s.event(ctx, tx, by, Event{ReportID: id, Kind: EventAssigned, Ref: c.AssignedTo})
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// Annotate adds a note to a case's timeline.
func (s *Service) Annotate(ctx context.Context, by actor.Actor, id, text string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(text) == "" || len(text) > MaxDescription {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "text", "a note needs text (at most %d bytes)", MaxDescription)
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Case
		if err := s.tab.reports.Lock(ctx, tx, id, &c); err != nil {
			return err
		}
		if c.Status == StatusReceived {
			c.Status = StatusInvestigating
			if err := s.tab.reports.Update(ctx, tx, by, actReportUpdated, c); err != nil {
				return err
			}
		}
		return s.event(ctx, tx, by, Event{ReportID: id, Kind: EventNote, Detail: text})
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// Close closes a case with its reasons, mailing the final report to the
// reporter and every matched subscriber unless a decision already did.
// Closing moves no deadline: an obligation still unmet stays listed.
func (s *Service) Close(ctx context.Context, by actor.Actor, id, reasons string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(reasons) == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "reasons", "record why the case is closed")
	}
	if err := plaintext.CheckProse("reasons", reasons, MaxDescription, true); err != nil {
		return View{}, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.lockOpen(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.Status == StatusAwaitingConfirmation {
			return apperr.Conflict(apperr.CodeAlreadyDecided, apperr.NoField, "problem report %s has a revoke decision awaiting confirmation", id)
		}
		now := s.now()
		c.Status, c.ClosedAt, c.CloseReason = StatusClosed, &now, reasons
		if err := s.tab.reports.Update(ctx, tx, by, actReportClosed, c); err != nil {
			return err
		}
		if err := s.event(ctx, tx, by, Event{ReportID: id, Kind: EventClosed, Detail: reasons}); err != nil {
			return err
		}
		if c.Decision != DecisionNone {
			return nil
		}
		return s.sendReports(ctx, tx, by, c, reportFinal, finalText(c))
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// Merge marks dupID a duplicate of intoID and copies its matches there.
// Both cases keep their own clocks: each one's deadlines still count from
// its own receipt and still appear among the obligations. A decision
// intoID has already taken covers only the matches it was taken on: the
// copies await a decision, which the duplicate, merged but undecided, can
// still take on its own matches (docs/design.md §12). A duplicate with a
// revoke awaiting confirmation is not merged: its proposal would then be
// carried out unconfirmed.
func (s *Service) Merge(ctx context.Context, by actor.Actor, dupID, intoID string) (View, error) {
	if err := by.Require(deskRoles...); err != nil {
		return View{}, err
	}
	if dupID == intoID || intoID == "" {
		return View{}, apperr.Invalid(apperr.CodeInvalidValue, "into", "merge a case into another case")
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		dup, err := s.lockOpen(ctx, tx, dupID)
		if err != nil {
			return err
		}
		if dup.Status == StatusAwaitingConfirmation {
			return apperr.Conflict(apperr.CodeAlreadyDecided, apperr.NoField, "problem report %s has a revoke decision awaiting confirmation; confirm it before merging", dupID)
		}
		if _, err := s.lockOpen(ctx, tx, intoID); err != nil {
			return err
		}
		dup.Status, dup.MergedInto = StatusMerged, intoID
		if err := s.tab.reports.Update(ctx, tx, by, actReportMerged, dup); err != nil {
			return err
		}
		ms, err := s.tab.matches.Select(ctx, tx, `WHERE report_id = ?`, dupID)
		if err != nil {
			return err
		}
		if err := s.insertMatches(ctx, tx, by, intoID, ms); err != nil {
			return err
		}
		if err := s.event(ctx, tx, by, Event{ReportID: dupID, Kind: EventMerged, Ref: intoID, Detail: "merged into " + intoID}); err != nil {
			return err
		}
		return s.event(ctx, tx, by, Event{ReportID: intoID, Kind: EventMerged, Ref: dupID, Detail: "duplicate " + dupID + " merged in"})
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, dupID)
}
