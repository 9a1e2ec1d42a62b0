// Package cpr is the Certificate Problem Report desk (BR §4.9.5,
// docs/design.md §12): it takes reports from anyone (web form, API, mail),
// makes each one a case that is durable before the reporter is answered,
// matches it against every certificate and issuance in flight by serial,
// certificate and key, decides proven key compromise on receipt, and keeps
// the BR clocks: a preliminary report to the reporter and to every matched
// subscriber within 24 hours of receipt, and revocation within the BR
// §4.9.1.1 time frame counted from receipt. Deadlines are computed from
// the receipt time only; nothing moves them. A deadline that passes unmet
// is recorded on the case as a breach.
package cpr

import (
	"context"
	"log/slog"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// Category is what a report is about (docs/api.md, Problem reports).
type Category string

// Report categories.
const (
	CategoryKeyCompromise Category = "keyCompromise"
	CategoryMisissuance   Category = "misissuance"
	CategoryOther         Category = "other"
)

// Channel is how a report arrived.
type Channel string

// Report channels.
const (
	ChannelWeb   Channel = "web"
	ChannelEmail Channel = "email"
	ChannelAPI   Channel = "api"
)

// Status is where a case stands.
type Status string

// Case statuses, in the order a case moves through them: received,
// investigating (a staff user took it up), preliminary_report_sent (both
// parties were sent the BR §4.9.5 report), decided (revoke or no action),
// closed. A key-compromise report proven on receipt is decided at once.
const (
	StatusReceived             Status = "received"
	StatusInvestigating        Status = "investigating"
	StatusPreliminarySent      Status = "preliminary_report_sent"
	StatusAwaitingConfirmation Status = "awaiting_confirmation" // a revoke decision awaits a second compliance user
	StatusDecided              Status = "decided"
	StatusClosed               Status = "closed"
	StatusMerged               Status = "merged" // a duplicate; its own clocks still run
)

// Undecided reports whether a case still awaits its decision.
func (st Status) Undecided() bool {
	return st == StatusReceived || st == StatusInvestigating || st == StatusPreliminarySent
}

// AwaitsDecision reports whether c can still be decided: an open case not
// decided yet, or a merged duplicate never decided (its decision covers its
// own matches, which the case it was merged into may not have decided).
func (c Case) AwaitsDecision() bool {
	return c.Status.Undecided() || c.Status == StatusMerged && c.Decision == DecisionNone
}

// Statuses lists every status, in lifecycle order (filters, the console).
func Statuses() []Status {
	return []Status{StatusReceived, StatusInvestigating, StatusPreliminarySent, StatusAwaitingConfirmation, StatusDecided, StatusClosed, StatusMerged}
}

// Decision is the outcome of a case.
type Decision string

// Decisions.
const (
	DecisionNone     Decision = ""
	DecisionRevoke   Decision = "revoke"
	DecisionNoAction Decision = "no_action"
)

// MatchKind says whether a match is a stored certificate or an issuance
// still in flight (an intent with no stored certificate yet).
type MatchKind string

// Match kinds.
const (
	MatchCertificate MatchKind = "certificate"
	MatchIntent      MatchKind = "intent"
)

// MatchedBy says how a match was found.
type MatchedBy string

// How matches are found.
const (
	BySerial      MatchedBy = "serial"
	ByCertificate MatchedBy = "certificate"
	ByKey         MatchedBy = "key"
	ByCSR         MatchedBy = "csr"
)

// EventKind is one entry of a case's timeline.
type EventKind string

// Timeline entries.
const (
	EventReceived    EventKind = "received"
	EventMatched     EventKind = "matched"
	EventReportSent  EventKind = "report_sent"
	EventProposed    EventKind = "decision_proposed"
	EventDecided     EventKind = "decided"
	EventRevoked     EventKind = "revoked"
	EventAlarm       EventKind = "alarm"
	EventBreach      EventKind = "breach"
	EventNote        EventKind = "note"
	EventAssigned    EventKind = "assigned"
	EventMerged      EventKind = "merged"
	EventClosed      EventKind = "closed"
	EventKeyBlocked  EventKind = "key_blocked"
	EventPrelimMet   EventKind = "preliminary_report_complete"
	EventFinalReport EventKind = "final_report"
	// EventPrelimDelivered: every preliminary report that met the
	// obligation was delivered, so no failed delivery can reopen it.
	EventPrelimDelivered EventKind = "preliminary_report_delivered"
)

// Recipient roles of the reports a case sends.
const (
	RoleSubscriber = "subscriber"
	RoleReporter   = "reporter"
)

// Case is a problem report (table problem_reports).
type Case struct {
	ID                   string     `db:"id" json:"id"`
	ReporterEmail        string     `db:"reporter_email" json:"reporterEmail"`
	Category             Category   `db:"category" json:"category"`
	Description          string     `db:"description" json:"description"`
	Channel              Channel    `db:"channel" json:"channel"`
	Status               Status     `db:"status" json:"status"`
	ReceivedAt           time.Time  `db:"received_at" json:"receivedAt"`
	PreliminaryReportDue time.Time  `db:"preliminary_report_due" json:"preliminaryReportDue"`
	PreliminaryReportAt  *time.Time `db:"preliminary_report_at" json:"preliminaryReportCompleteAt,omitempty"`
	RevocationDue        *time.Time `db:"revocation_due" json:"revocationDue,omitempty"`
	RevokeAt             *time.Time `db:"revoke_at" json:"revokeAt,omitempty"`
	Trigger              string     `db:"br_trigger" json:"trigger,omitempty"`
	SPKISHA256           string     `db:"spki_sha256" json:"spkiSha256,omitempty"`
	Evidence             string     `db:"evidence" json:"-"` // JSON: evidenceRecord
	Decision             Decision   `db:"decision" json:"decision,omitempty"`
	DecisionReason       string     `db:"decision_reason" json:"decisionReason,omitempty"`
	DecidedBy            string     `db:"decided_by" json:"decidedBy,omitempty"`
	DecidedAt            *time.Time `db:"decided_at" json:"decidedAt,omitempty"`
	PendingBy            string     `db:"pending_by" json:"proposedBy,omitempty"` // user id of who proposed a decision awaiting confirmation
	AssignedTo           string     `db:"assigned_to" json:"assignedTo,omitempty"`
	MergedInto           string     `db:"merged_into" json:"mergedInto,omitempty"`
	ClosedAt             *time.Time `db:"closed_at" json:"closedAt,omitempty"`
	CloseReason          string     `db:"close_reason" json:"closeReason,omitempty"`
}

// Match is one certificate or issuance in flight a case is about.
type Match struct {
	ID         string    `db:"id" json:"-"`
	ReportID   string    `db:"report_id" json:"-"`
	Serial     string    `db:"serial" json:"serial"`
	Kind       MatchKind `db:"kind" json:"kind"`
	AccountID  string    `db:"account_id" json:"accountId"`
	MatchedBy  MatchedBy `db:"matched_by" json:"matchedBy"`
	SPKISHA256 string    `db:"spki_sha256" json:"spkiSha256"`
	CreatedAt  time.Time `db:"created_at" json:"matchedAt"`
}

// Event is one entry of a case's timeline.
type Event struct {
	ID        string    `db:"id" json:"-"`
	ReportID  string    `db:"report_id" json:"caseId"`
	Kind      EventKind `db:"kind" json:"kind"`
	At        time.Time `db:"at" json:"at"`
	Actor     string    `db:"actor" json:"actor"`
	Recipient string    `db:"recipient" json:"to,omitempty"`
	Role      string    `db:"role" json:"role,omitempty"`
	AccountID string    `db:"account_id" json:"accountId,omitempty"`
	Ref       string    `db:"ref" json:"ref,omitempty"`
	Detail    string    `db:"detail" json:"detail,omitempty"`
}

// Inventory finds certificates and intents (issuance.Inventory).
type Inventory interface {
	CertificateBySerial(ctx context.Context, q store.Querier, serialHex string) (issuance.Certificate, bool, error)
	CertificateByHash(ctx context.Context, q store.Querier, certHex string) (issuance.Certificate, bool, error)
	CertificatesWithKey(ctx context.Context, q store.Querier, spkiHex string) ([]issuance.Certificate, error)
	IntentBySerial(ctx context.Context, q store.Querier, serialHex string) (issuance.Intent, bool, error)
	IntentsOfOrders(ctx context.Context, q store.Querier, orderIDs []string) ([]issuance.Intent, error)
}

// Orders finds orders by key and their accounts (order.Service).
type Orders interface {
	OrdersWithKey(ctx context.Context, q store.Querier, spkiHex string) ([]order.KeyOrder, error)
	AccountOfOrder(ctx context.Context, q store.Querier, orderID string) (string, error)
	// HoldsCSR reports whether an order with the key was placed with
	// exactly this CSR (DER).
	HoldsCSR(ctx context.Context, q store.Querier, spkiHex string, der []byte) (bool, error)
}

// Revoker revokes in the caller's transaction (revocation.Service).
type Revoker interface {
	RevokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, d revocation.Decision, in revocation.Input) (revocation.Revocation, error)
	Published(ctx context.Context, rs ...revocation.Revocation)
	Get(ctx context.Context, q store.Querier, serial string) (revocation.Revocation, bool, error)
	// FirstRecorded is when a revocation was first recorded (its
	// RecordedAt moves with each update of the entry).
	FirstRecorded(ctx context.Context, q store.Querier, r revocation.Revocation) (time.Time, error)
	Locked(ctx context.Context, tx *store.Tx, cert issuance.Certificate) (revocation.Revocation, bool, error)
}

