package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/cpr"
)

// reportData is the /report page: the form (with what was sent, less the
// private key, after an error) or the confirmation of a case.
type reportData struct {
	Email   string // --problem-report-email
	In      cpr.Submission
	Serials string
	Certs   string
	Error   string
	Field   string
	Case    *cpr.Case
}

// reportForm is GET /report: the BR §4.9.3 instructions and the form.
func (s *Server) reportForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "report", &Page{Title: "Report a certificate problem",
		Data: reportData{Email: s.ProblemReportEmail, In: cpr.Submission{Category: string(cpr.CategoryKeyCompromise)}}})
}

// submitReportForm is POST /report: the same Submit as the API, answered
// with the case id and the preliminary report's due time.
func (s *Server) submitReportForm(w http.ResponseWriter, r *http.Request) {
	d := reportData{Email: s.ProblemReportEmail}
	status, err := s.reportFromForm(w, r, &d)
	if err != nil {
		d.In.PrivateKey = ""
		d.Error, d.Field = err.Error(), ""
		if e, ok := apperr.As(err); ok {
			d.Error, d.Field = e.Message, e.Field
		}
		s.render(w, status, "report", &Page{Title: "Report a certificate problem", Data: d})
		return
	}
	s.render(w, http.StatusAccepted, "report", &Page{Title: "Problem report received", Data: d})
}

func (s *Server) reportFromForm(w http.ResponseWriter, r *http.Request, d *reportData) (int, error) {
	if err := s.reportLimits.take(s.remoteIP(r), w); err != nil {
		return http.StatusTooManyRequests, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, apperr.TooLarge(apperr.CodeBodyTooLarge, "body", "the report is larger than %d bytes", maxBody)
		}
		return http.StatusBadRequest, apperr.Invalid(apperr.CodeInvalidBody, "body", "the form could not be read: %v", err)
	}
	f := r.PostForm
	if where := nulInValues(f); where != "" {
		return http.StatusBadRequest, nulError(where)
	}
	d.Serials, d.Certs = f.Get("serials"), f.Get("certificates")
	d.In = cpr.Submission{ReporterEmail: strings.TrimSpace(f.Get("reporterEmail")), Category: f.Get("category"), Description: f.Get("description"),
		PrivateKey: f.Get("privateKey"), CSR: f.Get("csr"), Channel: cpr.ChannelWeb, Serials: strings.Fields(d.Serials)}
	if strings.TrimSpace(d.Certs) != "" {
		d.In.Certificates = []string{d.Certs}
	}
	c, err := s.ProblemReports.Submit(r.Context(), d.In)
	if err != nil {
		e, _ := apperr.As(err)
		if e == nil {
			return http.StatusInternalServerError, errors.New("internal error; the report was not recorded, please try again or write to " + s.ProblemReportEmail)
		}
		return statusOf(e.Kind), err
	}
	d.Case = &c
	return http.StatusAccepted, nil
}
