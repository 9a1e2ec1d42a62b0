package web

import (
	"encoding/csv"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
)

func (s *Server) orderRoutes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/orders", s.api(s.createOrder))
	m.HandleFunc("GET /api/v1/orders", s.api(s.listOrders))
	m.HandleFunc("GET /api/v1/orders/{id}", s.api(s.getOrder))
	m.HandleFunc("POST /api/v1/orders/{id}/approve", s.api(s.approveOrder))
	m.HandleFunc("POST /api/v1/orders/{id}/reject", s.api(s.rejectOrder))
	m.HandleFunc("POST /api/v1/orders/{id}/finalize", s.api(s.finalizeOrder))
	m.HandleFunc("GET /api/v1/certificates", s.api(s.listCertificates))
	m.HandleFunc("GET /api/v1/certificates/{serial}", s.api(s.getCertificate))
	m.HandleFunc("GET /api/v1/issuers", s.api(s.listIssuers))
	m.HandleFunc("GET /ca/{file}", s.caCertificate)
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in order.CreateInput
	if err := decode(w, r, &in); err != nil {
		return subjectAttribute(err)
	}
	o, err := s.Orders.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, orderCreated{ID: o.ID, Status: o.Status, SnapshotHash: o.SnapshotHash,
		OrganizationVersion: o.OrganizationVersion, DNSNames: o.DNSNames, ValidityDays: o.ValidityDays})
	return nil
}

// subjectAttribute names a refused value inside an order's subject by the
// attribute alone ("organizationName", not "subject.organizationName"),
// as every error about a subject attribute names it (docs/api.md, Errors).
func subjectAttribute(err error) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	name, ok := strings.CutPrefix(e.Field, "subject.")
	if !ok || name == "" {
		return err
	}
	c := *e
	c.Field, c.Message = name, strings.ReplaceAll(e.Message, `"subject.`+name+`"`, `"`+name+`" of subject`)
	return &c
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	status, p, err := statusPage(r, orderStatuses...)
	if err != nil {
		return err
	}
	list, next, err := s.Orders.List(r.Context(), by, status, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ordersPage{Orders: list, Next: next})
	return nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.Orders.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) approveOrder(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		SnapshotHash string `json:"snapshotHash"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Orders.Approve(r.Context(), by, r.PathValue("id"), in.SnapshotHash)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) rejectOrder(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Orders.Reject(r.Context(), by, r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) finalizeOrder(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	res, err := s.Orders.Finalize(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderFinalized{Serial: res.Serial, Certificate: res.PEM, Chain: res.ChainPEM,
		NotBefore: res.Certificate.NotBefore, NotAfter: res.Certificate.NotAfter})
	return nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	q, err := query(r, certificateParams...)
	if err != nil {
		return err
	}
	status, err := queryEnum(q, "status", certificateStatuses...)
	if err != nil {
		return err
	}
	format, err := queryEnum(q, "format", certificateFormats...)
	if err != nil {
		return err
	}
	f := order.Filter{OrganizationID: q.Get("organizationId"), AccountID: q.Get("accountId"), Status: issuance.CertStatus(status)}
	notAfterBefore, given, err := queryTimeGiven(q, "notAfterBefore")
	if err != nil {
		return err
	}
	if given {
		f.NotAfterBefore = &notAfterBefore
	}
	p, err := pageFrom(q, byCreated)
	if err != nil {
		return err
	}
	if format == "csv" {
		return s.certificatesCSV(w, r, by, f, p.Cursor)
	}
	list, next, err := s.Orders.Certificates(r.Context(), by, f, p)
	if err != nil {
		return err
	}
	out := make([]certificateItem, 0, len(list))
	for _, c := range list {
		out = append(out, certificateItem{Certificate: c})
	}
	writeJSON(w, http.StatusOK, certificatesPage{Certificates: out, Next: next})
	return nil
}

// certificatesCSV streams the whole matching inventory (after the
// cursor after, when given) as CSV, page by page, so memory does not grow
// with it.
func (s *Server) certificatesCSV(w http.ResponseWriter, r *http.Request, by actor.Actor, f order.Filter, after string) error {
	if err := by.Require(actor.Auditor, actor.Admin, actor.Compliance, actor.Verifier); err != nil && by.Kind != actor.Subscriber {
		return err
	}
	p := store.Page{Limit: store.MaxPageSize, Cursor: after}
	list, next, err := s.Orders.Certificates(r.Context(), by, f, p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="vetca-certificates.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"serial", "status", "subject", "dnsNames", "notBefore", "notAfter", "issuedAt", "organizationId",
		"organizationVersion", "accountId", "orderId", "issuerId", "sha256", "revokedAt", "reason"})
	for {
		for _, c := range list {
			revokedAt, reason := s.revocationColumns(r, c)
			_ = cw.Write([]string{c.Serial, string(c.Status), c.Subject, strings.Join(c.DNSNames, " "), c.NotBefore.Format(time.RFC3339),
				c.NotAfter.Format(time.RFC3339), c.CreatedAt.Format(time.RFC3339), c.OrganizationID, strconv.Itoa(c.OrganizationVersion),
				c.AccountID, c.OrderID, c.IssuerID, c.CertSHA256, revokedAt, reason})
		}
		if next == "" {
			break
		}
		p.Cursor = next
		if list, next, err = s.Orders.Certificates(r.Context(), by, f, p); err != nil {
			// The header is sent: end the CSV short and log why.
			s.log.Error("certificate CSV export cut short", "request", requestID(r), "err", err)
			break
		}
	}
	cw.Flush()
	return nil
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	return s.writeCertificate(w, r, by, strings.ToLower(r.PathValue("serial")))
}

// writeCertificate answers 200 with a certificate's record and its chain of
// evidence, as by may see it.
func (s *Server) writeCertificate(w http.ResponseWriter, r *http.Request, by actor.Actor, serial string) error {
	rec, err := s.Orders.Certificate(r.Context(), by, serial, s.Evidence)
	if err != nil {
		return err
	}
	out, err := s.certificateRecord(r, rec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listIssuers(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := s.Issuers.Issuers(r.Context(), by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, issuersResponse{Issuers: list})
	return nil
}

// caCertificate publishes issuer certificates for AIA caIssuers (DER).
func (s *Server) caCertificate(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".crt")
	if !ok {
		http.NotFound(w, r)
		return
	}
	iss, err := s.Issuers.PublishedIssuer(r.Context(), id)
	if err != nil {
		s.writePublicError(w, r, err)
		return
	}
	b, _ := pem.Decode([]byte(iss.CertPEM))
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b.Bytes)
}
