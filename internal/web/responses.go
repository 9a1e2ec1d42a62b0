package web

import (
	"github.com/vetca/vetca/internal/incident"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	vtemplate "github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// The JSON bodies the API answers with, where no domain type is sent as
// it is. Their field names are the wire names of docs/api.md; fields are
// declared in the order they have always been sent in (by name, as the
// maps these replaced were encoded), so the bytes on the wire are
// unchanged.

// healthResponse is GET /healthz.
type healthResponse struct {
	Status string `json:"status"`
}

// meResponse is GET /api/v1/me: who the token is.
type meResponse struct {
	AccountID string       `json:"accountId"`
	Actor     string       `json:"actor"`
	Kind      actor.Kind   `json:"kind"`
	Name      string       `json:"name"`
	Roles     []actor.Role `json:"roles"`
}

// subdivisionOut is an ISO 3166-2 subdivision of a country.
type subdivisionOut struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// countryOut is an ISO 3166-1 country, with its subdivisions when asked.
type countryOut struct {
	Code         string           `json:"code"`
	Name         string           `json:"name"`
	Sanctioned   bool             `json:"sanctioned"`
	Subdivisions []subdivisionOut `json:"subdivisions,omitempty"`
}

// countriesResponse is GET /api/v1/countries.
type countriesResponse struct {
	Countries []countryOut `json:"countries"`
	Source    string       `json:"source"`
}

// organizationCreated is POST /api/v1/organizations: version 1, pending.
type organizationCreated struct {
	Diff             []vetting.Change `json:"diff"`
	ID               string           `json:"id"`
	OrganizationName string           `json:"organizationName"`
	Status           vetting.Status   `json:"status"`
	Version          int              `json:"version"`
}

// versionProposed is POST /api/v1/organizations/{id}/versions.
type versionProposed struct {
	BasedOn int              `json:"basedOn"`
	Diff    []vetting.Change `json:"diff"`
	Status  vetting.Status   `json:"status"`
	Version int              `json:"version"`
}

// versionVerified is POST /api/v1/organizations/{id}/versions/{n}/verify.
type versionVerified struct {
	OrganizationID string                 `json:"organizationId"`
	Required       int                    `json:"required"`
	Status         vetting.Status         `json:"status"`
	Verifications  []vetting.Verification `json:"verifications"`
	Version        int                    `json:"version"`
}

// versionRejected is POST /api/v1/organizations/{id}/versions/{n}/reject.
type versionRejected struct {
	Status  vetting.Status `json:"status"`
	Version int            `json:"version"`
}

// accountCreated is POST /api/v1/accounts: the account token, shown once.
type accountCreated struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// accountTokenRotated is POST /api/v1/accounts/{id}/token.
type accountTokenRotated struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// ownTokenRotated is POST /api/v1/me/token.
type ownTokenRotated struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// eventsPage is GET /api/v1/audit/events; next is the last sequence
// number when the page is full.
type eventsPage struct {
	Events []eventOut `json:"events"`
	Next   string     `json:"next,omitempty"`
}

// orderCreated is POST /api/v1/orders.
type orderCreated struct {
	DNSNames            []string     `json:"dnsNames"`
	ID                  string       `json:"id"`
	OrganizationVersion int          `json:"organizationVersion"`
	SnapshotHash        string       `json:"snapshotHash"`
	Status              order.Status `json:"status"`
	ValidityDays        int          `json:"validityDays"`
}

// orderFinalized is POST /api/v1/orders/{id}/finalize: the certificate
// and its chain (PEM).
type orderFinalized struct {
	Certificate string    `json:"certificate"`
	Chain       string    `json:"chain"`
	NotAfter    time.Time `json:"notAfter"`
	NotBefore   time.Time `json:"notBefore"`
	Serial      string    `json:"serial"`
}

// issuersResponse is GET /api/v1/issuers.
type issuersResponse struct {
	Issuers []issuance.Issuer `json:"issuers"`
}

// shardsResponse is GET /api/v1/crl.
type shardsResponse struct {
	Shards []revocation.ShardRecord `json:"shards"`
}

// certificateItem is one certificate of GET /api/v1/certificates.
type certificateItem struct {
	issuance.Certificate
	PEM string `json:"pem,omitempty"`
}

// The list pages (docs/api.md, Lists): one page of items under the list's
// name, and "next" when there is a further page.

type organizationsPage struct {
	Next          string            `json:"next,omitempty"`
	Organizations []vetting.Summary `json:"organizations"`
}

type accountsPage struct {
	Accounts []account.Account `json:"accounts"`
	Next     string            `json:"next,omitempty"`
}

type usersPage struct {
	Next  string     `json:"next,omitempty"`
	Users []userView `json:"users"`
}

type changeRequestsPage struct {
	ChangeRequests []change.Request `json:"changeRequests"`
	Next           string           `json:"next,omitempty"`
}

type domainsPage struct {
	Domains []validation.ValidationView `json:"domains"`
	Next    string                      `json:"next,omitempty"`
}

type ordersPage struct {
	Next   string        `json:"next,omitempty"`
	Orders []order.Order `json:"orders"`
}

type certificatesPage struct {
	Certificates []certificateItem `json:"certificates"`
	Next         string            `json:"next,omitempty"`
}

// problemReportReceipt is POST /api/v1/problem-reports (202): only the
// case id and its clock, nothing about any subscriber.
type problemReportReceipt struct {
	ID                   string    `json:"id"`
	ReceivedAt           time.Time `json:"receivedAt"`
	PreliminaryReportDue time.Time `json:"preliminaryReportDue"`
}

type problemReportsPage struct {
	ProblemReports []cpr.Case `json:"problemReports"`
	Next           string     `json:"next,omitempty"`
}

// problemReportTimeline is GET /api/v1/problem-reports/{id}/timeline.
type problemReportTimeline struct {
	Events []cpr.Event `json:"events"`
}

// Bodies of the problem-report desk's actions.
type closeProblemReportInput struct {
	Reasons string `json:"reasons"`
}

type noteInput struct {
	Text string `json:"text"`
}

type assignInput struct {
	Assignee string `json:"assignee"`
}

type mergeInput struct {
	Into string `json:"into"`
}

// incidentsPage is GET /api/v1/incidents.
type incidentsPage struct {
	Incidents []incident.Incident `json:"incidents"`
	Next      string              `json:"next,omitempty"`
}

// revokeIncidentInput is the body of POST /api/v1/incidents/{id}/revoke.
type revokeIncidentInput struct {
	DryRun  bool `json:"dryRun"`
	Workers int  `json:"workers"`
}

// templateCreated is POST /api/v1/templates: the hash to approve.
type templateCreated struct {
	ID           string           `json:"id"`
	TemplateHash string           `json:"templateHash"`
	Status       vtemplate.Status `json:"status"`
}

// approveTemplateInput is the body of POST /api/v1/templates/{id}/approve:
// the hash the verifier reviewed.
type approveTemplateInput struct {
	TemplateHash string `json:"templateHash"`
}

// disableTemplateInput is the body of POST /api/v1/templates/{id}/disable.
type disableTemplateInput struct {
	Reason string `json:"reason"`
}

// templatesPage is GET /api/v1/templates.
type templatesPage struct {
	Next      string           `json:"next,omitempty"`
	Templates []vtemplate.View `json:"templates"`
}

// eabKeysPage is GET /api/v1/accounts/{id}/eab-keys: never a key itself.
type eabKeysPage struct {
	EABKeys []eab.View `json:"eabKeys"`
	Next    string     `json:"next,omitempty"`
}

// flaggedMethodsPage is GET /api/v1/validation-methods/flags.
type flaggedMethodsPage struct {
	Flags []validation.FlaggedMethod `json:"flags"`
}
