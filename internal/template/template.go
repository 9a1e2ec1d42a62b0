// Package template keeps issuance templates: what an account may be issued
// without a person placing each order — its names, key types and maximum
// validity, for one of its organizations — approved under dual control
// (docs/design.md, "Templates and EAB keys"). They are the foundation of
// ACME with External Account Binding: the ACME server asks Match whether a
// request is covered.
//
// A template's hash is the SHA-256 of everything it allows, including the
// organization's current verified version and that version's audited row
// hash (docs/design.md §4). Approvals bind to the hash. Two verifiers
// approve it, none of them someone who created or changed it, acted for
// the account (account.StaffActingFor) or created an EAB key of the
// account (docs/design.md §5). Any change to the template, and any new
// verified organization version (VersionWatch, in the transaction that
// verifies it), voids its approvals; Match recomputes the hash from current
// data before it answers, so a stale template never matches.
package template

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// Status is where a template stands.
type Status string

// Template statuses.
const (
	StatusPendingApproval Status = "pending_approval"
	StatusApproved        Status = "approved"
	StatusDisabled        Status = "disabled"
)

// Template is a template row.
type Template struct {
	ID                  string    `db:"id" json:"id"`
	AccountID           string    `db:"account_id" json:"accountId"`
	OrganizationID      string    `db:"organization_id" json:"organizationId"`
	OrganizationVersion int       `db:"organization_version" json:"organizationVersion"`
	OrganizationRowHash string    `db:"organization_row_hash" json:"organizationRowHash"`
	DNSNames            []string  `db:"dns_names,json" json:"dnsNames"`
	KeyTypes            []string  `db:"key_types,json" json:"keyTypes"`
	MaxValidityDays     int       `db:"max_validity_days" json:"maxValidityDays"`
	Status              Status    `db:"status" json:"status"`
	TemplateHash        string    `db:"template_hash" json:"templateHash"`
	CreatedBy           string    `db:"created_by" json:"createdBy"`
	CreatedByID         string    `db:"created_by_id" json:"-"`
	EditorIDs           []string  `db:"editor_ids,json" json:"-"` // user ids of who created or changed it
	CreatedAt           time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt           time.Time `db:"updated_at" json:"updatedAt"`
	// DisabledAt, DisabledBy and DisableReason record a disabled template.
	DisabledAt    *time.Time `db:"disabled_at" json:"disabledAt,omitempty"`
	DisabledBy    string     `db:"disabled_by" json:"disabledBy,omitempty"`
	DisableReason string     `db:"disable_reason" json:"disableReason,omitempty"`
}

// Approval is one verifier's approval of a template hash.
type Approval struct {
	ID           string     `db:"id" json:"-"`
	TemplateID   string     `db:"template_id" json:"-"`
	ApproverID   string     `db:"approver_id" json:"-"`
	ApproverName string     `db:"approver_name" json:"approver"`
	TemplateHash string     `db:"template_hash" json:"templateHash"`
	At           time.Time  `db:"at" json:"at"`
	VoidedAt     *time.Time `db:"voided_at" json:"voidedAt,omitempty"`
	VoidReason   string     `db:"void_reason" json:"voidReason,omitempty"`
}

// Vetting is what templates need from organization vetting.
type Vetting interface {
	CurrentVerified(ctx context.Context, q store.Querier, orgID string) (vetting.Version, error)
	Exists(ctx context.Context, q store.Querier, orgID string) error
}

// Accounts is what templates need from accounts.
type Accounts interface {
	CheckAccount(ctx context.Context, q store.Querier, id string) error
	MayUseOrganization(ctx context.Context, q store.Querier, accountID, orgID string) error
	// StaffActingBefore names the staff users who acted for the account
	// in ordering for orgID no later than before (ever, when before is
	// zero): account.Service.StaffActingBefore.
	StaffActingBefore(ctx context.Context, q store.Querier, accountID, orgID string, before time.Time) (map[string]string, error)
}

// Staff is what templates need from the staff users (package auth).
type Staff interface {
	// Verifying returns, of the given user ids, those of users who are
	// active verifiers now: a standing approval by anyone else no longer
	// counts.
	Verifying(ctx context.Context, q store.Querier, ids []string) (map[string]bool, error)
}

// KeyCreators names the staff users who created an EAB key of an account
// no later than before (ever, when before is zero): package eab.
type KeyCreators interface {
	CreatorsBefore(ctx context.Context, q store.Querier, accountID string, before time.Time) (map[string]string, error)
}

// Config is the template policy.
type Config struct {
	ApprovalsRequired int // distinct independent verifiers; default 2
}

// Service is the template service.
type Service struct {
	binder
	db       *store.DB
	vetting  Vetting
	accounts Accounts
	keys     KeyCreators
	staff    Staff
	cfg      Config
	log      *slog.Logger
}

