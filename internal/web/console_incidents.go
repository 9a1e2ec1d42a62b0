package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/incident"
)

// The incidents page in the console: each incident with its deadlines
// and the progress of its bulk revocation, and one incident with its
// affected set, its timeline, the bulk revocation, delay requests and its
// rendered reports. Every handler calls incident.Service, which checks the
// caller's role itself (reading: compliance, admin, auditor; working:
// compliance, admin); the console only renders and redirects.
func (s *Server) consoleIncidentRoutes() {
	s.mux.HandleFunc("GET /console/incidents", s.console(s.incidentsPage))
	s.mux.HandleFunc("GET /console/incidents/{id}", s.console(s.incidentPage))
	s.mux.HandleFunc("GET /console/incidents/{id}/report.md", s.console(s.incidentReportDownload))
	s.mux.HandleFunc("GET /console/incidents/{id}/appendix.csv", s.console(s.incidentAppendixDownload))
	s.mux.HandleFunc("POST /console/incidents/{id}/revoke", s.console(s.incidentAction(s.incRevoke)))
	s.mux.HandleFunc("POST /console/incidents/{id}/delays", s.console(s.incidentAction(s.incRecordDelay)))
}

// incidentReader mirrors the rule of incident.Service for reading
// incidents (List, Get, Render: compliance, admin, auditor), for the menu.
func incidentReader(by actor.Actor) bool {
	return by.Require(actor.Compliance, actor.Admin, actor.Auditor) == nil
}

// incidentWorker mirrors the rule of incident.Service for working an
// incident (Revoke, RecordDelay: compliance, admin): only they are
// offered the forms.
func incidentWorker(by actor.Actor) bool { return by.Require(actor.Compliance, actor.Admin) == nil }

// reportFormats are the formats incident.Service.Render renders, in the
// order the selector offers them.
var reportFormats = []string{incident.FormatPreliminary, incident.FormatFull, incident.FormatClosure, incident.FormatLegacy}

// incidentClocks are an incident's deadlines (incident.Service.Obligations):
// the revocation of its affected set (BR §4.9.1.1), the initial report
// (72 hours from awareness), the full report and the next update (CCADB
// IRG v3.2), and for a revocation-delay incident its 3-day update too.
// Revocation is nil for a revocation-delay incident (its certificates are
// its parent's); Update is nil once the incident is closed.
type incidentClocks struct {
	Revocation  *countdown
	Initial     *countdown
	Full        *countdown
	Update      *countdown
	DelayUpdate *countdown
	Breached    bool // any of them passed unmet, or a breach was recorded
}

// incidentProgress is how far the bulk revocation of the affected set is.
type incidentProgress struct {
	Revoked, Expired, Valid, Total int
	Percent                        int
}

func progressOf(certs []incident.CertificateView) incidentProgress {
	p := incidentProgress{Total: len(certs)}
	for _, c := range certs {
		switch c.State {
		case "revoked":
			p.Revoked++
		case "expired":
			p.Expired++
		default:
			p.Valid++
		}
	}
	if p.Total > 0 {
		p.Percent = (p.Revoked + p.Expired) * 100 / p.Total
	} else {
		p.Percent = 100
	}
	return p
}

// obligationsByIncident groups the open obligations of every open
// incident at now by incident and kind.
func (s *Server) obligationsByIncident(r *http.Request, now time.Time) (map[string]map[string]incident.Obligation, error) {
	obs, err := s.Incidents.Obligations(r.Context(), now)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]incident.Obligation{}
	for _, o := range obs {
		if out[o.IncidentID] == nil {
			out[o.IncidentID] = map[string]incident.Obligation{}
		}
		if _, ok := out[o.IncidentID][o.Kind]; !ok { // revocation: one per certificate, all due alike
			out[o.IncidentID][o.Kind] = o
		}
	}
	return out, nil
}

