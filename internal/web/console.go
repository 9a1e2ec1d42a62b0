package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/notify/devmail"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/vetting"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Mailbox is the --dev mailbox.
type Mailbox interface{ Messages() []devmail.Message }

// cookieName holds the console session id (auth.Service.StartSession):
// random, stored in the database only as its SHA-256, never the API token.
// HttpOnly, SameSite=Strict, Path=/, and Secure when the public URL is
// https or the request came over TLS.
const cookieName = "vetca_session"

// NavLink is a console menu entry.
type NavLink struct{ Href, Label string }

// Page is what every console template gets.
type Page struct {
	Title string
	Me    actor.Actor
	Error string
	Flash string
	Data  any
	// Nav is the menu: only the pages Me may open (menu).
	Nav []NavLink
}

// consoleHandler is a console page handler.
type consoleHandler func(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error)

func (s *Server) consoleRoutes() {
	sub, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(sub))))
	s.mux.HandleFunc("GET /{$}", s.signinPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /console", s.console(s.dashboard))
	s.mux.HandleFunc("GET /console/organizations", s.console(s.orgsPage))
	s.mux.HandleFunc("POST /console/organizations", s.console(s.orgsCreate))
	s.mux.HandleFunc("GET /console/organizations/{id}", s.console(s.orgPage))
	s.mux.HandleFunc("POST /console/organizations/{id}/versions", s.console(s.orgPropose))
	s.mux.HandleFunc("POST /console/organizations/{id}/versions/{n}/verify", s.console(s.orgVerify))
	s.mux.HandleFunc("GET /console/accounts", s.console(s.accountsPage))
	s.mux.HandleFunc("GET /console/accounts/{id}", s.console(s.accountPage))
	s.mux.HandleFunc("POST /console/accounts/{id}/contacts", s.console(s.accountAddContact))
	s.mux.HandleFunc("GET /console/audit", s.console(s.auditPage))
	s.mux.HandleFunc("GET /console/audit/export", s.console(s.auditExportDownload))
	s.mux.HandleFunc("GET /console/change-requests", s.console(s.changesPage))
	s.mux.HandleFunc("POST /console/change-requests/{id}/approve", s.console(s.changeApprove))
	s.mux.HandleFunc("GET /console/mail", s.console(s.mailPage))
	s.mux.HandleFunc("GET /console/me", s.console(s.mePage))
	s.mux.HandleFunc("POST /console/me/token", s.console(s.meRotateToken))
	s.consoleOrderRoutes()
	s.consoleProblemReportRoutes()
	s.consoleIncidentRoutes()
	s.consoleTemplateRoutes()
	// Any other console path is the error page's 404, signed in.
	s.mux.HandleFunc("GET /console/", s.console(s.notFoundPage))
}

// menu is the console menu for by: the pages by may open, and no others.
// Each entry mirrors the rule of the service its page calls (named
// alongside); TestConsoleMenuLinksOpen follows every link for every
// role, so a rule changed in one place and not the other fails there.
func (s *Server) menu(by actor.Actor) []NavLink {
	var nav []NavLink
	switch {
	case by.IsStaff():
		nav = append(nav,
			NavLink{Href: "/console/organizations", Label: "Organizations"}, // vetting.Service.List: staff
			NavLink{Href: "/console/accounts", Label: "Accounts"})           // account.Service.List: staff
	case by.Kind == actor.Subscriber:
		// account.Service.Get: the account's own subscriber
		nav = append(nav, NavLink{Href: "/console/accounts/" + by.AccountID, Label: "Account"})
	default:
		return nil
	}
	// order.Service.List and Certificates: staff, or a subscriber's own
	nav = append(nav, NavLink{Href: "/console/orders", Label: "Orders"}, NavLink{Href: "/console/certificates", Label: "Certificates"})
	if templateReader(by) { // template.Service.List: staff, or a subscriber's own
		nav = append(nav, NavLink{Href: "/console/templates", Label: "Templates"})
	}
	if by.Require(actor.Admin, actor.Compliance, actor.Verifier, actor.Auditor) == nil { // change.Service.List
		nav = append(nav, NavLink{Href: "/console/change-requests", Label: "Change requests"})
	}
	if deskRole(by) { // cpr.Service.List: compliance, admin
		nav = append(nav, NavLink{Href: "/console/problem-reports", Label: "Problem reports"})
	}
	if incidentReader(by) { // incident.Service.List: compliance, admin, auditor
		nav = append(nav, NavLink{Href: "/console/incidents", Label: "Incidents"})
	}
	if by.Require(actor.Auditor, actor.Admin) == nil { // audit.Service.List
		nav = append(nav, NavLink{Href: "/console/audit", Label: "Audit"})
	}
	if s.DevMail != nil && by.IsStaff() { // mailPage: staff, with serve --dev
		nav = append(nav, NavLink{Href: "/console/mail", Label: "Dev mailbox"})
	}
	return nav
}