// New returns the template service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, v Vetting, accounts Accounts, keys KeyCreators, staff Staff, cfg Config, log *slog.Logger) *Service {
	if cfg.ApprovalsRequired < 2 {
		cfg.ApprovalsRequired = 2
	}
	return &Service{binder: newBinder(rec, clk), db: db, vetting: v, accounts: accounts, keys: keys, staff: staff, cfg: cfg, log: log}
}

// Config returns the policy.
func (s *Service) Config() Config { return s.cfg }

// Input is the body of POST /templates and PUT /templates/{id}.
type Input struct {
	AccountID       string   `json:"accountId"`
	OrganizationID  string   `json:"organizationId"`
	DNSNames        []string `json:"dnsNames"`
	KeyTypes        []string `json:"keyTypes"`
	MaxValidityDays *int     `json:"maxValidityDays"`
}

// spec is a checked, normalized Input.
type spec struct {
	accountID, orgID string
	names, keyTypes  []string
	maxDays          int
}

// parse checks what needs no database, naming the field of every refusal.
func (s *Service) parse(in Input) (spec, error) {
	if strings.TrimSpace(in.AccountID) == "" {
		return spec{}, apperr.Invalid(apperr.CodeMissingField, "accountId", "accountId is required")
	}
	if strings.TrimSpace(in.OrganizationID) == "" {
		return spec{}, apperr.Invalid(apperr.CodeMissingField, "organizationId", "organizationId is required")
	}
	names, err := normalizeNames("dnsNames", in.DNSNames)
	if err != nil {
		return spec{}, err
	}
	keyTypes, err := normalizeKeyTypes(in.KeyTypes)
	if err != nil {
		return spec{}, err
	}
	if in.MaxValidityDays == nil {
		return spec{}, apperr.Invalid(apperr.CodeMissingField, "maxValidityDays", "maxValidityDays is required")
	}
	if err := checkValidity("maxValidityDays", *in.MaxValidityDays, s.clk.Now()); err != nil {
		return spec{}, err
	}
	return spec{accountID: in.AccountID, orgID: in.OrganizationID, names: sortedCopy(names), keyTypes: keyTypes, maxDays: *in.MaxValidityDays}, nil
}

// bindOrganization checks, inside q, that the account and the
// organization exist (404 naming each), that the account may use the
// organization and that the organization has a verified version, and
// returns that version.
func (s *Service) bindOrganization(ctx context.Context, q store.Querier, accountID, orgID string) (vetting.Version, error) {
	if err := s.accounts.CheckAccount(ctx, q, accountID); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return vetting.Version{}, apperr.NotFound(apperr.CodeNotFound, "accountId", "account %s not found", accountID)
		}
		return vetting.Version{}, err
	}
	if err := s.vetting.Exists(ctx, q, orgID); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return vetting.Version{}, apperr.NotFound(apperr.CodeNotFound, "organizationId", "organization %s not found", orgID)
		}
		return vetting.Version{}, err
	}
	if err := s.accounts.MayUseOrganization(ctx, q, accountID, orgID); err != nil {
		return vetting.Version{}, err
	}
	return s.vetting.CurrentVerified(ctx, q, orgID)
}

// Create records a template awaiting approval (verifier): POST /templates.
func (s *Service) Create(ctx context.Context, by actor.Actor, in Input) (Template, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return Template{}, err
	}
	sp, err := s.parse(in)
	if err != nil {
		return Template{}, err
	}
	var t Template
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		v, err := s.bindOrganization(ctx, tx, sp.accountID, sp.orgID)
		if err != nil {
			return err
		}
		now := s.clk.Now()
		t = Template{
			ID: ids.New("tpl"), AccountID: sp.accountID, OrganizationID: sp.orgID,
			OrganizationVersion: v.Version, OrganizationRowHash: v.RowHash,
			DNSNames: sp.names, KeyTypes: sp.keyTypes, MaxValidityDays: sp.maxDays, Status: StatusPendingApproval,
			CreatedBy: by.String(), CreatedByID: by.UserID(), EditorIDs: []string{by.UserID()}, CreatedAt: now, UpdatedAt: now,
		}
		t.TemplateHash = t.ComputeHash()
		return s.tab.templates.Insert(ctx, tx, by, actTemplateCreated, t)
	})
	if err != nil {
		return Template{}, err
	}
	return t, nil
}

