package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

func (s *Server) me(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	writeJSON(w, http.StatusOK, meResponse{Kind: by.Kind, Name: by.Name, Roles: by.Roles, AccountID: by.AccountID, Actor: by.String()})
	return nil
}

func (s *Server) countries(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	q, err := query(r, countryParams...)
	if err != nil {
		return err
	}
	subdivisions, err := queryEnum(q, "subdivisions", subdivisionFlags...)
	if err != nil {
		return err
	}
	var out []countryOut
	for _, c := range iso3166.Countries() {
		cc := countryOut{Code: c.Alpha2, Name: c.Name, Sanctioned: s.Vetting.IsSanctioned(c.Alpha2)}
		if subdivisions == "1" {
			for _, d := range iso3166.Subdivisions(c.Alpha2) {
				cc.Subdivisions = append(cc.Subdivisions, subdivisionOut{Code: d.Code, Name: d.Name})
			}
		}
		out = append(out, cc)
	}
	writeJSON(w, http.StatusOK, countriesResponse{Source: "Debian iso-codes " + iso3166.SourceVersion, Countries: out})
	return nil
}

// ---- organizations (docs/api.md, Identity) ----

func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := by.Require(actor.Verifier); err != nil {
		return err
	}
	var in vetting.CreateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	org, v, err := s.Vetting.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, organizationCreated{ID: org.ID, Version: v.Version, Status: v.Status, Diff: v.Diff, OrganizationName: v.OrganizationName})
	return nil
}

// pageOf reads the paging parameters of a console page: ?limit= (1 to
// store.MaxPageSize, default store.DefaultPageSize) and ?after= (the next
// cursor of the previous page). API lists check their whole query first
// (query, listPage).
func pageOf(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	return store.ParsePage(q.Get("limit"), q.Get("after"))
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byCreated)
	if err != nil {
		return err
	}
	list, next, err := s.Vetting.List(r.Context(), by, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, organizationsPage{Organizations: list, Next: next})
	return nil
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	view, err := s.Vetting.Get(r.Context(), by, r.PathValue("id"), s.Accounts.CanReadOrganization)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) proposeVersion(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := by.Require(actor.Verifier); err != nil {
		return err
	}
	var in vetting.ChangeInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Vetting.Propose(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, versionProposed{Version: v.Version, Status: v.Status, Diff: v.Diff, BasedOn: v.BasedOn})
	return nil
}

func versionParam(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return 0, apperr.NotFound(apperr.CodeNotFound, "version", "version %q not found", r.PathValue("n"))
	}
	return n, nil
}

func (s *Server) verifyVersion(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := by.Require(actor.Verifier, actor.Compliance); err != nil {
		return err
	}
	n, err := versionParam(r)
	if err != nil {
		return err
	}
	var in struct {
		Evidence []vetting.Evidence `json:"evidence"`
	}
	if err := decode(w, r, &in, decodeOptions{allowEmpty: true}); err != nil {
		return err
	}
	v, verifs, err := s.Vetting.Verify(r.Context(), by, r.PathValue("id"), n, in.Evidence)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, versionVerified{
		OrganizationID: v.OrganizationID, Version: v.Version, Status: v.Status,
		Verifications: verifs, Required: s.Vetting.Config().VerificationsRequired,
	})
	return nil
}

func (s *Server) rejectVersion(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	n, err := versionParam(r)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Vetting.Reject(r.Context(), by, r.PathValue("id"), n, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, versionRejected{Version: v.Version, Status: v.Status})
	return nil
}

