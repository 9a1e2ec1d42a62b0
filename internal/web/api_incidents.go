package web

import (
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/incident"
)

func (s *Server) incidentRoutes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/incidents", s.api(s.createIncident))
	m.HandleFunc("GET /api/v1/incidents", s.api(s.listIncidents))
	m.HandleFunc("GET /api/v1/incidents/{id}", s.api(s.getIncident))
	m.HandleFunc("POST /api/v1/incidents/{id}/delays", s.api(s.recordIncidentDelay))
	m.HandleFunc("POST /api/v1/incidents/{id}/revoke", s.api(s.revokeIncident))
	m.HandleFunc("POST /api/v1/incidents/{id}/disclosures", s.api(s.recordIncidentDisclosure))
	m.HandleFunc("POST /api/v1/incidents/{id}/action-items", s.api(s.setIncidentActionItem))
	m.HandleFunc("POST /api/v1/incidents/{id}/analysis", s.api(s.setIncidentAnalysis))
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in incident.CreateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := s.Incidents.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.Incidents.List(r.Context(), by, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, incidentsPage{Incidents: list, Next: next})
	return nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.Incidents.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) recordIncidentDelay(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in incident.DelayInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	e, err := s.Incidents.RecordDelay(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

// revokeIncident is POST /api/v1/incidents/{id}/revoke: the bulk
// revocation of the affected set, answered when the run ends.
func (s *Server) revokeIncident(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in revokeIncidentInput
	if err := decode(w, r, &in, decodeOptions{allowEmpty: true}); err != nil {
		return err
	}
	if in.Workers < 0 || in.Workers > 64 {
		return apperr.Invalid(apperr.CodeInvalidNumber, "workers", "workers must be 1 to 64")
	}
	res, err := s.Incidents.Revoke(r.Context(), by, r.PathValue("id"), incident.RevokeOptions{DryRun: in.DryRun, Workers: in.Workers})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) recordIncidentDisclosure(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in incident.DisclosureInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	inc, err := s.Incidents.RecordDisclosure(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc)
	return nil
}

func (s *Server) setIncidentActionItem(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in incident.ActionItemInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Incidents.SetActionItem(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) setIncidentAnalysis(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in incident.Analysis
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Incidents.SetAnalysis(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
