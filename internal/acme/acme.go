// Package acme is vetca's RFC 8555 ACME server, with External Account
// Binding required (docs/design.md, "ACME").
//
// An ACME account is a key bound, once, by an EAB key (package eab) to one
// vetca account; it acts as a subscriber of that account. An order is
// accepted only for names an approved standing template of the account
// covers (package template); anything else is rejectedIdentifier, naming
// the name. Challenges http-01 and dns-01 are domain validations of
// package validation, with its resolver, egress policy and
// multi-perspective corroboration, stored as the same evidence; a still
// reusable validation of the account makes an authorization valid at
// once. Finalize checks the CSR against the order and the template again
// (now with the key type), places a vetca order under the template
// (order.PlaceUnderTemplate) and finalizes it through the whole issuance
// pipeline: recheck, CAA, lint, intent, sign. A deactivated
// authorization invalidates the orders that use it and is never reused
// (RFC 8555 §7.1.6, §7.5.2). revokeCert is signed by the account (a
// subscriber's revocation with its reason), by another account holding
// valid authorizations for every name (cessationOfOperation) or by the
// certificate's key (keyCompromise, and the key is blocked). Renewal
// information (RFC 9773) comes from package ari.
//
// Every state change is an audited write, made in one transaction after
// every check passed, so a refused request changes nothing (its nonce
// aside; and a finalize whose CSR subject the order service refuses
// records the order's processing and its return to ready). Every
// request's JWS is verified before its nonce is used.
package acme

import (
	"context"
	"crypto"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/validation"
)

// Paths under the public URL.
const (
	pathDirectory   = "/acme/directory"
	pathNewNonce    = "/acme/new-nonce"
	pathNewAccount  = "/acme/new-account"
	pathNewOrder    = "/acme/new-order"
	pathRevokeCert  = "/acme/revoke-cert"
	pathRenewalInfo = "/acme/renewal-info"
	pathAccount     = "/acme/acct/"
	pathOrder       = "/acme/order/"
	pathAuthz       = "/acme/authz/"
	pathChallenge   = "/acme/chall/"
	pathCert        = "/acme/cert/"
)

// EAB is what the server needs of External Account Binding keys.
type EAB interface {
	Verify(ctx context.Context, kid string, macInput, mac []byte) (eab.Key, error)
	Bind(ctx context.Context, tx *store.Tx, kid, acmeAccountID string) (eab.Key, error)
	// Binding reads a key as it stands now (integrity-checked): an ACME
	// account whose binding key was revoked may no longer act.
	Binding(ctx context.Context, q store.Querier, kid string) (eab.Key, error)
	NonceKeys
}

// Templates matches orders against standing templates.
type Templates interface {
	Match(ctx context.Context, accountID string, names []string, keyType string, validityDays int) (template.Template, error)
}

// Domains starts and runs the domain validations behind challenges.
type Domains interface {
	StartACME(ctx context.Context, tx *store.Tx, by actor.Actor, accountID, domain, challengeType, token, keyAuthorization string) (validation.Validation, error)
	Validate(ctx context.Context, by actor.Actor, accountID, validationID string) (validation.Attempt, error)
	ReusableFor(ctx context.Context, q store.Querier, accountID, name string, at time.Time) (validation.Validation, bool, error)
}

// Orders places and finalizes vetca orders.
type Orders interface {
	PlaceUnderTemplate(ctx context.Context, by actor.Actor, in order.CreateInput, templateID, templateHash string) (order.Order, error)
	Finalize(ctx context.Context, by actor.Actor, id string) (order.Issued, error)
}

// Certificates reads the certificate inventory and the issuers.
type Certificates interface {
	Certificate(ctx context.Context, serialHex string) (issuance.Certificate, error)
	PublishedIssuer(ctx context.Context, id string) (issuance.Issuer, error)
}

// Revocations revokes certificates.
type Revocations interface {
	Revoke(ctx context.Context, by actor.Actor, serial string, in revocation.Input) (revocation.Revocation, issuance.Certificate, error)
	RevokeProvenCompromise(ctx context.Context, by actor.Actor, serial, evidence string) (revocation.Revocation, issuance.Certificate, error)
	// RevokeInTx and Published revoke for an account that is not the
	// certificate's but holds authorizations for all its names, checked
	// in the same transaction.
	RevokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, d revocation.Decision, in revocation.Input) (revocation.Revocation, error)
	Published(ctx context.Context, rs ...revocation.Revocation)
	Find(ctx context.Context, serial string) (revocation.Revocation, bool, error)
}