// render executes layout + the page template.
func (s *Server) render(w http.ResponseWriter, status int, name string, p *Page) {
	t, err := s.template(name)
	if err != nil {
		s.log.Error("console template", "template", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	p.Nav = s.menu(p.Me)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", p); err != nil {
		s.log.Error("console render", "template", name, "err", err)
	}
}

func (s *Server) template(name string) (*template.Template, error) {
	s.tmplMu.Lock()
	defer s.tmplMu.Unlock()
	if s.tmpls == nil {
		s.tmpls = map[string]*template.Template{}
	}
	if t, ok := s.tmpls[name]; ok {
		return t, nil
	}
	// Partials (templates/_*.html) are shared by every page.
	t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", "templates/"+name+".html")
	if err != nil {
		return nil, err
	}
	s.tmpls[name] = t
	return t, nil
}

// sessionActor resolves the console cookie's session (auth.Service.Session).
func (s *Server) sessionActor(r *http.Request) (actor.Actor, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return actor.Actor{}, apperr.Unauthenticated(apperr.CodeUnauthenticated, apperr.NoField, "not signed in")
	}
	return s.Auth.Session(r.Context(), c.Value)
}

// sameOrigin refuses a cross-site form post (SameSite=Strict already keeps
// the cookie off it in current browsers; this is defense in depth).
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return origin == ""
		}
		origin = ref
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	// Behind a proxy that sends the backend's address as Host, the
	// browser's origin is the configured public URL's.
	pub, err := url.Parse(s.PublicURL)
	return err == nil && s.PublicURL != "" && u.Scheme == pub.Scheme && u.Host == pub.Host
}

func (s *Server) console(h consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		by, err := s.sessionActor(r)
		if err != nil {
			if apperr.IsKind(err, apperr.KindUnauthenticated) {
				s.clearSessionCookie(w, r) // refused, not merely unreadable right now
			}
			if apperr.HasCode(err, apperr.CodeIntegrityViolation) {
				s.render(w, http.StatusInternalServerError, "signin", &Page{Title: "Sign in", Error: err.Error()})
				return
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if !s.sameOrigin(r) {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			if err := badTextInValues(r.PostForm); err != nil {
				s.renderError(w, by, http.StatusBadRequest, err.Error())
				return
			}
		}
		page, tmpl, err := h(w, r, by)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok {
				s.log.Error("console", "path", r.URL.Path, "request", requestID(r), "err", err)
				s.renderError(w, by, http.StatusInternalServerError, "internal error; logged as request "+requestID(r))
				return
			}
			if page == nil || tmpl == "" {
				if e.Kind == apperr.KindIntegrity || e.Code == apperr.CodeIntegrityViolation {
					s.log.Error("integrity violation", "path", r.URL.Path, "request", requestID(r), "err", e.Message)
				}
				s.renderError(w, by, statusOf(e.Kind), describeErr(e))
				return
			}
			page.Error = describeErr(e)
			page.Me = by
			s.render(w, statusOf(e.Kind), tmpl, page)
			return
		}
		if page == nil { // handler redirected
			return
		}
		page.Me = by
		if page.Flash == "" {
			page.Flash = flashOf(r)
		}
		s.render(w, http.StatusOK, tmpl, page)
	}
}

