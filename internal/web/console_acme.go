package web

import (
	"net/http"

	"github.com/vetca/vetca/internal/acme"
	"github.com/vetca/vetca/internal/actor"
)

// The ACME accounts bound to a vetca account and their orders, in the API
// and the console (docs/api.md, "ACME"). acme.Service keeps the rule:
// staff, or the account's own subscriber.
func (s *Server) acmeRoutes() {
	if s.ACME == nil {
		return
	}
	s.mux.Handle("/acme/", s.ACME)
	s.mux.HandleFunc("GET /api/v1/accounts/{id}/acme-accounts", s.api(s.listACMEAccounts))
	s.mux.HandleFunc("GET /api/v1/acme-accounts/{id}/orders", s.api(s.listACMEOrders))
	s.mux.HandleFunc("GET /console/accounts/{id}/acme", s.console(s.acmeAccountsPage))
	s.mux.HandleFunc("GET /console/acme-accounts/{id}", s.console(s.acmeAccountPage))
}

type acmeAccountsPage struct {
	ACMEAccounts []acme.AccountView `json:"acmeAccounts"`
	Next         string             `json:"next,omitempty"`
}

type acmeOrdersPage struct {
	ACMEAccount acme.AccountView `json:"acmeAccount"`
	Orders      []acme.OrderView `json:"orders"`
	Next        string           `json:"next,omitempty"`
}

func (s *Server) listACMEAccounts(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.ACME.Accounts(r.Context(), by, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acmeAccountsPage{ACMEAccounts: list, Next: next})
	return nil
}

func (s *Server) listACMEOrders(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	a, list, next, err := s.ACME.OrdersOf(r.Context(), by, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acmeOrdersPage{ACMEAccount: a, Orders: list, Next: next})
	return nil
}

type acmeAccountsData struct {
	listData[acme.AccountView]
	AccountID   string
	AccountName string
}

func (s *Server) acmeAccountsPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	id := r.PathValue("id")
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.ACME.Accounts(r.Context(), by, id, p)
	if err != nil {
		return nil, "", err
	}
	n, err := s.namesOf(r, by, nil, []string{id})
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "ACME accounts", Data: acmeAccountsData{listData: newList(r, list, next), AccountID: id, AccountName: n.account(id)}}, "acme-accounts", nil
}

type acmeAccountData struct {
	listData[acme.OrderView]
	ACMEAccount acme.AccountView
	AccountName string
}

func (s *Server) acmeAccountPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	a, list, next, err := s.ACME.OrdersOf(r.Context(), by, r.PathValue("id"), p)
	if err != nil {
		return nil, "", err
	}
	n, err := s.namesOf(r, by, nil, []string{a.AccountID})
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "ACME account", Data: acmeAccountData{listData: newList(r, list, next), ACMEAccount: a, AccountName: n.account(a.AccountID)}}, "acme-account", nil
}
