package web

import (
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	vtemplate "github.com/vetca/vetca/internal/template"
)

// templateRoutes are the issuance templates and EAB keys, the foundations
// of ACME with External Account Binding (docs/api.md, "Templates and EAB
// keys").
func (s *Server) templateRoutes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/templates", s.api(s.createTemplate))
	m.HandleFunc("GET /api/v1/templates", s.api(s.listTemplates))
	m.HandleFunc("GET /api/v1/templates/{id}", s.api(s.getTemplate))
	m.HandleFunc("PUT /api/v1/templates/{id}", s.api(s.updateTemplate))
	m.HandleFunc("POST /api/v1/templates/{id}/approve", s.api(s.approveTemplate))
	m.HandleFunc("POST /api/v1/templates/{id}/disable", s.api(s.disableTemplate))
	m.HandleFunc("POST /api/v1/accounts/{id}/eab-keys", s.api(s.createEABKey))
	m.HandleFunc("GET /api/v1/accounts/{id}/eab-keys", s.api(s.listEABKeys))
	m.HandleFunc("DELETE /api/v1/accounts/{id}/eab-keys/{kid}", s.api(s.revokeEABKey))
	m.HandleFunc("POST /api/v1/accounts/{id}/eab-keys/{kid}/revoke", s.api(s.revokeEABKey))
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in vtemplate.Input
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := s.Templates.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, templateCreated{ID: t.ID, TemplateHash: t.TemplateHash, Status: t.Status})
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	q, err := query(r, templateParams...)
	if err != nil {
		return err
	}
	status, err := queryEnum(q, "status", templateStatuses...)
	if err != nil {
		return err
	}
	p, err := pageFrom(q, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.Templates.List(r.Context(), by, q.Get("accountId"), status, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, templatesPage{Templates: list, Next: next})
	return nil
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.Templates.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in vtemplate.Input
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Templates.Update(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) approveTemplate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in approveTemplateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Templates.Approve(r.Context(), by, r.PathValue("id"), in.TemplateHash)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) disableTemplate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in disableTemplateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Templates.Disable(r.Context(), by, r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) createEABKey(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	k, err := s.EAB.Create(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *Server) listEABKeys(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.EAB.List(r.Context(), by, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eabKeysPage{EABKeys: list, Next: next})
	return nil
}

func (s *Server) revokeEABKey(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	v, err := s.EAB.Revoke(r.Context(), by, r.PathValue("id"), r.PathValue("kid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
