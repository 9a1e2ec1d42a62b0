// Package web is vetca's HTTP face: the JSON API under /api/v1
// (docs/api.md), the staff console (HTML, sign-in at /), the public pages, the
// revocation status endpoints and /metrics. Handlers parse input, call one
// service method and render; they hold no business rules and no SQL.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/vetca/vetca/internal/acme"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	vtemplate "github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// Deps are the services the web layer calls. It holds no storage handle:
// every read and write goes through a domain service, which checks the
// caller's roles next to the rules they protect.
type Deps struct {
	Clock   clock.Clock
	Log     *slog.Logger
	Metrics *prometheus.Registry
	// PublicURL is the configured --public-url; when it is https, the
	// console session cookie is Secure.
	PublicURL string
	// TrustedProxies are the reverse proxies (--trusted-proxy) whose
	// X-Forwarded-For names the client for the failed sign-in limits.
	TrustedProxies []netip.Prefix
	Audit          *audit.Service
	Auth           *auth.Service
	Vetting        *vetting.Service
	Accounts       *account.Service
	Changes        *change.Service
	Domains        *validation.Service
	Orders         *order.Service
	// Issuers lists and publishes the CA certificates (issuance.Engine).
	Issuers IssuerDirectory
	// Evidence returns the domain evidence of a certificate (package validation).
	Evidence    order.EvidenceSource
	Revocations *revocation.Service
	CRLs        *revocation.Publisher
	OCSP        *revocation.Responder
	// ProblemReports is the Certificate Problem Report desk (package cpr).
	ProblemReports *cpr.Service
	// Incidents keeps incidents (package incident).
	Incidents *incident.Service
	// Templates keeps issuance templates (package template); EAB the
	// External Account Binding keys (package eab).
	Templates *vtemplate.Service
	EAB       *eab.Service
	// ACME is the RFC 8555 server, served under /acme/, with the views
	// of the ACME accounts of each account (package acme); nil serves none.
	ACME *acme.Service
	// ProblemReportEmail is published on /report (--problem-report-email).
	ProblemReportEmail string
	// DevMail is the --dev mailbox shown in the console, or nil.
	DevMail Mailbox
}

// IssuerDirectory is what the web layer needs of the issuance engine: the
// issuers for staff, and one issuer's certificate for anyone (AIA).
type IssuerDirectory interface {
	Issuers(ctx context.Context, by actor.Actor) ([]issuance.Issuer, error)
	PublishedIssuer(ctx context.Context, id string) (issuance.Issuer, error)
}

// Server is the HTTP handler.
type Server struct {
	Deps
	log    *slog.Logger
	mux    *http.ServeMux
	tmplMu sync.Mutex
	tmpls  map[string]*template.Template
	ocsp   http.Handler
	// reportLimits rate-limits public problem reports per client.
	reportLimits *reportLimiter
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
}

type ctxKey int

const (
	keyActor ctxKey = iota
	keyRequestID
)

// New builds the handler.
func New(d Deps) *Server {
	s := &Server{Deps: d, log: d.Log, mux: http.NewServeMux(), reportLimits: newReportLimiter(d.Clock)}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vetca_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vetca_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	if d.Metrics != nil {
		d.Metrics.MustRegister(s.requests, s.latency)
	}
	s.routes()
	return s
}