// errorData is the error page's: what went wrong, and the HTTP status.
type errorData struct {
	Status  int
	Message string
}

// renderError answers a console request that could not be served (a page
// by may not open, an object that does not exist or is not visible to it,
// a failure) with the error page and its HTTP status, never with another
// page's content.
func (s *Server) renderError(w http.ResponseWriter, by actor.Actor, status int, message string) {
	title := http.StatusText(status)
	switch status {
	case http.StatusForbidden:
		title = "Not allowed"
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusInternalServerError:
		title = "Something went wrong"
	}
	s.render(w, status, "error", &Page{Title: title, Me: by, Data: errorData{Status: status, Message: message}})
}

// notFoundPage answers a console path that names no page.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	return nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "there is no console page at %s", r.URL.Path)
}

func describeErr(e *apperr.Error) string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// redirect answers a console form post with a redirect to to, carrying
// flash, the message the next page shows, as ok= with its MAC (okmac=).
func redirect(w http.ResponseWriter, r *http.Request, to, flash string) (*Page, string, error) {
	if mac := flashMAC(r, flash); flash != "" && mac != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "ok=" + url.QueryEscape(flash) + "&okmac=" + mac
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil, "", nil
}

// flashMAC authenticates a flash message to the session that made it: an
// HMAC keyed with the session cookie, which only that browser holds. A
// link with ok= alone (a phishing message in the console's own success
// banner) shows nothing.
func flashMAC(r *http.Request, flash string) string {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return ""
	}
	h := hmac.New(sha256.New, []byte(c.Value))
	h.Write([]byte("vetca console flash\x00" + flash))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// flashOf is the flash message a redirect gave this request, or "" when
// there is none or its MAC is not this session's.
func flashOf(r *http.Request) string {
	q := r.URL.Query()
	flash, mac := q.Get("ok"), q.Get("okmac")
	want := flashMAC(r, flash)
	if flash == "" || want == "" || !hmac.Equal([]byte(mac), []byte(want)) {
		return ""
	}
	return flash
}

// stat is one count on the dashboard, linking to the page it counts.
type stat struct {
	ID    string
	Count int
	Label string
	Href  string
}

type dashboardData struct {
	Stats []stat
}

// dashboard shows the counts by may see, each from the service that owns
// it. A count the service refuses to by is left out rather than shown as
// zero: staff see organizations, accounts, orders, certificates and (by
// role) change requests and the open and breached problem reports; a
// subscriber its own organizations, orders and certificates.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	ctx := r.Context()
	var d dashboardData
	add := func(err error, stats ...stat) error {
		if apperr.IsKind(err, apperr.KindForbidden) {
			return nil
		}
		if err == nil {
			d.Stats = append(d.Stats, stats...)
		}
		return err
	}
	if by.Kind == actor.Subscriber {
		view, err := s.Accounts.Get(ctx, by, by.AccountID)
		if err := add(err, stat{"stat-orgs", len(view.Organizations), "organizations this account may order for", "/console/accounts/" + by.AccountID}); err != nil {
			return nil, "", err
		}
	} else {
		orgs, pending, err := s.Vetting.Counts(ctx, by)
		if err := add(err, stat{"stat-orgs", orgs, "organizations", "/console/organizations"},
			stat{"stat-pending", pending, "identity versions awaiting verification", "/console/organizations"}); err != nil {
			return nil, "", err
		}
		accounts, err := s.Accounts.Count(ctx, by)
		if err := add(err, stat{"stat-accounts", accounts, "accounts", "/console/accounts"}); err != nil {
			return nil, "", err
		}
	}
	c, err := s.Orders.Counts(ctx, by)
	if err := add(err, stat{"stat-orders", c.Orders, "orders", "/console/orders"},
		stat{"stat-orders-pending", c.PendingApproval, "orders awaiting approval", "/console/orders?status=" + string(order.StatusPendingApproval)},
		stat{"stat-certificates", c.Certificates, "certificates", "/console/certificates"}); err != nil {
		return nil, "", err
	}
	n, err := s.Changes.CountPending(ctx, by)
	if err := add(err, stat{"stat-changes", n, "change requests awaiting approval", "/console/change-requests"}); err != nil {
		return nil, "", err
	}
	if deskRole(by) { // cpr.Service.List: compliance, admin
		open, breached, err := s.deskCounts(r, by)
		if err := add(err, stat{"stat-cases", open, "open problem reports", "/console/problem-reports"},
			stat{"stat-cases-breached", breached, "open problem reports with a breached deadline", "/console/problem-reports?breached=1"}); err != nil {
			return nil, "", err
		}
	}
	return &Page{Title: "Dashboard", Data: d}, "dashboard", nil
}

