// Package incident keeps CA incidents (docs/design.md §13): an incident is
// opened by hand, from a problem report or from scan findings, with the
// moment the CA became aware of it; its affected set is resolved from
// serials or a saved query and frozen as a list with each certificate's
// state; its deadlines (revocation per BR §4.9.1.1, the initial report
// within 72 hours, the full report within 14 days, updates every 7 days,
// CCADB IRG v3.2) are computed from awareness once and nothing moves them.
// A customer's request to delay is recorded with its justification and
// changes no deadline. Bulk revocation revokes the whole set with the
// trigger's reason, resumably; a certificate still unrevoked at the
// deadline is a breach and opens a delayed-revocation incident, once.
package incident

import (
	"context"
	"log/slog"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
)

// Source is who found the problem (docs/api.md, Incidents).
type Source string

// Incident sources.
const (
	SourceSelf       Source = "self"
	SourceThirdParty Source = "third-party"
	SourceAudit      Source = "audit"
)

// Kind tells an ordinary incident from the delayed-revocation incident
// opened when an incident's revocation deadline passes with certificates
// still valid (IRG v3.2; MRSP §6.1.3).
type Kind string

// Incident kinds.
const (
	KindIncident          Kind = "incident"
	KindDelayedRevocation Kind = "revocation_delay"
)

// Status is where an incident stands.
type Status string

// Incident statuses.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Incident is one incident (table incidents). Its due times are computed
// from AwareAt when it is opened and are never written again.
type Incident struct {
	ID               string     `db:"id" json:"id"`
	Title            string     `db:"title" json:"title"`
	Kind             Kind       `db:"kind" json:"kind"`
	Source           Source     `db:"source" json:"source"`
	Trigger          string     `db:"br_trigger" json:"trigger"`
	AwareAt          time.Time  `db:"aware_at" json:"awareAt"`
	RevocationDue    time.Time  `db:"revocation_due" json:"revocationDue"`
	InitialReportDue time.Time  `db:"initial_report_due" json:"initialReportDue"`
	InitialReportAt  *time.Time `db:"initial_report_at" json:"initialReportAt,omitempty"`
	FullReportAt     *time.Time `db:"full_report_at" json:"fullReportAt,omitempty"`
	LastUpdateAt     *time.Time `db:"last_update_at" json:"lastUpdateAt,omitempty"`
	NextUpdate       *time.Time `db:"next_update" json:"nextUpdate,omitempty"`
	Status           Status     `db:"status" json:"status"`
	ProblemReportID  string     `db:"problem_report_id" json:"problemReportId,omitempty"`
	ParentID         string     `db:"parent_id" json:"parentId,omitempty"`
	Query            string     `db:"query" json:"-"` // JSON of Query; empty for a list of serials
	Affected         int        `db:"affected" json:"affected"`
	CreatedBy        string     `db:"created_by" json:"createdBy"`
	CreatedAt        time.Time  `db:"created_at" json:"createdAt"`
}

// Certificate is one certificate of an incident's frozen affected set.
type Certificate struct {
	ID            string     `db:"id" json:"-"`
	IncidentID    string     `db:"incident_id" json:"-"`
	Serial        string     `db:"serial" json:"serial"`
	AccountID     string     `db:"account_id" json:"accountId"`
	IssuerID      string     `db:"issuer_id" json:"issuerId"`
	CertSHA256    string     `db:"cert_sha256" json:"sha256"`
	NotBefore     time.Time  `db:"not_before" json:"notBefore"`
	NotAfter      time.Time  `db:"not_after" json:"notAfter"`
	StateAtFreeze string     `db:"state_at_freeze" json:"stateAtFreeze"`
	RevocationID  string     `db:"revocation_id" json:"-"`
	RevokedAt     *time.Time `db:"revoked_at" json:"revokedAt,omitempty"`
}

// EventKind is one entry of an incident's timeline.
type EventKind string

// Timeline entries.
const (
	EventOpened          EventKind = "opened"
	EventDelayRequested  EventKind = "delay_requested"
	EventRevocationStart EventKind = "revocation_started"
	EventRevoked         EventKind = "revoked"
	EventRevocationDone  EventKind = "revocation_finished"
	EventNotified        EventKind = "subscribers_notified"
	EventBreach          EventKind = "breach"
	EventDelayedOpened   EventKind = "delayed_revocation_incident_opened"
	EventReportPosted    EventKind = "report_posted"
)

// Event is one entry of an incident's timeline (table incident_events).
type Event struct {
	ID         string    `db:"id" json:"-"`
	IncidentID string    `db:"incident_id" json:"incidentId"`
	Kind       EventKind `db:"kind" json:"kind"`
	At         time.Time `db:"at" json:"at"`
	Actor      string    `db:"actor" json:"actor"`
	Ref        string    `db:"ref" json:"ref,omitempty"`
	Detail     string    `db:"detail" json:"detail,omitempty"`
}

// Inventory finds certificates (issuance.Inventory).
type Inventory interface {
	CertificateBySerial(ctx context.Context, q store.Querier, serialHex string) (issuance.Certificate, bool, error)
	CertificatesInScope(ctx context.Context, q store.Querier, sc issuance.Scope) ([]issuance.Certificate, error)
	CertificatesWithKey(ctx context.Context, q store.Querier, spkiHex string) ([]issuance.Certificate, error)
}

// Validations answers which serials relied on a validation method
// (validation.Service).
type Validations interface {
	Search(ctx context.Context, by actor.Actor, in validation.SearchInput) (validation.SearchResult, error)
}

// Revoker, Contacts and Outbox are what the problem-report desk needs of
// revocation, account and notify too: the same narrow interfaces.
type (
	Revoker  = cpr.Revoker
	Contacts = cpr.Contacts
	Outbox   = cpr.Outbox
)

// ProblemReports finds a linked problem report and its timeline
// (cpr.Service).
type ProblemReports interface {
	Get(ctx context.Context, by actor.Actor, id string) (cpr.View, error)
	Timeline(ctx context.Context, by actor.Actor, id string) ([]cpr.Event, error)
}

// Deps are the services incidents use.
type Deps struct {
	Inventory      Inventory
	Validations    Validations
	Revoker        Revoker
	Contacts       Contacts
	Outbox         Outbox
	ProblemReports ProblemReports
	// Findings selects certificates by scan finding (query.lint).
	Findings Findings
}

// Findings lists the certificates scans found failing a lint (scan.Findings).
type Findings interface {
	SerialsFailing(ctx context.Context, lintName string) ([]string, error)
}

// Service keeps incidents.
type Service struct {
	db   *store.DB
	tab  tables
	clk  clock.Clock
	deps Deps
	log  *slog.Logger
}

// New returns the incident service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, d Deps, log *slog.Logger) *Service {
	return &Service{db: db, tab: newTables(rec), clk: clk, deps: d, log: log}
}

// now is the service's clock, at the one-second resolution times are stored.
func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Second) }

// system is the actor of the service's own work (breaches, delayed
// revocation incidents).
var system = actor.SystemActor("incident")

// staffRoles may open and work incidents; readRoles may read them.
var (
	staffRoles = []actor.Role{actor.Compliance, actor.Admin}
	readRoles  = []actor.Role{actor.Compliance, actor.Admin, actor.Auditor}
)

// require checks by holds one of roles; the CLI, run by whoever holds the
// installation's audit key, may act.
func require(by actor.Actor, roles ...actor.Role) error {
	if by.Kind == actor.CLI {
		return nil
	}
	return by.Require(roles...)
}
