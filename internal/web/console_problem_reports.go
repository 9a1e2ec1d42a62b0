package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/store"
)

// The compliance desk in the console: the open problem reports with their
// BR clocks, and one case with the actions compliance takes on it. Every
// handler calls cpr.Service, which checks the caller's role (compliance
// or admin) itself; the console only renders and redirects.
func (s *Server) consoleProblemReportRoutes() {
	s.mux.HandleFunc("GET /console/problem-reports", s.console(s.problemReportsPage))
	s.mux.HandleFunc("GET /console/problem-reports/{id}", s.console(s.problemReportPage))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/preliminary-report", s.console(s.problemReportAction(s.prSendPreliminary)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/decide", s.console(s.problemReportAction(s.prDecide)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/confirm", s.console(s.problemReportAction(s.prConfirm)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/assign", s.console(s.problemReportAction(s.prAssign)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/notes", s.console(s.problemReportAction(s.prAnnotate)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/close", s.console(s.problemReportAction(s.prClose)))
	s.mux.HandleFunc("POST /console/problem-reports/{id}/merge", s.console(s.problemReportAction(s.prMerge)))
}

// deskRole mirrors the rule of cpr.Service for working cases
// (compliance, admin), for the menu and the dashboard.
func deskRole(by actor.Actor) bool { return by.Require(actor.Compliance, actor.Admin) == nil }

// countdown is one deadline as the desk shows it: the due time (the
// countdown script in static/countdown.js keeps the text current), the
// text as rendered by the server so the page reads right without
// JavaScript, and whether it passed unmet.
type countdown struct {
	Due      time.Time
	Now      time.Time // the server's time when rendered; the script corrects the browser's clock by it
	Text     string
	Breached bool
	Done     bool       // the obligation is met
	MetAt    *time.Time // when it was met, where the case records it
	Section  string
}

// countdownText is the text of a deadline due at due, seen at now:
// "23h 59m 12s left", or "BREACHED 1h 2m ago" (static/countdown.js
// writes the same).
func countdownText(due, now time.Time) (string, bool) {
	d := due.Sub(now)
	if d > 0 {
		secs := int64(d / time.Second)
		return fmt.Sprintf("%dh %dm %ds left", secs/3600, secs%3600/60, secs%60), false
	}
	mins := int64(-d / time.Minute)
	return fmt.Sprintf("BREACHED %dh %dm ago", mins/60, mins%60), true
}

// newCountdown is a deadline at now; a met one shows no countdown and is
// breached only if a breach was recorded on the way.
func newCountdown(due, now time.Time, done bool, metAt *time.Time, breachRecorded bool, section string) *countdown {
	c := &countdown{Due: due.UTC(), Now: now.UTC(), Done: done, MetAt: metAt, Section: section}
	if done {
		c.Breached = breachRecorded
		if c.Breached {
			c.Text = "BREACHED (met late)"
		}
		return c
	}
	c.Text, c.Breached = countdownText(due, now)
	return c
}

// caseClocks are a case's two BR deadlines: the preliminary report (BR
// §4.9.5, 24 hours from receipt) and, once a revoke is decided, the
// revocation (BR §4.9.1.1, from receipt). Revocation is nil when no
// revocation is due.
type caseClocks struct {
	Preliminary *countdown
	Revocation  *countdown
}

// clocksOf computes a case's deadlines at now. The preliminary report is
// met once every party was sent one that was not given up on
// (cpr.View.PreliminaryReportComplete); a revocation once every match its
// decision covers is revoked (a match merged in later awaits a decision of
// its own, on its own case).
func clocksOf(v cpr.View, now time.Time) caseClocks {
	var metAt *time.Time
	if v.PreliminaryReportComplete {
		metAt = v.PreliminaryReportAt
	}
	cl := caseClocks{Preliminary: newCountdown(v.PreliminaryReportDue, now, v.PreliminaryReportComplete, metAt,
		hasBreach(v.Breaches, cpr.ObligationPreliminaryReport), cpr.SectionPreliminaryReport)}
	if v.Decision == cpr.DecisionRevoke && v.RevocationDue != nil {
		all := true
		for _, m := range v.Matches {
			all = all && (m.Revoked || m.AwaitingDecision)
		}
		cl.Revocation = newCountdown(*v.RevocationDue, now, all, nil, hasBreach(v.Breaches, cpr.ObligationRevocation), cpr.SectionRevocation)
	}
	return cl
}

func hasBreach(breaches []cpr.Event, kind string) bool {
	for _, e := range breaches {
		if strings.HasPrefix(e.Ref, kind+":") {
			return true
		}
	}
	return false
}

// caseRow is one line of the desk.
type caseRow struct {
	cpr.Case
	caseClocks
	Matched  int
	Breached bool
}

type problemReportsData struct {
	listData[caseRow]
	Status   string
	Breached bool
	Statuses []cpr.Status
}

// problemReportsPage is the desk: open cases by default (status "all"
// for every case, or one status), optionally only breached ones.
func (s *Server) problemReportsPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	q := r.URL.Query()
	if _, err := queryEnum(q, "status", append([]string{"all"}, problemReportStatuses...)...); err != nil {
		return nil, "", err
	}
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	breached, err := queryEnum(q, "breached", "1", "0", "true", "false")
	if err != nil {
		return nil, "", err
	}
	d := problemReportsData{Status: q.Get("status"), Breached: breached == "1" || breached == "true",
		Statuses: []cpr.Status{cpr.StatusReceived, cpr.StatusInvestigating, cpr.StatusPreliminarySent, cpr.StatusAwaitingConfirmation,
			cpr.StatusDecided, cpr.StatusClosed, cpr.StatusMerged}}
	var f cpr.Filter
	switch d.Status {
	case "":
		open := true
		f.Open = &open
	case "all":
	default:
		f.Status = cpr.Status(d.Status)
	}
	if d.Breached {
		yes := true
		f.Breached = &yes
	}
	list, next, err := s.ProblemReports.List(r.Context(), by, f, p)
	if err != nil {
		return nil, "", err
	}
	// Each row's matches and breaches come from the case (Get): one page
	// of cases is one List and one Get per case.
	now := s.Clock.Now()
	rows := make([]caseRow, 0, len(list))
	for _, c := range list {
		v, err := s.ProblemReports.Get(r.Context(), by, c.ID)
		if err != nil {
			return nil, "", err
		}
		row := caseRow{Case: v.Case, caseClocks: clocksOf(v, now), Matched: len(v.Matches)}
		row.Breached = len(v.Breaches) > 0 || row.Preliminary.Breached || (row.Revocation != nil && row.Revocation.Breached)
		rows = append(rows, row)
	}
	d.listData = newList(r, rows, next)
	return &Page{Title: "Problem reports", Data: d}, "problem-reports", nil
}