type orgsData struct {
	List       []vetting.Summary
	CanCreate  bool
	Countries  []iso3166.Country
	Sanctioned string
	Next       string
	NextQuery  string
}

func (s *Server) orgsData(r *http.Request, by actor.Actor) (orgsData, error) {
	p, err := pageOf(r)
	if err != nil {
		return orgsData{}, err
	}
	list, next, err := s.Vetting.List(r.Context(), by, p)
	return orgsData{List: list, CanCreate: by.Has(actor.Verifier), Countries: iso3166.Countries(),
		Sanctioned: strings.Join(s.Vetting.Config().SanctionedCountries, ", "), Next: next, NextQuery: nextQuery(r, next)}, err
}

// nextQuery is the href of a console list's next page: "?" and the query
// string, the same filters after the cursor. The "?" is part of the value
// so that html/template, seeing a URL start in the href, keeps the
// query's "=" and "&"; after a literal "?" in the template it would escape
// the whole value as one query component ("?after%3d…"), a link that
// shows the first page again.
func nextQuery(r *http.Request, next string) string {
	q := r.URL.Query()
	q.Set("after", next)
	return "?" + q.Encode()
}

// listData is a console list page's data: the items, and the next page.
type listData[T any] struct {
	List      []T
	Next      string
	NextQuery string
}

func newList[T any](r *http.Request, items []T, next string) listData[T] {
	return listData[T]{List: items, Next: next, NextQuery: nextQuery(r, next)}
}

// names are the display names of the organizations and accounts a page
// refers to by id, as far as the signed-in actor may read them; a name
// missing here is shown as the id.
type names struct {
	orgs     map[string]vetting.Summary
	accounts map[string]string
}

// namesOf looks up the names of the organizations and accounts by id
// (vetting.Service.Summaries, account.Service.Names).
func (s *Server) namesOf(r *http.Request, by actor.Actor, orgIDs, accountIDs []string) (names, error) {
	orgs, err := s.Vetting.Summaries(r.Context(), by, orgIDs, s.Accounts.CanReadOrganization)
	if err != nil {
		return names{}, err
	}
	accounts, err := s.Accounts.Names(r.Context(), by, accountIDs)
	return names{orgs: orgs, accounts: accounts}, err
}

func (n names) org(id string) string {
	if o, ok := n.orgs[id]; ok && o.OrganizationName != "" {
		return o.OrganizationName
	}
	return id
}

func (n names) account(id string) string {
	if a, ok := n.accounts[id]; ok && a != "" {
		return a
	}
	return id
}

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.orgsData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Organizations", Data: d}, "orgs", nil
}

func (s *Server) orgsCreate(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	f := r.PostForm
	in := vetting.CreateInput{Fields: vetting.Fields{
		OrganizationName: f.Get("organizationName"), CountryName: f.Get("countryName"),
		StateOrProvinceName: f.Get("stateOrProvinceName"), LocalityName: f.Get("localityName"),
		StreetAddress: f.Get("streetAddress"), PostalCode: f.Get("postalCode"), RegistrationNumber: f.Get("registrationNumber"),
	}}
	if ref := f.Get("sanctionsReference"); ref != "" || f.Get("sanctionsDecision") != "" {
		in.SanctionsReview = &vetting.SanctionsReview{Reference: ref, Decision: f.Get("sanctionsDecision"), Notes: f.Get("sanctionsNotes")}
	}
	org, _, err := s.Vetting.Create(r.Context(), by, in)
	if err != nil {
		d, _ := s.orgsData(r, by)
		return &Page{Title: "Organizations", Data: d}, "orgs", err
	}
	return redirect(w, r, "/console/organizations/"+org.ID, "Version 1 proposed; two other verifiers must verify it.")
}