// Keys checks a public key against the key policy and the blocklist of
// compromised keys: a certificate key at finalize, and an account key at
// newAccount and on every request it signs.
type Keys interface {
	Check(ctx context.Context, pub crypto.PublicKey) error
	Blocked(ctx context.Context, q store.Querier, spkiHex string) (bool, error)
}

// Deps are the services the ACME server uses.
type Deps struct {
	EAB          EAB
	Templates    Templates
	Domains      Domains
	Orders       Orders
	Certificates Certificates
	Revocations  Revocations
	Keys         Keys
	// Exposures moves renewal windows earlier for certificates an open
	// incident must revoke; nil leaves every window at its default.
	Exposures Exposures
}

// Config is the server's configuration.
type Config struct {
	// BaseURL is the installation's public URL (--public-url): every ACME
	// URL is absolute under it, and every JWS url header must match.
	BaseURL string
	// CAAIdentities are published in the directory's meta.
	CAAIdentities []string
	// Website is published in the directory's meta, if set.
	Website string
	// OrderLifetime is how long an order may take to be finalized
	// (default 7 days).
	OrderLifetime time.Duration
}

// Service is the ACME server; it is an http.Handler for /acme/.
type Service struct {
	Deps
	db     *store.DB
	tab    tables
	clk    clock.Clock
	cfg    Config
	log    *slog.Logger
	nonces *nonces
	mux    *http.ServeMux
}

// New returns the ACME server.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, d Deps, cfg Config, log *slog.Logger) *Service {
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.OrderLifetime <= 0 {
		cfg.OrderLifetime = 7 * 24 * time.Hour
	}
	s := &Service{Deps: d, db: db, tab: newTables(rec), clk: clk, cfg: cfg, log: log,
		nonces: &nonces{db: db, keys: d.EAB, clk: clk}, mux: http.NewServeMux()}
	s.routes()
	return s
}

func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Second) }

func (s *Service) url(path string) string { return s.cfg.BaseURL + path }

// apiHandler is an ACME handler; an error is answered as a problem.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

func (s *Service) routes() {
	m := s.mux
	m.HandleFunc("GET "+pathDirectory, s.handle(s.directory))
	m.HandleFunc("POST "+pathDirectory, s.handle(s.directoryPostAsGet))
	m.HandleFunc("HEAD "+pathNewNonce, s.handle(s.newNonce))
	m.HandleFunc("GET "+pathNewNonce, s.handle(s.newNonce))
	m.HandleFunc("POST "+pathNewNonce, s.handle(s.newNoncePostAsGet))
	m.HandleFunc("POST "+pathNewAccount, s.handle(s.newAccount))
	m.HandleFunc("POST "+pathAccount+"{id}", s.handle(s.accountUpdate))
	m.HandleFunc("POST "+pathAccount+"{id}/orders", s.handle(s.accountOrders))
	m.HandleFunc("POST "+pathNewOrder, s.handle(s.newOrder))
	m.HandleFunc("POST "+pathOrder+"{id}", s.handle(s.getOrder))
	m.HandleFunc("POST "+pathOrder+"{id}/finalize", s.handle(s.finalize))
	m.HandleFunc("POST "+pathAuthz+"{id}", s.handle(s.authorization))
	m.HandleFunc("POST "+pathChallenge+"{id}", s.handle(s.challenge))
	m.HandleFunc("POST "+pathCert+"{id}", s.handle(s.certificate))
	m.HandleFunc("POST "+pathRevokeCert, s.handle(s.revokeCert))
	m.HandleFunc("GET "+pathRenewalInfo+"/{id}", s.handle(s.renewalInfo))
	// Any other method on a resource is 405 with Allow (RFC 8555 §6.3);
	// a GET pattern also serves HEAD.
	for path, allow := range map[string]string{
		pathDirectory:               "GET, HEAD, POST",
		pathNewNonce:                "GET, HEAD, POST",
		pathNewAccount:              "POST",
		pathAccount + "{id}":        "POST",
		pathAccount + "{id}/orders": "POST",
		pathNewOrder:                "POST",
		pathOrder + "{id}":          "POST",
		pathOrder + "{id}/finalize": "POST",
		pathAuthz + "{id}":          "POST",
		pathChallenge + "{id}":      "POST",
		pathCert + "{id}":           "POST",
		pathRevokeCert:              "POST",
		pathRenewalInfo + "/{id}":   "GET, HEAD",
	} {
		m.HandleFunc(path, s.handle(methodNotAllowed(allow)))
	}
	m.HandleFunc("/acme/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no ACME resource %s %s; start at %s", r.Method, r.URL.Path, s.url(pathDirectory))
	}))
}

