package web

import (
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/validation"
)

// domainRoutes registers the domain endpoints (docs/api.md) and the staff query of
// validations by method version:
//
//	POST /api/v1/accounts/{id}/domains                      start a validation (201)
//	GET  /api/v1/accounts/{id}/domains                      the account's validations with status
//	GET  /api/v1/accounts/{id}/domains/{domainId}           one validation with every attempt's evidence
//	POST /api/v1/accounts/{id}/domains/{domainId}/validate  run the check now (200)
//	GET  /api/v1/domain-validations?method=&version=&since=&until=
//	                                                        validations and certificates that relied on a method (version)
func (s *Server) domainRoutes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/accounts/{id}/domains", s.api(s.startDomainValidation))
	m.HandleFunc("GET /api/v1/accounts/{id}/domains", s.api(s.listDomainValidations))
	m.HandleFunc("GET /api/v1/accounts/{id}/domains/{domainId}", s.api(s.getDomainValidation))
	m.HandleFunc("POST /api/v1/accounts/{id}/domains/{domainId}/validate", s.api(s.validateDomain))
	m.HandleFunc("GET /api/v1/domain-validations", s.api(s.searchDomainValidations))
	m.HandleFunc("POST /api/v1/validation-methods/flags", s.api(s.flagMethodVersion))
	m.HandleFunc("GET /api/v1/validation-methods/flags", s.api(s.listFlaggedMethods))
}

func (s *Server) startDomainValidation(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		Domain string `json:"domain"`
		Method string `json:"method"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Domains.Start(r.Context(), by, r.PathValue("id"), in.Domain, in.Method)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v.View(s.Clock.Now()))
	return nil
}

func (s *Server) listDomainValidations(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.Domains.List(r.Context(), by, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domainsPage{Domains: list, Next: next})
	return nil
}

func (s *Server) getDomainValidation(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.Domains.Get(r.Context(), by, r.PathValue("id"), r.PathValue("domainId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) validateDomain(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	a, err := s.Domains.Validate(r.Context(), by, r.PathValue("id"), r.PathValue("domainId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.View(false))
	return nil
}

func (s *Server) searchDomainValidations(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	q, err := query(r, searchParams...)
	if err != nil {
		return err
	}
	res, err := s.Domains.Search(r.Context(), by, validation.SearchInput{
		Method: q.Get("method"), Version: q.Get("version"), Since: q.Get("since"), Until: q.Get("until")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) flagMethodVersion(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in validation.FlagInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f, err := s.Domains.FlagMethodVersion(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, f)
	return nil
}

func (s *Server) listFlaggedMethods(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := s.Domains.FlaggedMethods(r.Context(), by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flaggedMethodsPage{Flags: list})
	return nil
}
