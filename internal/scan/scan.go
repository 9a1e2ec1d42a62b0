// Package scan checks every unexpired certificate in the inventory again,
// with the lints and rules of the code base as it is now, and stores what it
// finds (docs/architecture.md, "Scans"). It owns scan_runs and
// scan_findings.
//
// A run walks certificates in serial order, a batch at a time, checking
// each batch in parallel (Options.Workers). After every batch, and when it
// is stopped, it records the run's cursor (the last serial before which
// every certificate was checked) and the serials checked beyond it, so a
// later run with the same selection continues where the stopped one ended
// and checks each certificate once. Findings are keyed by (serial, lint,
// field): a finding already stored by an earlier run is known, any other is
// new.
package scan

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// The names of the checks that are not certificate lints. A lint finding
// carries the lint's own name.
const (
	CheckIssuedVersion = "vetca_subject_matches_org_version"
	CheckCurrentOrg    = "vetca_subject_matches_current_org"
	CheckAuditChain    = "vetca_audit_chain_complete"
	CheckIntegrity     = "vetca_audit_integrity"
	CheckValidityCap   = "vetca_validity_within_br_cap"
	CheckSerialLength  = "vetca_serial_entropy"
	CheckKeyBlocked    = "vetca_key_not_blocked"
	CheckDCVFlagged    = "vetca_dcv_method_flagged"
	CheckDualControl   = "vetca_approval_dual_control"
)

// Checks returns the names of the checks that are not certificate lints.
func Checks() []string {
	return []string{CheckIssuedVersion, CheckCurrentOrg, CheckAuditChain, CheckIntegrity, CheckValidityCap,
		CheckSerialLength, CheckKeyBlocked, CheckDCVFlagged, CheckDualControl}
}

// Severity is how serious a finding is.
type Severity string

// Severities: lint errors and fatals, lint warnings (reported apart), and
// the scanner's own checks, which are errors.
const (
	SeverityFatal Severity = "fatal"
	SeverityError Severity = "error"
	SeverityWarn  Severity = "warn"
)

// Finding is one problem with one certificate.
type Finding struct {
	Serial   string   `json:"serial"`
	Lint     string   `json:"lint"`
	Field    string   `json:"field"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
	New      bool     `json:"new"`
}

// Inventory is what a scan needs from issuance (issuance.Inventory).
type Inventory interface {
	ScanSerials(ctx context.Context, q store.Querier, f issuance.ScanFilter, after string, limit int) ([]string, error)
	CertificateBySerial(ctx context.Context, q store.Querier, serial string) (issuance.Certificate, bool, error)
	CheckIssued(ctx context.Context, q store.Querier, c issuance.Certificate) (string, error)
}

// Orders is what a scan needs from orders (order.Service).
type Orders interface {
	CheckIssuedOrder(ctx context.Context, q store.Querier, orderID, serial string) (string, error)
}

// Organizations is what a scan needs from vetting (vetting.Service).
type Organizations interface {
	VersionOf(ctx context.Context, q store.Querier, orgID string, n int) (vetting.Version, bool, error)
	CurrentVerified(ctx context.Context, q store.Querier, orgID string) (vetting.Version, error)
}

// Blocklist is the keyCompromise blocklist (issuance.Blocklist).
type Blocklist interface {
	Blocked(ctx context.Context, q store.Querier, spkiHex string) (bool, error)
}

// Validations says which names of a certificate relied on a domain
// validation of a method version flagged since (validation.Service).
type Validations interface {
	FlaggedReliance(ctx context.Context, q store.Querier, serial string) ([]validation.Reliance, []validation.FlaggedMethod, error)
}

// OrderApprovals reads an order with the approvals that count for its
// snapshot, integrity-checked (order.Service.Get).
type OrderApprovals interface {
	Get(ctx context.Context, by actor.Actor, id string) (order.View, error)
}

// Accounts names who acted for an account by a time (account.Service): the
// rule approvals and finalize are held to, so a scan judges by the same
// one, as of the certificate's issuance.
type Accounts interface {
	StaffActingBefore(ctx context.Context, q store.Querier, accountID, orgID string, before time.Time) (map[string]string, error)
}

// Linter lints one certificate (lint.Linter). Tests pass one built with
// extra lints, standing for lints added to the code base after issuance.
type Linter interface {
	LintCertificate(der []byte, expected ...profile.Subject) (*lint.Report, error)
}

// Deps are the owners a scan asks.
type Deps struct {
	DB *store.DB
	// Rec writes and checks scan_runs and scan_findings, which are
	// audited like every other table.
	Rec           *audit.Recorder
	Clock         clock.Clock
	Inventory     Inventory
	Orders        Orders
	Organizations Organizations
	Blocklist     Blocklist
	Linter        Linter
	// Validations, when set, adds the check of flagged validation methods.
	Validations Validations
	// OrderApprovals and Accounts, when both set, add the re-check of each
	// order's dual control (CheckDualControl).
	OrderApprovals OrderApprovals
	Accounts       Accounts
}

// Options narrow and shape one run.
type Options struct {
	All      bool      // include revoked certificates
	Since    time.Time // only certificates issued at or after
	IssuerID string    // only this issuer's certificates
	Lint     string    // only findings of this lint or check
	Workers  int       // parallel checks (default 4)
	Batch    int       // certificates per batch between cursor saves (default 256)
	Restart  bool      // abandon an unfinished run with the same selection
	// By is who runs the scan, named in the audit events of its runs and
	// findings (the system's scan job when not set).
	By actor.Actor
	// Progress, when set, is called after every certificate (from one
	// goroutine at a time).
	Progress func(Progress)
}

// Progress is how far a run is.
type Progress struct {
	Checked  int // certificates checked, including by the run it resumed
	Findings int
	Elapsed  time.Duration
}

// Result is a finished (or stopped) run.
type Result struct {
	RunID    string    `json:"runId"`
	Resumed  bool      `json:"resumed"`
	Checked  int       `json:"checked"`
	Findings []Finding `json:"findings"`
}

// New counts the findings no earlier run stored.
func (r Result) New() int {
	n := 0
	for _, f := range r.Findings {
		if f.New {
			n++
		}
	}
	return n
}

// Scanner runs scans.
type Scanner struct {
	d        Deps
	runs     *audit.Table[runRow]
	findings *audit.Table[findingRow]
}

// New returns a Scanner.
func New(d Deps) *Scanner {
	return &Scanner{d: d, runs: audit.TableOf[runRow](d.Rec, tableRuns), findings: audit.TableOf[findingRow](d.Rec, tableFindings)}
}