// matchRow is a matched certificate with its account's name.
type matchRow struct {
	cpr.MatchView
	AccountName string
}

type problemReportData struct {
	View      cpr.View
	Clocks    caseClocks
	Matches   []matchRow
	Timeline  []cpr.Event
	Triggers  []br.Trigger
	Me        string
	Open      bool // neither closed nor merged
	Undecided bool // awaiting its decision: the decide form is offered
}

func (s *Server) problemReportData(r *http.Request, by actor.Actor) (problemReportData, error) {
	id := r.PathValue("id")
	v, err := s.ProblemReports.Get(r.Context(), by, id)
	if err != nil {
		return problemReportData{}, err
	}
	tl, err := s.ProblemReports.Timeline(r.Context(), by, id)
	if err != nil {
		return problemReportData{}, err
	}
	var accountIDs []string
	for _, m := range v.Matches {
		accountIDs = append(accountIDs, m.AccountID)
	}
	n, err := s.namesOf(r, by, nil, accountIDs)
	if err != nil {
		return problemReportData{}, err
	}
	d := problemReportData{View: v, Clocks: clocksOf(v, s.Clock.Now()), Timeline: tl, Triggers: br.Triggers(),
		Me: by.Name, Open: v.Status != cpr.StatusClosed && v.Status != cpr.StatusMerged, Undecided: v.AwaitsDecision()}
	for _, m := range v.Matches {
		d.Matches = append(d.Matches, matchRow{MatchView: m, AccountName: n.account(m.AccountID)})
	}
	return d, nil
}

func (s *Server) problemReportPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.problemReportData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Problem report " + d.View.ID, Data: d}, "problem-report", nil
}

// prAction is one POST on a case: it calls the desk and returns the flash
// shown after the redirect back to the case.
type prAction func(r *http.Request, by actor.Actor, id string) (string, error)