// methodNotAllowed answers a method a resource does not take: 405, type
// malformed, with the methods it takes in Allow (RFC 8555 §6.3; RFC 9110
// §15.5.6).
func methodNotAllowed(allow string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return problem(ProbMalformed, http.StatusMethodNotAllowed, "%s %s is not allowed: this resource takes %s (RFC 8555 §6.3)", r.Method, r.URL.Path, allow)
	}
}

// ServeHTTP implements http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle adds what every ACME response carries (RFC 8555 §6.5, §7.1): a
// fresh nonce and the directory link; and answers an error as a problem
// document.
func (s *Service) handle(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Add("Link", `<`+s.url(pathDirectory)+`>;rel="index"`)
		if r.Method != http.MethodGet || r.URL.Path == pathNewNonce {
			if n, err := s.nonces.issue(r.Context()); err == nil {
				w.Header().Set("Replay-Nonce", n)
			} else {
				s.log.Error("acme: no nonce", "err", err)
			}
		}
		if err := h(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	}
}

func (s *Service) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := toProblem(err)
	if p.Status >= 500 {
		s.log.Error("acme request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Info("acme request refused", "method", r.Method, "path", r.URL.Path, "type", p.Type, "detail", p.Detail)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func (s *Service) writeJSON(w http.ResponseWriter, _ *http.Request, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// directory is GET /acme/directory (RFC 8555 §7.1.1).
func (s *Service) directory(w http.ResponseWriter, r *http.Request) error {
	meta := map[string]any{"externalAccountRequired": true}
	if len(s.cfg.CAAIdentities) > 0 {
		meta["caaIdentities"] = s.cfg.CAAIdentities
	}
	if s.cfg.Website != "" {
		meta["website"] = s.cfg.Website
	}
	return s.writeJSON(w, r, http.StatusOK, map[string]any{
		"newNonce":    s.url(pathNewNonce),
		"newAccount":  s.url(pathNewAccount),
		"newOrder":    s.url(pathNewOrder),
		"revokeCert":  s.url(pathRevokeCert),
		"renewalInfo": s.url(pathRenewalInfo),
		"meta":        meta,
	})
}

// directoryPostAsGet is POST-as-GET /acme/directory, which a server must
// allow beside GET (RFC 8555 §6.3).
func (s *Service) directoryPostAsGet(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verify(r.Context(), r, s.url(pathDirectory), byKID)
	if err != nil {
		return err
	}
	if !req.postAsGet() {
		return malformed("fetch the directory with GET or POST-as-GET (an empty payload)")
	}
	return s.directory(w, r)
}

// newNonce is HEAD and GET /acme/new-nonce (RFC 8555 §7.2); handle set
// the Replay-Nonce.
func (s *Service) newNonce(w http.ResponseWriter, r *http.Request) error {
	if w.Header().Get("Replay-Nonce") == "" {
		return problem(ProbServerInternal, http.StatusServiceUnavailable, "no nonce could be made")
	}
	if r.Method == http.MethodGet {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// newNoncePostAsGet is POST-as-GET /acme/new-nonce, which a server must
// allow beside HEAD and GET (RFC 8555 §6.3): 200 with a fresh
// Replay-Nonce, as HEAD.
func (s *Service) newNoncePostAsGet(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verify(r.Context(), r, s.url(pathNewNonce), byKID)
	if err != nil {
		return err
	}
	if !req.postAsGet() {
		return malformed("ask for a nonce with HEAD, GET or POST-as-GET (an empty payload)")
	}
	return s.newNonce(w, r)
}