type orgData struct {
	View      vetting.View
	CanVerify bool
	Fields    []string
}

func (s *Server) orgData(r *http.Request, by actor.Actor) (orgData, error) {
	view, err := s.Vetting.Get(r.Context(), by, r.PathValue("id"), s.Accounts.CanReadOrganization)
	return orgData{View: view, CanVerify: by.Has(actor.Verifier) || by.Has(actor.Compliance),
		Fields: []string{"organizationName", "countryName", "stateOrProvinceName", "localityName", "streetAddress", "postalCode", "registrationNumber"}}, err
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.orgData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Organization", Data: d}, "org", nil
}

func (s *Server) orgVerify(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		return nil, "", apperr.NotFound(apperr.CodeNotFound, "version", "no such version")
	}
	var ev []vetting.Evidence
	if src, ref := r.PostForm.Get("source"), r.PostForm.Get("reference"); src != "" || ref != "" {
		ev = append(ev, vetting.Evidence{Source: src, Reference: ref})
	}
	v, _, err := s.Vetting.Verify(r.Context(), by, r.PathValue("id"), n, ev)
	if err != nil {
		d, derr := s.orgData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Organization", Data: d}, "org", err
	}
	return redirect(w, r, "/console/organizations/"+r.PathValue("id"), fmt.Sprintf("Version %d: your verification is recorded; status %s.", v.Version, v.Status))
}

func (s *Server) orgPropose(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	var in vetting.ChangeInput
	clear := r.PostForm["clear"]
	get := func(name string) *string {
		if v := r.PostForm.Get(name); v != "" || slices.Contains(clear, name) {
			return &v
		}
		return nil
	}
	in.OrganizationName, in.CountryName = get("organizationName"), get("countryName")
	in.StateOrProvinceName, in.LocalityName = get("stateOrProvinceName"), get("localityName")
	in.StreetAddress, in.PostalCode, in.RegistrationNumber = get("streetAddress"), get("postalCode"), get("registrationNumber")
	v, err := s.Vetting.Propose(r.Context(), by, r.PathValue("id"), in)
	if err != nil {
		d, derr := s.orgData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Organization", Data: d}, "org", err
	}
	return redirect(w, r, "/console/organizations/"+r.PathValue("id"), fmt.Sprintf("Version %d proposed.", v.Version))
}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	if by.Kind == actor.Subscriber {
		return redirect(w, r, "/console/accounts/"+by.AccountID, "")
	}
	p, err := pageOf(r)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.Accounts.List(r.Context(), by, p)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Accounts", Data: newList(r, list, next)}, "accounts", nil
}

// orgRef is an organization named on another object's page.
type orgRef struct {
	ID   string
	Name string
}

type accountData struct {
	View          account.View
	Organizations []orgRef
	Roles         []string
}

func (s *Server) accountData(r *http.Request, by actor.Actor) (accountData, error) {
	view, err := s.Accounts.Get(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return accountData{}, err
	}
	n, err := s.namesOf(r, by, view.Organizations, nil)
	if err != nil {
		return accountData{}, err
	}
	d := accountData{View: view, Roles: account.ContactRoles}
	for _, id := range view.Organizations {
		d.Organizations = append(d.Organizations, orgRef{ID: id, Name: n.org(id)})
	}
	return d, nil
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.accountData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Account", Data: d}, "account", nil
}

