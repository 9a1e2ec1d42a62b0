package web

import (
	"encoding/json"
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/order"
)

func (s *Server) consoleOrderRoutes() {
	s.mux.HandleFunc("GET /console/orders", s.console(s.ordersPage))
	s.mux.HandleFunc("GET /console/orders/{id}", s.console(s.orderPage))
	s.mux.HandleFunc("POST /console/orders/{id}/approve", s.console(s.orderApprove))
	s.mux.HandleFunc("POST /console/orders/{id}/finalize", s.console(s.orderFinalize))
	s.mux.HandleFunc("GET /console/certificates", s.console(s.certificatesPage))
	s.mux.HandleFunc("GET /console/certificates/{serial}", s.console(s.certificatePage))
	s.nav = append(s.nav, NavLink{Href: "/console/orders", Label: "Orders"}, NavLink{Href: "/console/certificates", Label: "Certificates"})
}

func (s *Server) ordersPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	status := r.URL.Query().Get("status")
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Orders.List(r.Context(), by, status, p)
	return &Page{Title: "Orders", Data: listPage(r, list, next, map[string]any{"Status": status, "Required": s.Orders.Config().ApprovalsRequired,
		"Statuses": []order.Status{order.StatusPendingApproval, order.StatusApproved, order.StatusIssued, order.StatusRejected, order.StatusFailed}})}, "orders", err
}

func (s *Server) orderData(r *http.Request, by actor.Actor) (map[string]any, error) {
	v, err := s.Orders.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var snap order.Snapshot
	if err := json.Unmarshal(v.Snapshot, &snap); err != nil {
		return nil, err
	}
	return map[string]any{"View": v, "Snap": snap, "CanApprove": by.Has(actor.Verifier),
		"CanFinalize": by.Has(actor.Verifier) || by.Has(actor.Admin) || (by.Kind == actor.Subscriber && by.AccountID == v.AccountID)}, nil
}

func (s *Server) orderPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.orderData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Order", Data: d}, "order", nil
}

func (s *Server) orderApprove(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	_, err := s.Orders.Approve(r.Context(), by, r.PathValue("id"), r.PostForm.Get("snapshotHash"))
	if err != nil {
		d, derr := s.orderData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Order", Data: d}, "order", err
	}
	return redirect(w, r, "/console/orders/"+r.PathValue("id"), "Your approval of this snapshot is recorded.")
}

func (s *Server) orderFinalize(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	res, err := s.Orders.Finalize(r.Context(), by, r.PathValue("id"))
	if err != nil {
		d, derr := s.orderData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Order", Data: d}, "order", err
	}
	return redirect(w, r, "/console/certificates/"+res.Serial, "Issued.")
}

func (s *Server) certificatesPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Orders.Certificates(r.Context(), by, order.Filter{}, p)
	return &Page{Title: "Certificates", Data: listPage(r, list, next, nil)}, "certificates", err
}

func (s *Server) certificatePage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	rec, err := s.Orders.Certificate(r.Context(), by, r.PathValue("serial"), s.Evidence)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Certificate", Data: map[string]any{"Record": rec}}, "certificate", nil
}