// ---- accounts and contacts (docs/api.md, Identity) ----

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := by.Require(actor.Verifier, actor.Admin); err != nil {
		return err
	}
	var in account.CreateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	acc, token, err := s.Accounts.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountCreated{ID: acc.ID, Name: acc.Name, Token: token})
	return nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byName)
	if err != nil {
		return err
	}
	list, next, err := s.Accounts.List(r.Context(), by, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountsPage{Accounts: list, Next: next})
	return nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	view, err := s.Accounts.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) linkOrganization(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		OrganizationID string `json:"organizationId"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := s.Accounts.LinkOrganization(r.Context(), by, r.PathValue("id"), in.OrganizationID); err != nil {
		return err
	}
	view, err := s.Accounts.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) rotateAccountToken(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	token, err := s.Accounts.RotateToken(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountTokenRotated{ID: r.PathValue("id"), Token: token})
	return nil
}

// contactOptions refuses subject fields by name: a contact request can
// never carry organization identity (docs/design.md §1).
var contactOptions = decodeOptions{refuseField: func(name string) error {
	if vetting.IsSubjectField(name) {
		return apperr.Invalid(apperr.CodeSubjectFieldNotAllowed, name,
			"contacts have no %s; organization identity changes only through a new organization version (POST /api/v1/organizations/{id}/versions), verified by two verifiers", name)
	}
	return nil
}}

func (s *Server) addContact(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in account.ContactInput
	if err := decode(w, r, &in, contactOptions); err != nil {
		return err
	}
	c, err := s.Accounts.AddContact(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in account.ContactInput
	if err := decode(w, r, &in, contactOptions); err != nil {
		return err
	}
	c, err := s.Accounts.UpdateContact(r.Context(), by, r.PathValue("id"), r.PathValue("cid"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	if err := s.Accounts.DeleteContact(r.Context(), by, r.PathValue("id"), r.PathValue("cid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- users ----

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	p, err := listPage(r, byName)
	if err != nil {
		return err
	}
	users, next, err := s.Auth.ListUsers(r.Context(), by, p)
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, toUserView(u, ""))
	}
	writeJSON(w, http.StatusOK, usersPage{Users: out, Next: next})
	return nil
}

// parseRoles validates role names given in the JSON field "roles".
func parseRoles(in []string) ([]actor.Role, error) {
	var roles []actor.Role
	for _, rs := range in {
		role, err := actor.ParseRole(rs)
		if err != nil {
			return nil, apperr.Invalid(apperr.CodeInvalidRole, "roles", "%v", err.(*apperr.Error).Message)
		}
		roles = append(roles, role)
	}
	return roles, nil
}

// userView is a staff user as the users API shows it: "roles" are the
// roles in force, or for a pending user the roles it will get.
type userView struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Roles        []actor.Role    `json:"roles"`
	PendingRoles []actor.Role    `json:"pendingRoles"`
	Status       auth.UserStatus `json:"status"`
	Token        string          `json:"token,omitempty"`
}

func toUserView(u auth.User, token string) userView {
	v := userView{ID: u.ID, Name: u.Name, Roles: u.Roles, PendingRoles: u.PendingRoles, Status: u.Status, Token: token}
	if u.Status == auth.UserPendingApproval {
		v.Roles = u.PendingRoles
	}
	if len(u.PendingRoles) > 0 {
		v.Status = auth.UserPendingApproval
	}
	return v
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := by.Require(actor.Admin); err != nil {
		return err
	}
	var in struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
		Email string   `json:"email"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	roles, err := parseRoles(in.Roles)
	if err != nil {
		return err
	}
	u, token, err := s.Auth.AddUser(r.Context(), by, in.Name, roles, in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toUserView(u, token))
	return nil
}