// problemReportAction runs an action and redirects back to the case (PRG);
// on an error the case is shown again with it, with the error's status.
func (s *Server) problemReportAction(act prAction) consoleHandler {
	return func(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
		id := r.PathValue("id")
		flash, err := act(r, by, id)
		if err != nil {
			d, derr := s.problemReportData(r, by)
			if derr != nil {
				return nil, "", err
			}
			return &Page{Title: "Problem report " + id, Data: d}, "problem-report", err
		}
		return redirect(w, r, "/console/problem-reports/"+id, flash)
	}
}

// defaultFindings is the preliminary report's text when compliance sends
// it in one click without writing findings.
const defaultFindings = "We have received the problem report and are investigating it. " +
	"We will tell you of our decision, and of any revocation, as soon as it is made."

func (s *Server) prSendPreliminary(r *http.Request, by actor.Actor, id string) (string, error) {
	findings := strings.TrimSpace(r.PostForm.Get("findings"))
	if findings == "" {
		findings = defaultFindings
	}
	v, err := s.ProblemReports.SendPreliminaryReport(r.Context(), by, id, cpr.PreliminaryInput{Findings: findings, To: cpr.ToAll})
	if err != nil {
		return "", err
	}
	msg := "Preliminary report sent to the reporter and every matched subscriber."
	if !v.PreliminaryReportComplete {
		msg = "Preliminary report sent; the obligation is not met yet."
	}
	return msg, nil
}

func (s *Server) prDecide(r *http.Request, by actor.Actor, id string) (string, error) {
	f := r.PostForm
	in := cpr.DecideInput{Decision: f.Get("decision"), Reason: f.Get("reason")}
	if in.Decision == string(cpr.DecisionRevoke) {
		in.Trigger = f.Get("trigger")
		if at := strings.TrimSpace(f.Get("revokeAt")); at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return "", apperr.Invalid(apperr.CodeInvalidTime, "revokeAt", "revokeAt must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
			}
			if err := storableTime("revokeAt", t); err != nil {
				return "", err
			}
			in.RevokeAt = &t
		}
	}
	v, err := s.ProblemReports.Decide(r.Context(), by, id, in)
	if err != nil {
		return "", err
	}
	if v.Status == cpr.StatusAwaitingConfirmation {
		return "Revoke decision proposed; another compliance user must confirm it.", nil
	}
	return "Decision recorded: " + string(v.Decision) + ".", nil
}

func (s *Server) prConfirm(r *http.Request, by actor.Actor, id string) (string, error) {
	_, err := s.ProblemReports.Confirm(r.Context(), by, id)
	return "Revoke decision confirmed.", err
}

func (s *Server) prAssign(r *http.Request, by actor.Actor, id string) (string, error) {
	v, err := s.ProblemReports.Assign(r.Context(), by, id, r.PostForm.Get("assignee"))
	return "Assigned to " + v.AssignedTo + ".", err
}

func (s *Server) prAnnotate(r *http.Request, by actor.Actor, id string) (string, error) {
	_, err := s.ProblemReports.Annotate(r.Context(), by, id, r.PostForm.Get("text"))
	return "Note added.", err
}

func (s *Server) prClose(r *http.Request, by actor.Actor, id string) (string, error) {
	_, err := s.ProblemReports.Close(r.Context(), by, id, r.PostForm.Get("reasons"))
	return "Case closed.", err
}

func (s *Server) prMerge(r *http.Request, by actor.Actor, id string) (string, error) {
	into := strings.TrimSpace(r.PostForm.Get("into"))
	_, err := s.ProblemReports.Merge(r.Context(), by, id, into)
	return "Merged into " + into + ".", err
}

// deskCounts counts the open cases and those with a breach for the
// dashboard, paging through cpr.Service.List (which refuses any role but
// compliance and admin).
func (s *Server) deskCounts(r *http.Request, by actor.Actor) (open, breached int, err error) {
	yes := true
	for i, f := range []cpr.Filter{{Open: &yes}, {Open: &yes, Breached: &yes}} {
		p := store.Page{Limit: store.MaxPageSize}
		for {
			list, next, err := s.ProblemReports.List(r.Context(), by, f, p)
			if err != nil {
				return 0, 0, err
			}
			if i == 0 {
				open += len(list)
			} else {
				breached += len(list)
			}
			if next == "" {
				break
			}
			p.Cursor = next
		}
	}
	return open, breached, nil
}