func (s *Server) accountAddContact(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	f := r.PostForm
	str := func(k string) *string { v := f.Get(k); return &v }
	var err error
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if err = contactOptions.refuseField(k); err != nil {
			break // a contact never carries identity (docs/design.md §1), on the console as through the API
		}
	}
	if err == nil {
		_, err = s.Accounts.AddContact(r.Context(), by, r.PathValue("id"), account.ContactInput{Name: str("name"), Email: str("email"), Phone: str("phone"), Role: str("role")})
	}
	if err != nil {
		d, derr := s.accountData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Account", Data: d}, "account", err
	}
	return redirect(w, r, "/console/accounts/"+r.PathValue("id"), "Contact added.")
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	if err := by.Require(actor.Auditor, actor.Admin); err != nil {
		return nil, "", err
	}
	// verify=1 asks for a whole verification beside the list; the rest
	// of the query is the audit API's filter, checked as strictly.
	q := r.URL.Query()
	verify := q.Get("verify")
	if verify != "" && verify != "1" {
		return nil, "", apperr.Invalid(apperr.CodeInvalidValue, "verify", "verify=1 runs a whole verification; no other value is meant")
	}
	q.Del("verify")
	fr := r.Clone(r.Context())
	fr.URL.RawQuery = q.Encode()
	f, err := parseFilter(fr)
	if err != nil {
		return nil, "", err
	}
	if f.Limit == 0 {
		f.Limit = 200
	}
	evs, err := s.Audit.List(r.Context(), by, f)
	if err != nil {
		return nil, "", err
	}
	d := auditData{Events: evs, Filter: f}
	if len(evs) == f.Limit {
		d.Next = evs[len(evs)-1].Seq
		// The next page keeps the whole filter (action, since, until,
		// limit and all), as the other lists' links do; not verify.
		d.NextQuery = nextQuery(fr, strconv.FormatInt(d.Next, 10))
	}
	// The export link exports what the filter selects, every page of it.
	eq := fr.URL.Query()
	eq.Del("after")
	eq.Del("limit")
	if len(eq) > 0 {
		d.ExportQuery = "?" + eq.Encode()
	}
	if verify == "1" {
		rep, err := s.Audit.Verify(r.Context(), by, "")
		if err != nil {
			return nil, "", err
		}
		d.Report = rep
	}
	return &Page{Title: "Audit", Data: d}, "audit", nil
}

// auditExportDownload is the audit page's export link: the API's JSON
// Lines export (GET /api/v1/audit/export, same filter and role check) for
// the signed-in user. The API endpoint takes a bearer token, which a
// browser following a link does not send.
func (s *Server) auditExportDownload(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	f, err := parseFilter(r)
	if err != nil {
		return nil, "", err
	}
	if err := s.writeAuditExport(w, r, by, f); err != nil {
		return nil, "", err
	}
	return nil, "", nil
}

// auditData is the audit page's: one page of events (Next is the last
// sequence number when there may be more) and, when asked, the report of
// a whole verification.
type auditData struct {
	Events []audit.Event
	Filter audit.Filter
	Next   int64
	// NextQuery is the href of the next page (nextQuery).
	NextQuery string
	// ExportQuery is the export link's query: the page's filter without
	// its paging.
	ExportQuery string
	Report      *audit.Report
}

func (s *Server) changesData(r *http.Request, by actor.Actor) (listData[change.Request], error) {
	p, err := pageOf(r)
	if err != nil {
		return listData[change.Request]{}, err
	}
	list, next, err := s.Changes.List(r.Context(), by, "", p)
	return newList(r, list, next), err
}

func (s *Server) changesPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	d, err := s.changesData(r, by)
	if err != nil {
		return nil, "", err
	}
	return &Page{Title: "Change requests", Data: d}, "changes", nil
}

func (s *Server) changeApprove(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	v, err := s.Changes.Approve(r.Context(), by, r.PathValue("id"))
	if err != nil {
		d, derr := s.changesData(r, by)
		if derr != nil {
			return nil, "", err
		}
		return &Page{Title: "Change requests", Data: d}, "changes", err
	}
	msg := "Approval recorded."
	if v.Outcome != "" {
		msg = "Applied: " + v.Outcome
	}
	return redirect(w, r, "/console/change-requests", msg)
}

func (s *Server) mailPage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	if s.DevMail == nil {
		return nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "the dev mailbox runs only with serve --dev and no --smtp")
	}
	if !by.IsStaff() {
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	return &Page{Title: "Dev mailbox", Data: mailData{Messages: s.DevMail.Messages()}}, "mail", nil
}

// mailData is the dev mailbox page's: the messages delivered, newest first.
type mailData struct {
	Messages []devmail.Message
}