func (s *Server) grantRoles(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		Roles []string `json:"roles"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	roles, err := parseRoles(in.Roles)
	if err != nil {
		return err
	}
	u, err := s.Auth.GrantRoles(r.Context(), by, r.PathValue("id"), roles)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserView(u, ""))
	return nil
}

func (s *Server) approveUser(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	u, err := s.Auth.ApproveUser(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserView(u, ""))
	return nil
}

func (s *Server) declineUser(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	u, err := s.Auth.DeclineUser(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserView(u, ""))
	return nil
}

// rotateOwnToken gives the signed-in staff user a new token and revokes
// the old ones.
func (s *Server) rotateOwnToken(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	token, err := s.Auth.RotateOwnToken(r.Context(), by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ownTokenRotated{Name: by.Name, Token: token})
	return nil
}

// ---- audit (docs/api.md, Audit, users and change requests) ----

// parseFilter reads the query of GET /audit/events and /audit/export: only
// auditParams, each at most once (query); since and until RFC 3339 times,
// until after since.
func parseFilter(r *http.Request) (audit.Filter, error) {
	q, err := query(r, auditParams...)
	if err != nil {
		return audit.Filter{}, err
	}
	f := audit.Filter{EntityType: q.Get("entityType"), EntityID: q.Get("entityId"), Actor: q.Get("actor"), Action: q.Get("action")}
	var sinceGiven, untilGiven bool
	if f.Since, sinceGiven, err = queryTimeGiven(q, "since"); err != nil {
		return f, err
	}
	if f.Until, untilGiven, err = queryTimeGiven(q, "until"); err != nil {
		return f, err
	}
	if sinceGiven && untilGiven && !f.Until.After(f.Since) {
		return f, apperr.Invalid(apperr.CodeInvalidWindow, "until", "until must be after since")
	}
	if untilGiven && f.Until.IsZero() {
		// audit.Filter reads the zero time as no bound; a given until
		// of 0001-01-01T00:00:00Z bounds the list to the events before
		// it, which are none, and so does a nanosecond later.
		f.Until = f.Until.Add(time.Nanosecond)
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"after", &f.After}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, apperr.Invalid(apperr.CodeInvalidNumber, p.name, "%s must be a sequence number", p.name)
			}
			*p.dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, apperr.Invalid(apperr.CodeInvalidNumber, "limit", "limit must be 1-1000")
		}
		f.Limit = n
	}
	return f, nil
}

type eventOut struct {
	Seq        int64           `json:"seq"`
	At         string          `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Op         string          `json:"op"`
	EntityType string          `json:"entityType"`
	EntityID   string          `json:"entityId"`
	Content    json.RawMessage `json:"content,omitempty"`
	RowHash    string          `json:"rowHash,omitempty"`
	PrevHash   string          `json:"prevHash"`
	Hash       string          `json:"hash"`
}

func toEventOut(e audit.Event) eventOut {
	o := eventOut{Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339), Actor: e.Actor, Action: e.Action, Op: e.Op,
		EntityType: e.EntityType, EntityID: e.EntityID, RowHash: e.RowHash, PrevHash: e.PrevHash, Hash: e.Hash}
	if e.Content != nil {
		o.Content = json.RawMessage(*e.Content)
	}
	return o
}

func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	evs, err := s.Audit.List(r.Context(), by, f)
	if err != nil {
		return err
	}
	out := make([]eventOut, 0, len(evs))
	for _, e := range evs {
		out = append(out, toEventOut(e))
	}
	resp := eventsPage{Events: out}
	if len(evs) == f.PageSize() {
		resp.Next = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// auditExport streams every matching event with its content and hashes as
// JSON Lines, so an auditor can keep and re-verify the chain offline.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	return s.writeAuditExport(w, r, by, f)
}

// writeAuditExport streams the events f selects as JSON Lines, for the
// API and the console's export link alike.
func (s *Server) writeAuditExport(w http.ResponseWriter, r *http.Request, by actor.Actor, f audit.Filter) error {
	if _, err := s.Audit.List(r.Context(), by, audit.Filter{Limit: 1}); err != nil {
		return err // the role check, before any header is written
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="vetca-audit.jsonl"`)
	enc := json.NewEncoder(w)
	f.Limit = 1000
	for {
		evs, err := s.Audit.List(r.Context(), by, f)
		if err != nil {
			s.log.Error("audit export", "err", err)
			return nil
		}
		for _, e := range evs {
			if err := enc.Encode(toEventOut(e)); err != nil {
				return nil
			}
		}
		if len(evs) < f.Limit {
			return nil
		}
		f.After = evs[len(evs)-1].Seq
	}
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	rep, err := s.Audit.Verify(r.Context(), by, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// ---- change requests ----

func (s *Server) createChange(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in change.Input
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Changes.Create(r.Context(), by, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listChanges(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	status, p, err := statusPage(r, changeStatuses...)
	if err != nil {
		return err
	}
	list, next, err := s.Changes.List(r.Context(), by, status, p)
	if err != nil {
		return err
	}
	if list == nil {
		list = []change.Request{}
	}
	writeJSON(w, http.StatusOK, changeRequestsPage{ChangeRequests: list, Next: next})
	return nil
}

func (s *Server) getChange(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	v, err := s.Changes.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) approveChange(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	v, err := s.Changes.Approve(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) rejectChange(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := s.Changes.Reject(r.Context(), by, r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