// clocksOfIncident computes v's deadlines at now from its open
// obligations (obs, of v alone): an obligation not among them is met.
func clocksOfIncident(v incident.View, p incidentProgress, obs map[string]incident.Obligation, now time.Time) incidentClocks {
	var cl incidentClocks
	breach := false
	for _, e := range v.Events {
		if e.Kind == incident.EventBreach && e.Ref == incident.ObligationRevocation {
			breach = true
		}
	}
	if v.Kind != incident.KindDelayedRevocation {
		cl.Revocation = newCountdown(v.RevocationDue, now, p.Valid == 0, nil, breach, incident.SectionRevocation)
	}
	report := func(kind string, metAt *time.Time, fallback time.Time, section string) *countdown {
		if o, ok := obs[kind]; ok {
			return newCountdown(o.Due, now, false, nil, false, o.Section)
		}
		due := fallback
		if metAt != nil {
			due = *metAt
		}
		return newCountdown(due, now, true, metAt, false, section)
	}
	cl.Initial = report(incident.ObligationInitialReport, v.InitialReportAt, v.InitialReportDue, incident.SectionIRG)
	cl.Full = report(incident.ObligationFullReport, v.FullReportAt, v.InitialReportDue, incident.SectionIRG)
	if v.Status == incident.StatusOpen {
		if o, ok := obs[incident.ObligationUpdate]; ok {
			cl.Update = newCountdown(o.Due, now, false, nil, false, o.Section)
		}
		if o, ok := obs[incident.ObligationDelayUpdate]; ok {
			cl.DelayUpdate = newCountdown(o.Due, now, false, nil, false, o.Section)
		}
	}
	cl.Breached = breach
	for _, c := range []*countdown{cl.Revocation, cl.Initial, cl.Full, cl.Update, cl.DelayUpdate} {
		cl.Breached = cl.Breached || (c != nil && c.Breached)
	}
	return cl
}

// incidentRow is one line of the incidents page.
type incidentRow struct {
	incident.Incident
	incidentClocks
	Progress incidentProgress
}

type incidentsData struct {
	listData[incidentRow]
}

// incidentsPage lists the incidents, newest first, each with its
// deadlines and the progress of its bulk revocation: one List, one Get per
// incident and one Obligations for the page.
func (s *Server) incidentsPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Incidents.List(r.Context(), by, p)
	if err != nil {
		return nil, "", err
	}
	now := s.Clock.Now()
	obs, err := s.obligationsByIncident(r, now)
	if err != nil {
		return nil, "", err
	}
	rows := make([]incidentRow, 0, len(list))
	for _, inc := range list {
		v, err := s.Incidents.Get(r.Context(), by, inc.ID)
		if err != nil {
			return nil, "", err
		}
		pr := progressOf(v.Certificates)
		rows = append(rows, incidentRow{Incident: v.Incident, incidentClocks: clocksOfIncident(v, pr, obs[inc.ID], now), Progress: pr})
	}
	return &Page{Title: "Incidents", Data: incidentsData{listData: newList(r, rows, next)}}, "incidents", nil
}

type incidentData struct {
	View     incident.View
	Clocks   incidentClocks
	Progress incidentProgress
	Delays   []incident.Event
	Worker   bool // may revoke and record delays (compliance, admin)
	Formats  []string
	Format   string
	Report   string // the report in Format, Markdown
}

// reportFormat is the format a request asks for (preliminary by default).
func reportFormat(r *http.Request) string {
	if f := r.URL.Query().Get("format"); f != "" {
		return f
	}
	return incident.FormatPreliminary
}

func (s *Server) incidentData(r *http.Request, by actor.Actor) (incidentData, error) {
	id := r.PathValue("id")
	v, err := s.Incidents.Get(r.Context(), by, id)
	if err != nil {
		return incidentData{}, err
	}
	now := s.Clock.Now()
	obs, err := s.obligationsByIncident(r, now)
	if err != nil {
		return incidentData{}, err
	}
	pr := progressOf(v.Certificates)
	d := incidentData{View: v, Clocks: clocksOfIncident(v, pr, obs[id], now), Progress: pr, Worker: incidentWorker(by),
		Formats: reportFormats, Format: reportFormat(r)}
	for _, e := range v.Events {
		if e.Kind == incident.EventDelayRequested {
			d.Delays = append(d.Delays, e)
		}
	}
	return d, nil
}

