package web

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/cpr"
)

func (s *Server) problemReportRoutes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/problem-reports", s.submitProblemReport)
	m.HandleFunc("GET /api/v1/problem-reports", s.api(s.listProblemReports))
	m.HandleFunc("GET /api/v1/problem-reports/{id}", s.api(s.getProblemReport))
	m.HandleFunc("GET /api/v1/problem-reports/{id}/timeline", s.api(s.problemReportTimeline))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/preliminary-report", s.api(s.sendPreliminaryReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/decide", s.api(s.decideProblemReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/confirm", s.api(s.confirmProblemReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/close", s.api(s.closeProblemReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/notes", s.api(s.annotateProblemReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/assign", s.api(s.assignProblemReport))
	m.HandleFunc("POST /api/v1/problem-reports/{id}/merge", s.api(s.mergeProblemReport))
	m.HandleFunc("GET /report", s.reportForm)
	m.HandleFunc("POST /report", s.submitReportForm)
}

// submitProblemReport is POST /api/v1/problem-reports: no authentication,
// rate limited per client; 202 only once the case is durable.
func (s *Server) submitProblemReport(w http.ResponseWriter, r *http.Request) {
	if err := s.reportLimits.take(s.remoteIP(r), w); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in cpr.Submission
	if err := decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	in.Channel, in.Attachments = cpr.ChannelAPI, nil
	c, err := s.ProblemReports.Submit(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, problemReportReceipt{ID: c.ID, ReceivedAt: c.ReceivedAt, PreliminaryReportDue: c.PreliminaryReportDue})
}

// queryBool reads a true/false parameter of a checked query: nil when it
// is absent or empty, 400 invalid_value naming it for anything but true
// or false.
func queryBool(q url.Values, name string) (*bool, error) {
	v, err := queryEnum(q, name, "true", "false")
	if err != nil || v == "" {
		return nil, err
	}
	b := v == "true"
	return &b, nil
}

func (s *Server) listProblemReports(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	q, err := query(r, problemReportParams...)
	if err != nil {
		return err
	}
	p, err := pageFrom(q, byCreated)
	if err != nil {
		return err
	}
	status, err := queryEnum(q, "status", problemReportStatuses...)
	if err != nil {
		return err
	}
	category, err := queryEnum(q, "category", problemReportCategories...)
	if err != nil {
		return err
	}
	f := cpr.Filter{Status: cpr.Status(status), Category: cpr.Category(category)}
	if f.Open, err = queryBool(q, "open"); err != nil {
		return err
	}
	if f.Breached, err = queryBool(q, "breached"); err != nil {
		return err
	}
	list, next, err := s.ProblemReports.List(r.Context(), by, f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, problemReportsPage{ProblemReports: list, Next: next})
	return nil
}

func (s *Server) getProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.ProblemReports.Get(r.Context(), by, r.PathValue("id"))
	return s.writeCase(w, v, err)
}

func (s *Server) writeCase(w http.ResponseWriter, v cpr.View, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) problemReportTimeline(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	evs, err := s.ProblemReports.Timeline(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, problemReportTimeline{Events: evs})
	return nil
}

func (s *Server) sendPreliminaryReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in cpr.PreliminaryInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.SendPreliminaryReport(r.Context(), by, r.PathValue("id"), in)
	return s.writeCase(w, v, err)
}

func (s *Server) decideProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in cpr.DecideInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.Decide(r.Context(), by, r.PathValue("id"), in)
	return s.writeCase(w, v, err)
}

func (s *Server) confirmProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	v, err := s.ProblemReports.Confirm(r.Context(), by, r.PathValue("id"))
	return s.writeCase(w, v, err)
}

func (s *Server) closeProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in closeProblemReportInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.Close(r.Context(), by, r.PathValue("id"), in.Reasons)
	return s.writeCase(w, v, err)
}

func (s *Server) annotateProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in noteInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.Annotate(r.Context(), by, r.PathValue("id"), in.Text)
	return s.writeCase(w, v, err)
}

func (s *Server) assignProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in assignInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.Assign(r.Context(), by, r.PathValue("id"), in.Assignee)
	return s.writeCase(w, v, err)
}

func (s *Server) mergeProblemReport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in mergeInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.ProblemReports.Merge(r.Context(), by, r.PathValue("id"), in.Into)
	return s.writeCase(w, v, err)
}

// Problem reports a client may send: a bucket of reportBurst that refills
// one report every reportRefill, per client address, in memory per replica.
const (
	reportBurst      = 20
	reportRefill     = time.Minute
	reportMaxClients = 10000
)

// reportLimiter is a token bucket per client address.
type reportLimiter struct {
	clk     clock.Clock
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newReportLimiter(clk clock.Clock) *reportLimiter {
	if clk == nil {
		clk = clock.Real{}
	}
	return &reportLimiter{clk: clk, buckets: map[string]*bucket{}}
}

// take takes one report from client's bucket, or answers 429 with
// Retry-After.
func (l *reportLimiter) take(client string, w http.ResponseWriter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= reportMaxClients {
			l.prune(now)
		}
		b = &bucket{tokens: reportBurst, at: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(reportBurst, b.tokens+now.Sub(b.at).Seconds()/reportRefill.Seconds())
	b.at = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(reportRefill))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return apperr.TooManyRequests(apperr.CodeRateLimited, apperr.NoField, "too many problem reports from your address; try again in %s, or write to the address on /report", wait.Round(time.Second))
	}
	b.tokens--
	return nil
}

// prune drops the buckets that have refilled; if none has, it starts over.
func (l *reportLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()/reportRefill.Seconds() >= reportBurst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= reportMaxClients {
		l.buckets = map[string]*bucket{}
	}
}
