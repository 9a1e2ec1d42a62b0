package cpr

import (
	"context"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/store"
)

// The reports a case sends go through the outbox (package notify), which
// keeps each message's outcome: pending, sent, or failed for good (a
// permanent SMTP error such as 550, or every attempt failed). A report
// counts as sent to a party while one of its messages to that party has
// not failed (docs/design.md §12).

// refType is the outbox reference of a case's mail.
const refType = "problem_report"

// messagePrefix starts the detail of a report_sent event, followed by the
// outbox message's id.
const messagePrefix = "message "

// partyOf is who a report was sent to: "" for the reporter, else the
// account whose contacts got it.
func partyOf(e Event) string {
	if e.Role == RoleReporter {
		return ""
	}
	return e.AccountID
}

// outboxOf returns the outbox messages about a case by id.
func (s *Service) outboxOf(ctx context.Context, q store.Querier, caseID string) (map[string]notify.Message, error) {
	ms, err := notify.ForRef(ctx, s.rec, q, refType, caseID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]notify.Message, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}

// delivery is where the message of a report_sent event stands, and its
// last error if it failed; "" for an event that names no message.
func delivery(e Event, box map[string]notify.Message) (notify.Status, string) {
	id, ok := strings.CutPrefix(e.Detail, messagePrefix)
	m, found := box[id]
	if !ok || !found {
		return "", ""
	}
	if m.Status == notify.StatusFailed {
		return m.Status, m.LastError
	}
	return m.Status, ""
}

// preliminarySends returns, for each party sent a preliminary report by
// at, the time of the first one whose delivery has not failed, or the zero
// time when every delivery to that party failed.
func (s *Service) preliminarySends(ctx context.Context, q store.Querier, caseID string, at time.Time) (map[string]time.Time, error) {
	evs, err := s.tab.events.Select(ctx, q, `WHERE report_id = ? AND kind = ? AND ref = ? ORDER BY at`, caseID, EventReportSent, reportPreliminary)
	if err != nil {
		return nil, err
	}
	box, err := s.outboxOf(ctx, q, caseID)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, e := range evs {
		if e.At.After(at) {
			continue
		}
		p := partyOf(e)
		first, seen := out[p]
		if st, _ := delivery(e, box); st == notify.StatusFailed {
			if !seen {
				out[p] = time.Time{}
			}
			continue
		}
		if first.IsZero() {
			out[p] = e.At
		}
	}
	return out, nil
}

// preliminaryMetAt is when the preliminary report obligation of c was met,
// as it stood at at, or nil while unmet. It is met when the reporter and
// every matched subscriber have been sent one (notePreliminaryMet records
// the time), and stops being met while every delivery to one of the
// parties sent one has failed, until a new one to that party is sent. A
// delivery is taken as failed at any at once it has failed (the outbox
// keeps no time of failure).
func (s *Service) preliminaryMetAt(ctx context.Context, q store.Querier, c Case, at time.Time) (*time.Time, error) {
	if c.PreliminaryReportAt == nil || c.PreliminaryReportAt.After(at) {
		return nil, nil
	}
	sends, err := s.preliminarySends(ctx, q, c.ID, at)
	if err != nil {
		return nil, err
	}
	met := *c.PreliminaryReportAt
	for _, first := range sends {
		if first.IsZero() {
			return nil, nil
		}
		if first.After(met) {
			met = first
		}
	}
	return &met, nil
}

// delivered reports whether every party sent a preliminary report has
// one that was delivered (sent cannot fail any more), or one recorded
// before deliveries were linked to the case.
func (s *Service) delivered(ctx context.Context, q store.Querier, caseID string) (bool, error) {
	evs, err := s.tab.events.Select(ctx, q, `WHERE report_id = ? AND kind = ? AND ref = ?`, caseID, EventReportSent, reportPreliminary)
	if err != nil {
		return false, err
	}
	box, err := s.outboxOf(ctx, q, caseID)
	if err != nil {
		return false, err
	}
	done := map[string]bool{}
	for _, e := range evs {
		st, _ := delivery(e, box)
		done[partyOf(e)] = done[partyOf(e)] || st == notify.StatusSent || st == ""
	}
	for _, ok := range done {
		if !ok {
			return false, nil
		}
	}
	return len(done) > 0, nil
}

// settleDeliveries records, once per case, that the preliminary report it
// met reached every party (EventPrelimDelivered): its outcome can no
// longer change, so obligations stops reading that case's outbox.
func (s *Service) settleDeliveries(ctx context.Context) error {
	cases, err := s.tab.reports.Select(ctx, s.db, `WHERE preliminary_report_at IS NOT NULL AND id NOT IN (SELECT report_id FROM problem_report_events WHERE kind = ?) ORDER BY received_at, id`,
		EventPrelimDelivered)
	if err != nil {
		return err
	}
	for _, c := range cases {
		done, err := s.delivered(ctx, s.db, c.ID)
		if err != nil {
			return err
		}
		if !done {
			continue
		}
		id := "cpe_" + string(EventPrelimDelivered) + "_" + c.ID
		err = s.db.InTx(ctx, func(tx *store.Tx) error {
			var locked Case
			if err := s.tab.reports.Lock(ctx, tx, c.ID, &locked); err != nil {
				return err
			}
			if _, found, err := s.tab.events.First(ctx, tx, `WHERE id = ?`, id); err != nil || found {
				return err
			}
			return s.event(ctx, tx, system, Event{ID: id, ReportID: c.ID, Kind: EventPrelimDelivered, Detail: "every preliminary report was delivered"})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
