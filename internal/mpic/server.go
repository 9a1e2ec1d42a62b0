package mpic

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/caa"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/resolver"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// CheckPath is the path of a perspective's check endpoint (POST).
const CheckPath = "/mpic/v1/check"

// maxRequestBytes bounds a request body.
const maxRequestBytes = 16 << 10

// Kind names a check a perspective can run.
type Kind string

// The kinds of check.
const (
	KindDNSChange     Kind = "dns-change"     // dcv.DNSChange
	KindWebsiteChange Kind = "website-change" // dcv.WebsiteChange
	KindCAA           Kind = "caa"            // caa.Checker
	KindACMEHTTP01    Kind = "acme-http-01"   // dcv.ACMEHTTP01: FileName is the token, Value the key authorization
	KindACMEDNS01     Kind = "acme-dns-01"    // dcv.ACMEDNS01: Value is the key authorization's digest
)

// CheckRequest asks a perspective to run one check.
type CheckRequest struct {
	Kind     Kind   `json:"kind"`
	Domain   string `json:"domain"`
	Value    string `json:"value,omitempty"`    // expected random value (dns-change, website-change)
	FileName string `json:"fileName,omitempty"` // website-change file name
}

// ErrorBody is the error object of docs/api.md (Errors).
type ErrorBody struct {
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
	Field   string      `json:"field,omitempty"`
}

// CheckResponse is a perspective's answer. Perspective and Region are in
// every answer, errors included.
type CheckResponse struct {
	Perspective string        `json:"perspective"`
	Region      string        `json:"region"`
	Kind        Kind          `json:"kind,omitempty"`
	Domain      string        `json:"domain,omitempty"`
	Outcome     bool          `json:"outcome"` // dcv: valid; caa: permitted
	Reason      string        `json:"reason,omitempty"`
	Time        time.Time     `json:"time"`
	DCV         *dcv.Evidence `json:"dcv,omitempty"`
	CAA         *caa.Result   `json:"caa,omitempty"`
	Error       *ErrorBody    `json:"error,omitempty"`
}

// PerspectiveResolver is what a perspective needs from its resolver;
// *resolver.Resolver implements it.
type PerspectiveResolver interface {
	LookupTXT(ctx context.Context, name string) ([]resolver.TXT, []resolver.Evidence, error)
	LookupCAA(ctx context.Context, name string) ([]resolver.CAA, []resolver.Evidence, error)
	LookupIP(ctx context.Context, name string) ([]netip.Addr, []resolver.Evidence, error)
	Server() string
}

// ServerConfig configures a perspective.
type ServerConfig struct {
	ID            string              // perspective identifier, required
	Region        string              // RIR / region label, required (e.g. "RIPE NCC")
	Resolver      PerspectiveResolver // this perspective's own resolver, required
	CAAIdentities []string            // issuer domain names, as on the primary, required
	HTTPPort      int                 // website-change port (default 80)
	HTTPSPort     int                 // port for port-less https redirects (default 443)
	HTTPTimeout   time.Duration       // website-change timeout (dcv default if zero)
	// AllowPrivateValidationTargets turns off the egress policy of
	// website-change checks, as in dcv.HTTPConfig: by default they connect
	// only to public addresses (egress.Public).
	AllowPrivateValidationTargets bool
	Clock                         clock.Clock  // required
	Logger                        *slog.Logger // nil: slog.Default()
}

// Server is a remote perspective: an http.Handler serving CheckPath. It
// must be served with a *tls.Config from ServerTLSConfig; it also refuses
// any request that did not present a verified client certificate.
type Server struct {
	id, region string
	dns        *dcv.DNSChecker
	web        *dcv.HTTPChecker
	caa        *caa.Checker
	clk        clock.Clock
	log        *slog.Logger
	mux        *http.ServeMux
}