// incidentPage shows one incident and its report in the format asked for;
// a format Render refuses shows the page with the error.
func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.incidentData(r, by)
	if err != nil {
		return nil, "", err
	}
	page := &Page{Title: "Incident " + d.View.ID, Data: &d}
	rep, err := s.Incidents.Render(r.Context(), by, d.View.ID, d.Format)
	if err != nil {
		return page, "incident", err
	}
	d.Report = rep.Markdown
	return page, "incident", nil
}

// download writes body as an attachment named name.
func download(w http.ResponseWriter, contentType, name string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// incidentReportDownload is GET /console/incidents/{id}/report.md?format=…:
// the rendered report as Markdown.
func (s *Server) incidentReportDownload(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	id, format := r.PathValue("id"), reportFormat(r)
	rep, err := s.Incidents.Render(r.Context(), by, id, format)
	if err != nil {
		return nil, "", err
	}
	download(w, "text/markdown; charset=utf-8", id+"-"+format+".md", []byte(rep.Markdown))
	return nil, "", nil
}

// incidentAppendixDownload is GET /console/incidents/{id}/appendix.csv:
// the report's Appendix (IRG v3.2) as CSV.
func (s *Server) incidentAppendixDownload(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	id := r.PathValue("id")
	rep, err := s.Incidents.Render(r.Context(), by, id, incident.FormatFull)
	if err != nil {
		return nil, "", err
	}
	download(w, "text/csv; charset=utf-8", id+"-appendix.csv", rep.CSV)
	return nil, "", nil
}

// incAction is one POST on an incident: it calls the service and returns
// the flash shown after the redirect back to the incident.
type incAction func(r *http.Request, by actor.Actor, id string) (string, error)

// incidentAction runs an action and redirects back to the incident (PRG);
// on an error the incident is shown again with it, with the error's status.
func (s *Server) incidentAction(act incAction) consoleHandler {
	return func(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
		id := r.PathValue("id")
		flash, err := act(r, by, id)
		if err != nil {
			d, derr := s.incidentData(r, by)
			if derr != nil {
				return nil, "", err
			}
			return &Page{Title: "Incident " + id, Data: &d}, "incident", err
		}
		return redirect(w, r, "/console/incidents/"+id, flash)
	}
}

// incRevoke revokes the affected set (or, with dryRun, says what it would
// revoke), as the signed-in user.
func (s *Server) incRevoke(r *http.Request, by actor.Actor, id string) (string, error) {
	dry := r.PostForm.Get("dryRun") != ""
	res, err := s.Incidents.Revoke(r.Context(), by, id, incident.RevokeOptions{DryRun: dry})
	if err != nil {
		return "", err // the page shows how far the run got; running it again resumes it
	}
	if dry {
		msg := fmt.Sprintf("Dry run: would revoke %d of %d certificates (%s); %d already revoked, %d expired.",
			len(res.Serials), res.Affected, res.Reason, res.AlreadyRevoked, res.Expired)
		if len(res.Serials) > 0 {
			msg += " Serials: " + strings.Join(res.Serials, ", ")
		}
		return msg, nil
	}
	return fmt.Sprintf("Revoked %d of %d certificates (%s); %d were already revoked, %d expired.",
		res.Revoked, res.Affected, res.Reason, res.AlreadyRevoked, res.Expired), nil
}

// incRecordDelay records a customer's request to delay revocation: it is
// evidence for the report and moves no deadline.
func (s *Server) incRecordDelay(r *http.Request, by actor.Actor, id string) (string, error) {
	f := r.PostForm
	_, err := s.Incidents.RecordDelay(r.Context(), by, id, incident.DelayInput{Serial: strings.TrimSpace(f.Get("serial")),
		RequestedBy: strings.TrimSpace(f.Get("requestedBy")), Justification: strings.TrimSpace(f.Get("justification"))})
	return "Delay request recorded. It moves no deadline: the revocation is still due when it was.", err
}