// Contacts returns the subscriber contacts of an account (account.Service).
type Contacts interface {
	ContactsForAccount(ctx context.Context, q store.Querier, accountID string) ([]account.Contact, error)
}

// Outbox queues mail in the caller's transaction (notify.Outbox).
type Outbox interface {
	Enqueue(ctx context.Context, tx *store.Tx, by actor.Actor, m notify.Message) (notify.Message, error)
}

// Deps are the services the desk uses.
type Deps struct {
	Inventory Inventory
	Orders    Orders
	Revoker   Revoker
	Contacts  Contacts
	Outbox    Outbox
	// Assignable reports whether name is an active staff user who may
	// work the desk (compliance or admin): a case is assigned only to
	// someone who can act on it.
	Assignable func(ctx context.Context, name string) (bool, error)
}

// DefaultAlarmLead is how long before a deadline compliance is alarmed
// (serve --cpr-alarm-lead).
const DefaultAlarmLead = time.Hour

// Config is the desk's policy.
type Config struct {
	// ConfirmRevocation makes a revoke decision wait for a second
	// compliance user's confirmation.
	ConfirmRevocation bool
	// ComplianceEmail receives alarms before deadlines (--compliance-email).
	ComplianceEmail string
	// AlarmLead is how long before a deadline the alarm is raised, and the
	// latest a scheduled revocation is carried out before its deadline.
	AlarmLead time.Duration
}

// Service is the problem-report desk.
type Service struct {
	db   *store.DB
	rec  *audit.Recorder
	tab  tables
	clk  clock.Clock
	deps Deps
	cfg  Config
	log  *slog.Logger
}

// New returns the desk.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, d Deps, cfg Config, log *slog.Logger) *Service {
	if cfg.AlarmLead <= 0 {
		cfg.AlarmLead = DefaultAlarmLead
	}
	return &Service{db: db, rec: rec, tab: newTables(rec), clk: clk, deps: d, cfg: cfg, log: log}
}

// Config returns the desk's policy.
func (s *Service) Config() Config { return s.cfg }

// now is the desk's clock, at the one-second resolution times are stored.
func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Second) }

// system is the actor of the desk's own work (scheduled revocations,
// alarms, breaches, decisions on receipt).
var system = actor.SystemActor("cpr")

// deskRoles may work cases.
var deskRoles = []actor.Role{actor.Compliance, actor.Admin}
