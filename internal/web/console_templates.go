package web

import (
	"fmt"
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/eab"
	vtemplate "github.com/vetca/vetca/internal/template"
)

// The console face of templates and EAB keys (docs/api.md, "Templates and
// EAB keys"): it calls template.Service and eab.Service, which keep every
// rule; the forms are offered to the roles those rules allow.
func (s *Server) consoleTemplateRoutes() {
	s.mux.HandleFunc("GET /console/templates", s.console(s.templatesPage))
	s.mux.HandleFunc("GET /console/templates/{id}", s.console(s.templatePage))
	s.mux.HandleFunc("POST /console/templates/{id}/approve", s.console(s.templateApprove))
	s.mux.HandleFunc("POST /console/templates/{id}/disable", s.console(s.templateDisable))
	s.mux.HandleFunc("GET /console/accounts/{id}/eab-keys", s.console(s.eabKeysPage))
	s.mux.HandleFunc("POST /console/accounts/{id}/eab-keys", s.console(s.eabKeyCreate))
	s.mux.HandleFunc("POST /console/accounts/{id}/eab-keys/{kid}/revoke", s.console(s.eabKeyRevoke))
}

// templateReader mirrors template.Service.List: staff, or a subscriber
// for its own account.
func templateReader(by actor.Actor) bool { return by.IsStaff() || by.Kind == actor.Subscriber }

// templateRow is a template with the names of its organization and
// account.
type templateRow struct {
	vtemplate.View
	OrganizationName string
	AccountName      string
}

type templatesData struct {
	listData[templateRow]
	// AccountID is the account the list is limited to (?accountId=, an
	// account page's Templates link); the status filter keeps it.
	AccountID string
	Status    string
	Statuses  []vtemplate.Status
	Required  int
}

// rows names the organization and account of each template.
func (s *Server) templateRows(r *http.Request, by actor.Actor, list []vtemplate.View) ([]templateRow, error) {
	var orgIDs, accountIDs []string
	for _, t := range list {
		orgIDs, accountIDs = append(orgIDs, t.OrganizationID), append(accountIDs, t.AccountID)
	}
	n, err := s.namesOf(r, by, orgIDs, accountIDs)
	if err != nil {
		return nil, err
	}
	rows := make([]templateRow, 0, len(list))
	for _, t := range list {
		rows = append(rows, templateRow{View: t, OrganizationName: n.org(t.OrganizationID), AccountName: n.account(t.AccountID)})
	}
	return rows, nil
}

func (s *Server) templatesPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	q := r.URL.Query()
	if _, err := queryEnum(q, "status", templateStatuses...); err != nil {
		return nil, "", err
	}
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Templates.List(r.Context(), by, q.Get("accountId"), q.Get("status"), p)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.templateRows(r, by, list)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Templates", Data: templatesData{listData: newList(r, rows, next), AccountID: q.Get("accountId"), Status: q.Get("status"),
		Required: s.Templates.Config().ApprovalsRequired, Statuses: []vtemplate.Status{vtemplate.StatusPendingApproval, vtemplate.StatusApproved, vtemplate.StatusDisabled}}}, "templates", nil
}

type templateData struct {
	templateRow
	CanApprove bool // template.Service.Approve: verifier
	CanDisable bool // template.Service.Disable: verifier, admin, compliance
}

func (s *Server) templateData(r *http.Request, by actor.Actor) (templateData, error) {
	v, err := s.Templates.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return templateData{}, err
	}
	rows, err := s.templateRows(r, by, []vtemplate.View{v})
	if err != nil {
		return templateData{}, err
	}
	open := v.Status != vtemplate.StatusDisabled
	return templateData{templateRow: rows[0], CanApprove: open && by.Has(actor.Verifier),
		CanDisable: open && by.Require(actor.Verifier, actor.Admin, actor.Compliance) == nil}, nil
}

func (s *Server) templatePage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.templateData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Template", Data: d}, "template", nil
}

// templateAgain renders the template's page with err, or the error page
// when the template cannot be shown.
func (s *Server) templateAgain(r *http.Request, by actor.Actor, err error) (*Page, string, error) {
	d, derr := s.templateData(r, by)
	if derr != nil {
		return nil, "", err
	}
	return &Page{Title: "Template", Data: d}, "template", err
}

func (s *Server) templateApprove(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	v, err := s.Templates.Approve(r.Context(), by, r.PathValue("id"), r.PostForm.Get("templateHash"))
	if err != nil {
		return s.templateAgain(r, by, err)
	}
	return redirect(w, r, "/console/templates/"+r.PathValue("id"), fmt.Sprintf("Your approval of this template's hash is recorded; status %s.", v.Status))
}

func (s *Server) templateDisable(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	if _, err := s.Templates.Disable(r.Context(), by, r.PathValue("id"), r.PostForm.Get("reason")); err != nil {
		return s.templateAgain(r, by, err)
	}
	return redirect(w, r, "/console/templates/"+r.PathValue("id"), "Template disabled; it no longer matches anything.")
}

type eabKeysData struct {
	listData[eab.View]
	AccountID   string
	AccountName string
	// Created is the key just made, shown on this answer only.
	Created   *eab.Created
	CanCreate bool // eab.Service.Create: verifier, admin
	CanRevoke bool // eab.Service.Revoke: verifier, admin, compliance, the account's subscriber
}

func (s *Server) eabKeysData(r *http.Request, by actor.Actor) (eabKeysData, error) {
	id := r.PathValue("id")
	p, err := pageOf(r)
	if err != nil {
		return eabKeysData{}, err
	}
	list, next, err := s.EAB.List(r.Context(), by, id, p)
	if err != nil {
		return eabKeysData{}, err
	}
	n, err := s.namesOf(r, by, nil, []string{id})
	if err != nil {
		return eabKeysData{}, err
	}
	return eabKeysData{listData: newList(r, list, next), AccountID: id, AccountName: n.account(id),
		CanCreate: by.Require(actor.Verifier, actor.Admin) == nil,
		CanRevoke: by.CanActForAccount(id, actor.Verifier, actor.Admin, actor.Compliance) == nil}, nil
}

func (s *Server) eabKeysPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.eabKeysData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "EAB keys", Data: d}, "eab-keys", nil
}

// eabKeyCreate makes a key and answers with the page showing it, once: it
// is not in the URL, and the page is never cached (render).
func (s *Server) eabKeyCreate(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	c, err := s.EAB.Create(r.Context(), by, r.PathValue("id"))
	d, derr := s.eabKeysData(r, by)
	if derr != nil {
		if err == nil {
			err = derr
		}
		return nil, "", err
	}
	if err != nil {
		return &Page{Title: "EAB keys", Data: d}, "eab-keys", err
	}
	d.Created = &c
	return &Page{Title: "EAB keys", Data: d, Flash: "EAB key created. Copy the HMAC key now: it is not shown again."}, "eab-keys", nil
}

func (s *Server) eabKeyRevoke(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	k, err := s.EAB.Revoke(r.Context(), by, r.PathValue("id"), r.PathValue("kid"))
	if err != nil {
		if apperr.IsKind(err, apperr.KindForbidden) {
			return nil, "", err
		}
		d, derr := s.eabKeysData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "EAB keys", Data: d}, "eab-keys", err
	}
	return redirect(w, r, "/console/accounts/"+r.PathValue("id")+"/eab-keys", "EAB key "+k.ID+" revoked.")
}