// Update changes what a template allows (verifier): PUT /templates/{id}.
// Every field is given again; accountId may be left out, and may not
// change. A change voids the approvals, puts the template back to
// pending_approval under its new hash, and makes by one of its editors
// (who may not approve it). An update that changes nothing writes nothing.
func (s *Service) Update(ctx context.Context, by actor.Actor, id string, in Input) (View, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return View{}, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := s.lockOpen(ctx, tx, by, id)
		if err != nil {
			return err
		}
		if in.AccountID == "" {
			in.AccountID = t.AccountID
		} else if in.AccountID != t.AccountID {
			return apperr.Invalid(apperr.CodeInvalidValue, "accountId", "template %s belongs to account %s; its account cannot change", id, t.AccountID)
		}
		sp, err := s.parse(in)
		if err != nil {
			return err
		}
		v, err := s.bindOrganization(ctx, tx, sp.accountID, sp.orgID)
		if err != nil {
			return err
		}
		next := t
		next.OrganizationID, next.OrganizationVersion, next.OrganizationRowHash = sp.orgID, v.Version, v.RowHash
		next.DNSNames, next.KeyTypes, next.MaxValidityDays = sp.names, sp.keyTypes, sp.maxDays
		next.TemplateHash = next.ComputeHash()
		if next.TemplateHash == t.TemplateHash {
			return nil
		}
		if err := s.voidApprovals(ctx, tx, by, t.ID, "the template changed"); err != nil {
			return err
		}
		if !slices.Contains(next.EditorIDs, by.UserID()) {
			next.EditorIDs = append(slices.Clone(next.EditorIDs), by.UserID())
		}
		next.Status, next.UpdatedAt = StatusPendingApproval, s.clk.Now()
		return s.tab.templates.Update(ctx, tx, by, actTemplateChanged, next)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// Disable disables a template for good (verifier, admin or compliance):
// its approvals are voided and it never matches again. One person may
// disable; only enabling issuance needs two.
func (s *Service) Disable(ctx context.Context, by actor.Actor, id, reason string) (View, error) {
	if err := by.Require(actor.Verifier, actor.Admin, actor.Compliance); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "reason", "say why the template is disabled")
	}
	if len(reason) > 2000 {
		return View{}, apperr.Invalid(apperr.CodeTooLong, "reason", "reason is longer than 2000 characters")
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := s.lockOpen(ctx, tx, by, id)
		if err != nil {
			return err
		}
		if err := s.voidApprovals(ctx, tx, by, t.ID, "the template was disabled"); err != nil {
			return err
		}
		now := s.clk.Now()
		t.Status, t.DisabledAt, t.DisabledBy, t.DisableReason, t.UpdatedAt = StatusDisabled, &now, by.String(), reason, now
		return s.tab.templates.Update(ctx, tx, by, actTemplateDisabled, t)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// load reads a template by may see: staff any, a subscriber its account's.
func (s *Service) load(ctx context.Context, q store.Querier, by actor.Actor, id string) (Template, error) {
	if by.Kind != actor.Subscriber && !by.IsStaff() {
		return Template{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	var t Template
	if err := s.tab.templates.Get(ctx, q, id, &t); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Template{}, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "template %s not found", id)
		}
		return Template{}, err
	}
	if by.Kind == actor.Subscriber && by.AccountID != t.AccountID {
		return Template{}, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "template %s not found", id)
	}
	return t, nil
}

// lockOpen reads and locks a template that may still change: not disabled.
func (s *Service) lockOpen(ctx context.Context, tx *store.Tx, by actor.Actor, id string) (Template, error) {
	if _, err := s.load(ctx, tx, by, id); err != nil {
		return Template{}, err
	}
	var t Template
	if err := s.tab.templates.Lock(ctx, tx, id, &t); err != nil {
		return Template{}, err
	}
	if t.Status == StatusDisabled {
		return Template{}, apperr.Conflict(apperr.CodeTemplateDisabled, apperr.NoField, "template %s was disabled at %s", id, t.DisabledAt.Format(time.RFC3339))
	}
	return t, nil
}

// View is GET /templates/{id}: the template, what it covers, and the
// approvals that count for its current hash.
type View struct {
	Template
	Approvals []Approval `json:"approvals"`
	Required  int        `json:"approvalsRequired"`
}

// Get returns a template with the approvals of its current hash.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	t, err := s.load(ctx, s.db, by, id)
	if err != nil {
		return View{}, err
	}
	counting, err := s.counting(ctx, s.db, t)
	if err != nil {
		return View{}, err
	}
	return View{Template: t, Approvals: counting, Required: s.cfg.ApprovalsRequired}, nil
}

// List returns one page of templates, newest first: a subscriber's own,
// or (staff) every account's or one account's, optionally by status.
func (s *Service) List(ctx context.Context, by actor.Actor, accountID, status string, p store.Page) ([]View, string, error) {
	var where store.Where
	switch {
	case by.Kind == actor.Subscriber:
		if accountID != "" && accountID != by.AccountID {
			return nil, "", apperr.Forbidden(apperr.CodeForbidden, "accountId", "this token acts for account %s", by.AccountID)
		}
		where.Add("account_id = ?", by.AccountID)
	case by.IsStaff():
		if accountID != "" {
			where.Add("account_id = ?", accountID)
		}
	default:
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	if status != "" {
		where.Add("status = ?", status)
	}
	list, next, err := s.tab.templates.NewestFirst(ctx, s.db, where, p, func(t Template) (time.Time, string) { return t.CreatedAt, t.ID })
	if err != nil {
		return nil, "", err
	}
	out := make([]View, 0, len(list))
	for _, t := range list {
		counting, err := s.counting(ctx, s.db, t)
		if err != nil {
			return nil, "", err
		}
		out = append(out, View{Template: t, Approvals: counting, Required: s.cfg.ApprovalsRequired})
	}
	return out, next, nil
}