// NewServer returns a perspective Server for cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.ID == "" || cfg.Region == "" {
		return nil, errors.New("mpic: a perspective needs an ID and a Region")
	}
	if cfg.Resolver == nil || cfg.Clock == nil {
		return nil, errors.New("mpic: a perspective needs its own resolver and a clock")
	}
	dnsc, err := dcv.NewDNSChecker(cfg.Resolver, cfg.Clock)
	if err != nil {
		return nil, err
	}
	web, err := dcv.NewHTTPChecker(dcv.HTTPConfig{
		Resolver: cfg.Resolver, Clock: cfg.Clock, Port: cfg.HTTPPort, HTTPSPort: cfg.HTTPSPort,
		Timeout: cfg.HTTPTimeout, AllowPrivateValidationTargets: cfg.AllowPrivateValidationTargets,
	})
	if err != nil {
		return nil, err
	}
	cc, err := caa.NewChecker(cfg.Resolver, cfg.CAAIdentities, cfg.Clock)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{id: cfg.ID, region: cfg.Region, dns: dnsc, web: web, caa: cc, clk: cfg.Clock, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST "+CheckPath, s.check)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.reply(w, http.StatusNotFound, CheckResponse{Error: &ErrorBody{Code: apperr.CodeNotFound,
			Message: "a perspective serves only POST " + CheckPath}})
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		s.reply(w, http.StatusForbidden, CheckResponse{Error: &ErrorBody{Code: apperr.CodeClientCertificateRequired,
			Message: "a perspective answers only over mutually authenticated TLS"}})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) reply(w http.ResponseWriter, status int, resp CheckResponse) {
	resp.Perspective, resp.Region = s.id, s.region
	if resp.Time.IsZero() {
		resp.Time = s.clk.Now()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.reply(w, http.StatusBadRequest, CheckResponse{Error: &ErrorBody{Code: apperr.CodeBadRequest, Message: "malformed request: " + err.Error()}})
		return
	}
	resp, err := s.Run(r.Context(), req)
	if err != nil {
		e := &ErrorBody{Code: apperr.CodeBadRequest, Message: err.Error()}
		if ae, ok := apperr.As(err); ok {
			e = &ErrorBody{Code: ae.Code, Message: ae.Message, Field: ae.Field}
		}
		resp.Error = e
		s.reply(w, http.StatusBadRequest, resp)
		return
	}
	client := ""
	if len(r.TLS.PeerCertificates) > 0 {
		client = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	s.log.Info("mpic check", "perspective", s.id, "client", client, "kind", req.Kind, "domain", req.Domain, "outcome", resp.Outcome)
	s.reply(w, http.StatusOK, resp)
}

// Run performs req with this perspective's resolver and settings. It is
// what the handler calls; it returns an error only for a bad request.
func (s *Server) Run(ctx context.Context, req CheckRequest) (CheckResponse, error) {
	resp := CheckResponse{Kind: req.Kind, Domain: req.Domain, Time: s.clk.Now()}
	switch req.Kind {
	case KindDNSChange:
		ev, err := s.dns.Check(ctx, req.Domain, req.Value)
		if err != nil {
			return resp, err
		}
		resp.Outcome, resp.Reason, resp.DCV = ev.Valid, ev.Reason, &ev
	case KindWebsiteChange:
		ev, err := s.web.Check(ctx, req.Domain, req.FileName, req.Value)
		if err != nil {
			return resp, err
		}
		resp.Outcome, resp.Reason, resp.DCV = ev.Valid, ev.Reason, &ev
	case KindACMEHTTP01:
		ev, err := s.web.CheckACME(ctx, req.Domain, req.FileName, req.Value)
		if err != nil {
			return resp, err
		}
		resp.Outcome, resp.Reason, resp.DCV = ev.Valid, ev.Reason, &ev
	case KindACMEDNS01:
		ev, err := s.dns.CheckACME(ctx, req.Domain, req.Value)
		if err != nil {
			return resp, err
		}
		resp.Outcome, resp.Reason, resp.DCV = ev.Valid, ev.Reason, &ev
	case KindCAA:
		res, err := s.caa.Check(ctx, req.Domain)
		if _, bad := apperr.As(err); bad {
			return resp, err
		}
		// A lookup failure is a (denying) result, not a bad request.
		resp.Outcome, resp.Reason, resp.CAA = res.Permitted, res.Reason, &res
	default:
		return resp, apperr.Invalid(apperr.CodeUnknownKind, "kind", "kind %q is not one of %q, %q, %q, %q, %q", req.Kind, KindDNSChange, KindWebsiteChange, KindACMEHTTP01, KindACMEDNS01, KindCAA)
	}
	return resp, nil
}

// ServerTLSConfig returns the TLS configuration a perspective must be
// served with: TLS 1.3, the given certificate, and a client certificate
// required and verified against clientCAs.
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}
}

// ClientTLSConfig returns the TLS configuration the primary uses to reach
// perspectives: TLS 1.3, its client certificate, and perspectives' server
// certificates verified against roots.
func ClientTLSConfig(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
	}
}

// LoadServerTLSConfig builds ServerTLSConfig from PEM files (for the CLI).
func LoadServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, pool, err := loadPair(certFile, keyFile, clientCAFile)
	if err != nil {
		return nil, err
	}
	return ServerTLSConfig(cert, pool), nil
}

// LoadClientTLSConfig builds ClientTLSConfig from PEM files (for the CLI).
func LoadClientTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, pool, err := loadPair(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return ClientTLSConfig(cert, pool), nil
}

func loadPair(certFile, keyFile, caFile string) (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("mpic: loading %s/%s: %w", certFile, keyFile, err)
	}
	pem, err := readFile(caFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("mpic: reading %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("mpic: no certificate in %s", caFile)
	}
	return cert, pool, nil
}

// NewHTTPServer wraps h (a Server) in an *http.Server with the TLS config
// and conservative timeouts, ready for ServeTLS(ln, "", "") or
// ListenAndServeTLS("", "").
func NewHTTPServer(addr string, h http.Handler, tlsCfg *tls.Config) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
}
