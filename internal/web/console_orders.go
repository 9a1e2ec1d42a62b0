package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
)

func (s *Server) consoleOrderRoutes() {
	s.mux.HandleFunc("GET /console/orders", s.console(s.ordersPage))
	s.mux.HandleFunc("GET /console/orders/{id}", s.console(s.orderPage))
	s.mux.HandleFunc("POST /console/orders/{id}/approve", s.console(s.orderApprove))
	s.mux.HandleFunc("POST /console/orders/{id}/finalize", s.console(s.orderFinalize))
	s.mux.HandleFunc("GET /console/certificates", s.console(s.certificatesPage))
	s.mux.HandleFunc("GET /console/certificates/{serial}", s.console(s.certificatePage))
}

// orderRow is one line of the orders list: the order, with the names of
// its organization, its account and who requested it.
type orderRow struct {
	order.Order
	OrganizationName string
	AccountName      string
	Requester        string
}

type ordersData struct {
	listData[orderRow]
	Status   string
	Statuses []order.Status
	Required int
}

func (s *Server) ordersPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	status, err := queryEnum(r.URL.Query(), "status", orderStatuses...)
	if err != nil {
		return nil, "", err
	}
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Orders.List(r.Context(), by, status, p)
	if err != nil {
		return nil, "", err
	}
	var orgIDs, accountIDs []string
	for _, o := range list {
		orgIDs, accountIDs = append(orgIDs, o.OrganizationID), append(accountIDs, o.AccountID)
	}
	n, err := s.namesOf(r, by, orgIDs, accountIDs)
	if err != nil {
		return nil, "", err
	}
	rows := make([]orderRow, 0, len(list))
	for _, o := range list {
		rows = append(rows, orderRow{Order: o, OrganizationName: n.org(o.OrganizationID), AccountName: n.account(o.AccountID),
			Requester: requester(o.RequestedBy, o.AccountID, n)})
	}
	return &Page{Title: "Orders", Data: ordersData{listData: newList(r, rows, next), Status: status, Required: s.Orders.Config().ApprovalsRequired,
		Statuses: []order.Status{order.StatusPendingApproval, order.StatusApproved, order.StatusIssued, order.StatusRejected, order.StatusFailed}}}, "orders", nil
}

// requester names who placed an order: a staff user by name, the
// subscriber by its account's name.
func requester(requestedBy, accountID string, n names) string {
	if id, ok := strings.CutPrefix(requestedBy, string(actor.Subscriber)+":"); ok && id == accountID {
		return n.account(id)
	}
	if name, ok := strings.CutPrefix(requestedBy, string(actor.Staff)+":"); ok {
		return name
	}
	return requestedBy
}

type orderData struct {
	View             order.View
	Snap             order.Snapshot
	OrganizationName string
	AccountName      string
	CanApprove       bool
	CanFinalize      bool
}

func (s *Server) orderData(r *http.Request, by actor.Actor) (orderData, error) {
	v, err := s.Orders.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return orderData{}, err
	}
	var snap order.Snapshot
	if err := json.Unmarshal(v.Snapshot, &snap); err != nil {
		return orderData{}, err
	}
	n, err := s.namesOf(r, by, []string{v.OrganizationID}, []string{v.AccountID})
	if err != nil {
		return orderData{}, err
	}
	return orderData{View: v, Snap: snap, OrganizationName: n.org(v.OrganizationID), AccountName: n.account(v.AccountID),
		CanApprove:  by.Has(actor.Verifier),
		CanFinalize: by.Has(actor.Verifier) || by.Has(actor.Admin) || (by.Kind == actor.Subscriber && by.AccountID == v.AccountID)}, nil
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

// certificateRow is one line of the certificates list, with the names of
// its organization and account.
type certificateRow struct {
	issuance.Certificate
	OrganizationName string
	AccountName      string
}

func (s *Server) certificatesPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	// The page lists every certificate, newest first; a filter it does
	// not have (status=…) is refused, not ignored, as on the other lists.
	if _, err := query(r, "limit", "after"); err != nil {
		return nil, "", err
	}
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Orders.Certificates(r.Context(), by, order.Filter{}, p)
	if err != nil {
		return nil, "", err
	}
	var orgIDs, accountIDs []string
	for _, c := range list {
		orgIDs, accountIDs = append(orgIDs, c.OrganizationID), append(accountIDs, c.AccountID)
	}
	n, err := s.namesOf(r, by, orgIDs, accountIDs)
	if err != nil {
		return nil, "", err
	}
	rows := make([]certificateRow, 0, len(list))
	for _, c := range list {
		rows = append(rows, certificateRow{Certificate: c, OrganizationName: n.org(c.OrganizationID), AccountName: n.account(c.AccountID)})
	}
	return &Page{Title: "Certificates", Data: newList(r, rows, next)}, "certificates", nil
}

type certificateData struct {
	Record           order.Record
	OrganizationName string
	AccountName      string
}

func (s *Server) certificatePage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	// Serials are stored lower-case hex; the API lower-cases the one asked
	// for (getCertificate), and so does the page.
	rec, err := s.Orders.Certificate(r.Context(), by, strings.ToLower(r.PathValue("serial")), s.Evidence)
	if err != nil {
		return nil, "", err
	}
	n, err := s.namesOf(r, by, []string{rec.OrganizationID}, []string{rec.AccountID})
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Certificate", Data: certificateData{Record: rec, OrganizationName: n.org(rec.OrganizationID),
		AccountName: n.account(rec.AccountID)}}, "certificate", nil
}