// ServeHTTP adds a request id, security headers, logging and metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	r = r.WithContext(context.WithValue(r.Context(), keyRequestID, id))
	w.Header().Set("X-Request-Id", id)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin") // same-origin POSTs keep their Origin header for the CSRF check
	sw := &statusWriter{ResponseWriter: w, status: 200}
	// OCSP GET paths carry base64, which can hold "//"; ServeMux would
	// redirect those, so /ocsp bypasses it.
	if r.URL.Path == "/ocsp" || strings.HasPrefix(r.URL.Path, "/ocsp/") {
		s.ocsp.ServeHTTP(sw, r)
		r.Pattern = "/ocsp"
	} else if !s.refuseNULInURL(sw, r) {
		s.mux.ServeHTTP(sw, r)
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.requests.WithLabelValues(route, http.StatusText(sw.status)).Inc()
	s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	level := slog.LevelInfo
	switch {
	case sw.status >= 500:
		level = slog.LevelError
	case route == "/ocsp":
		// OCSP is public, high-volume and answered from memory: a log
		// line per answer would cost more than the answer. The metrics
		// above count every one; failures are still logged.
		level = slog.LevelDebug
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	s.log.LogAttrs(r.Context(), level, "http", append(logAttrs(r, sw.status),
		slog.String("request", id), slog.Duration("took", time.Since(start)))...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(keyRequestID).(string)
	return id
}

// handler is an API handler that may return an error.
type handler func(w http.ResponseWriter, r *http.Request, by actor.Actor) error

// api wraps an authenticated API handler: Bearer token required.
func (s *Server) api(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		by, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r, by); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) authenticate(r *http.Request) (actor.Actor, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "send Authorization: Bearer TOKEN")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "the Authorization header must be \"Bearer TOKEN\"")
	}
	return s.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Audit.Healthy(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "database unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
	})

	s.acmeRoutes()
	m.HandleFunc("GET /api/v1/me", s.api(s.me))
	m.HandleFunc("GET /api/v1/countries", s.api(s.countries))

	m.HandleFunc("POST /api/v1/organizations", s.api(s.createOrganization))
	m.HandleFunc("GET /api/v1/organizations", s.api(s.listOrganizations))
	m.HandleFunc("GET /api/v1/organizations/{id}", s.api(s.getOrganization))
	m.HandleFunc("POST /api/v1/organizations/{id}/versions", s.api(s.proposeVersion))
	m.HandleFunc("POST /api/v1/organizations/{id}/versions/{n}/verify", s.api(s.verifyVersion))
	m.HandleFunc("POST /api/v1/organizations/{id}/versions/{n}/reject", s.api(s.rejectVersion))

	m.HandleFunc("POST /api/v1/accounts", s.api(s.createAccount))
	m.HandleFunc("GET /api/v1/accounts", s.api(s.listAccounts))
	m.HandleFunc("GET /api/v1/accounts/{id}", s.api(s.getAccount))
	m.HandleFunc("POST /api/v1/accounts/{id}/organizations", s.api(s.linkOrganization))
	m.HandleFunc("POST /api/v1/accounts/{id}/token", s.api(s.rotateAccountToken))
	m.HandleFunc("POST /api/v1/accounts/{id}/contacts", s.api(s.addContact))
	m.HandleFunc("PATCH /api/v1/accounts/{id}/contacts/{cid}", s.api(s.updateContact))
	m.HandleFunc("DELETE /api/v1/accounts/{id}/contacts/{cid}", s.api(s.deleteContact))

	m.HandleFunc("GET /api/v1/users", s.api(s.listUsers))
	m.HandleFunc("POST /api/v1/users", s.api(s.addUser))
	m.HandleFunc("POST /api/v1/users/{id}/roles", s.api(s.grantRoles))
	m.HandleFunc("POST /api/v1/users/{id}/approve", s.api(s.approveUser))
	m.HandleFunc("POST /api/v1/users/{id}/decline", s.api(s.declineUser))
	m.HandleFunc("POST /api/v1/me/token", s.api(s.rotateOwnToken))

	m.HandleFunc("GET /api/v1/audit/events", s.api(s.auditEvents))
	m.HandleFunc("GET /api/v1/audit/export", s.api(s.auditExport))
	m.HandleFunc("GET /api/v1/audit/verify", s.api(s.auditVerify))

	m.HandleFunc("POST /api/v1/change-requests", s.api(s.createChange))
	m.HandleFunc("GET /api/v1/change-requests", s.api(s.listChanges))
	m.HandleFunc("GET /api/v1/change-requests/{id}", s.api(s.getChange))
	m.HandleFunc("POST /api/v1/change-requests/{id}/approve", s.api(s.approveChange))
	m.HandleFunc("POST /api/v1/change-requests/{id}/reject", s.api(s.rejectChange))

	s.domainRoutes()
	s.orderRoutes()
	s.revocationRoutes()
	s.publicAuditRoutes()
	s.problemReportRoutes()
	s.incidentRoutes()
	s.templateRoutes()

	// Anything else under /api/ is a JSON 404, not an HTML page.
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.consoleRoutes()
}
