// Package order turns a subscriber's request into an approved, signed
// certificate (docs/api.md, Orders; docs/design.md §1, §4, §5 and §6).
//
// The subject of every certificate comes only from the organization's
// current verified version; the CSR supplies the key and proof of
// possession, and anything in it (or in the request body) that differs from
// the vetted values is refused naming the attribute. An order's snapshot is
// the canonical encoding of everything that reaches the certificate; two
// verifiers other than the requester approve its SHA-256. Finalize
// recomputes the snapshot from current data and refuses on any difference
// (voiding the approvals), re-checks domain validation, the key blocklist
// and CAA, lints a throwaway-key copy, records the issuance intent, and only
// then signs with the real key.
package order

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// Status is where an order stands.
type Status string

// Order statuses, as the API reports them.
const (
	StatusPendingApproval Status = "pending_approval"
	StatusApproved        Status = "approved"
	StatusIssued          Status = "issued"
	StatusRejected        Status = "rejected"
	StatusFailed          Status = "failed"
)

// MaxDNSNames bounds the SANs of one certificate.
const MaxDNSNames = 100

// Order is an order row.
type Order struct {
	ID                  string    `db:"id" json:"id"`
	AccountID           string    `db:"account_id" json:"accountId"`
	OrganizationID      string    `db:"organization_id" json:"organizationId"`
	OrganizationVersion int       `db:"organization_version" json:"organizationVersion"`
	RequestedBy         string    `db:"requested_by" json:"requestedBy"`
	RequestedByID       string    `db:"requested_by_id" json:"-"` // user id of a staff requester
	TokenID             string    `db:"token_id" json:"-"`        // the API token that placed the order
	Status              Status    `db:"status" json:"status"`
	DNSNames            []string  `db:"dns_names,json" json:"dnsNames"`
	CSRPEM              string    `db:"csr_pem" json:"csr"`
	SPKISHA256          string    `db:"spki_sha256" json:"spkiSha256"`
	ValidityDays        int       `db:"validity_days" json:"validityDays"`
	IssuerID            string    `db:"issuer_id" json:"issuerId"`
	Snapshot            string    `db:"snapshot" json:"-"`
	SnapshotHash        string    `db:"snapshot_hash" json:"snapshotHash"`
	Serial              string    `db:"serial" json:"serial,omitempty"`
	Failure             string    `db:"failure" json:"failure,omitempty"`
	CreatedAt           time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt           time.Time `db:"updated_at" json:"updatedAt"`
}

// Approval is one verifier's approval of a snapshot hash.
type Approval struct {
	ID           string     `db:"id" json:"-"`
	OrderID      string     `db:"order_id" json:"-"`
	ApproverID   string     `db:"approver_id" json:"-"`
	ApproverName string     `db:"approver_name" json:"approver"`
	SnapshotHash string     `db:"snapshot_hash" json:"snapshotHash"`
	At           time.Time  `db:"at" json:"at"`
	VoidedAt     *time.Time `db:"voided_at" json:"voidedAt,omitempty"`
	VoidReason   string     `db:"void_reason" json:"voidReason,omitempty"`
}

// Vetting is what orders need from organization vetting (package vetting).
type Vetting interface {
	CurrentVerified(ctx context.Context, q store.Querier, orgID string) (vetting.Version, error)
	VersionOf(ctx context.Context, q store.Querier, orgID string, n int) (vetting.Version, bool, error)
}

// Engine is what orders need from the issuance engine (package issuance):
// the issuer and its URLs, and the record-before-sign steps.
type Engine interface {
	Config() issuance.EngineConfig
	ActiveIssuer(ctx context.Context, q store.Querier) (issuance.Issuer, *x509.Certificate, error)
	CAIssuersURL(issuerID string) string
	OCSPURL() string
	CRLBase() string
	Prepare(ctx context.Context, r issuance.Request) (*issuance.Prepared, error)
	RecordIntent(ctx context.Context, tx *store.Tx, by actor.Actor, orderID string, p *issuance.Prepared) (issuance.Intent, error)
	Sign(ctx context.Context, p *issuance.Prepared) ([]byte, error)
	Land(serialHex string)
	Abandon(ctx context.Context, tx *store.Tx, by actor.Actor, serialHex, why string) (issuance.Intent, error)
	Store(ctx context.Context, tx *store.Tx, by actor.Actor, p *issuance.Prepared, der []byte, m issuance.Meta) (issuance.Certificate, error)
	AfterStore()
}

// Keys checks a requested public key against the key policy (package
// keypolicy).
type Keys interface {
	Check(ctx context.Context, pub crypto.PublicKey) error
}

// Domains is what orders need from domain validation (package validation).
type Domains interface {
	RequireValidated(ctx context.Context, q store.Querier, accountID string, dnsNames []string, at time.Time) ([]validation.Reliance, error)
	CheckCAA(ctx context.Context, dnsNames []string) ([]validation.CAAResult, error)
	RecordIssuance(ctx context.Context, tx *store.Tx, by actor.Actor, orderID, serial string, rel []validation.Reliance, caa []validation.CAAResult) error
	RecordCAAChecks(ctx context.Context, tx *store.Tx, by actor.Actor, orderID, serial string, caa []validation.CAAResult) error
}

// Accounts is what orders need from accounts.
type Accounts interface {
	// CheckAccount confirms that the account exists and is intact.
	CheckAccount(ctx context.Context, q store.Querier, id string) error
	MayUseOrganization(ctx context.Context, q store.Querier, accountID, orgID string) error
	// StaffActingBefore names, by user id, the staff users who acted for
	// the account in ordering for orgID (created it, linked it, issued its
	// tokens) no later than before, or ever when before is zero: none of
	// them may approve its orders. An approval is judged against every act
	// so far; an issued order's approvals as of its issuance.
	StaffActingBefore(ctx context.Context, q store.Querier, accountID, orgID string, before time.Time) (map[string]string, error)
}

// Blocklist answers, inside a transaction, whether a key is on the
// keyCompromise blocklist (package issuance).
type Blocklist interface {
	Blocked(ctx context.Context, q store.Querier, spkiHex string) (bool, error)
}

// Abandoned has the serial of an intent that will never deliver a
// certificate answered as revoked, in the caller's transaction (package
// revocation), and, once that transaction committed, published: its
// stored OCSP responses (a serial in flight answers good) re-signed and
// the CRL publisher woken, as for any revocation.
type Abandoned interface {
	RecordAbandoned(ctx context.Context, tx *store.Tx, by actor.Actor, in issuance.Intent) error
	PublishAbandoned(ctx context.Context, serial string)
}

// SettingsGuard refuses, before any snapshot is computed, when this
// replica's settings that reach certificates differ from the
// installation's: two replicas must never take turns voiding each other's
// approvals.
type SettingsGuard interface {
	Check(ctx context.Context, q store.Querier) error
}

// Config is the order policy.
type Config struct {
	ApprovalsRequired int // distinct verifiers, none the requester; default 2
}

// Deps are the services orders use.
type Deps struct {
	Vetting   Vetting
	Accounts  Accounts
	Domains   Domains
	Engine    Engine
	Keys      Keys
	Blocklist Blocklist
	Abandoned Abandoned
	Settings  SettingsGuard
	// Templates confirms standing template approvals (package template);
	// nil refuses every order placed under a template.
	Templates TemplateApprovals
	Staff     Staff
	// AccountKeys names ACME account keys (package acme); nil when no
	// ACME server runs, and then no key is one.
	AccountKeys AccountKeys
}

// AccountKeys is what orders need from ACME: a certificate key must never
// be an ACME account's key (RFC 8555 §11.1; vetca refuses every
// account's, so a key a TLS server serves never authenticates an
// account), on the portal as on ACME's own finalize.
type AccountKeys interface {
	IsAccountKey(ctx context.Context, q store.Querier, pub crypto.PublicKey) (bool, error)
	// AccountUsable refuses an ACME account that may no longer act (its
	// EAB key revoked, its key blocked or below policy): an order it is
	// finalizing is not delivered.
	AccountUsable(ctx context.Context, q store.Querier, acmeAccountID string) error
}

// Staff is what orders need from the staff users (package auth).
type Staff interface {
	// Verifying returns, of the given user ids, those of users who are
	// active verifiers now (not disabled, approved, holding the role):
	// an approval by anyone else no longer counts toward finalize.
	Verifying(ctx context.Context, q store.Querier, ids []string) (map[string]bool, error)
}

// Service is the order service.
type Service struct {
	db        *store.DB
	rec       *audit.Recorder
	tab       tables
	clk       clock.Clock
	vetting   Vetting
	accounts  Accounts
	domains   Domains
	engine    Engine
	keys      Keys
	blocklist Blocklist
	abandoned Abandoned
	staff     Staff
	acctKeys  AccountKeys
	settings  SettingsGuard
	templates TemplateApprovals
	cfg       Config
	log       *slog.Logger
}

// New returns the order service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, d Deps, cfg Config, log *slog.Logger) *Service {
	if cfg.ApprovalsRequired < 2 {
		cfg.ApprovalsRequired = 2
	}
	return &Service{db: db, rec: rec, tab: newTables(rec), clk: clk, vetting: d.Vetting, accounts: d.Accounts, domains: d.Domains, engine: d.Engine,
		keys: d.Keys, blocklist: d.Blocklist, abandoned: d.Abandoned, settings: d.Settings, templates: d.Templates, staff: d.Staff, acctKeys: d.AccountKeys, cfg: cfg, log: log}
}

// Config returns the policy.
func (s *Service) Config() Config { return s.cfg }

// CreateInput is the body of POST /orders.
type CreateInput struct {
	AccountID      string            `json:"accountId"`
	OrganizationID string            `json:"organizationId"`
	DNSNames       []string          `json:"dnsNames"`
	CSR            string            `json:"csr"`
	ValidityDays   *int              `json:"validityDays"`
	Subject        map[string]string `json:"subject"`
}

// normalizeNames checks and canonicalizes the requested SANs.
func normalizeNames(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingField, "dnsNames", "dnsNames needs at least one name")
	}
	if len(in) > MaxDNSNames {
		return nil, apperr.Invalid(apperr.CodeTooManyNames, "dnsNames", "at most %d dnsNames per certificate", MaxDNSNames)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range in {
		norm, err := dnsname.Normalize(n, true)
		if err != nil {
			var e *apperr.Error
			if errors.As(err, &e) {
				return nil, apperr.Invalid(e.Code, "dnsNames", "%s", e.Message)
			}
			return nil, err
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	sort.Strings(out)
	return out, nil
}

// snapshotInput is what a snapshot is computed from.
type snapshotInput struct {
	accountID    string
	orgID        string
	dnsNames     []string
	spkiDER      []byte
	validityDays int
}

// build computes the snapshot from current data: the organization's
// current verified version (integrity-checked), the active issuer, the
// profile version and the URL configuration.
func (s *Service) build(ctx context.Context, q store.Querier, in snapshotInput) (Snapshot, vetting.Version, issuance.Issuer, *x509.Certificate, error) {
	if err := s.settings.Check(ctx, q); err != nil {
		return Snapshot{}, vetting.Version{}, issuance.Issuer{}, nil, err
	}
	v, err := s.vetting.CurrentVerified(ctx, q, in.orgID)
	if err != nil {
		return Snapshot{}, vetting.Version{}, issuance.Issuer{}, nil, err
	}
	iss, issCert, err := s.engine.ActiveIssuer(ctx, q)
	if err != nil {
		return Snapshot{}, vetting.Version{}, issuance.Issuer{}, nil, err
	}
	policies := []string{br.OVPolicyOID}
	if o := s.engine.Config().CPSPolicyOID; o != "" {
		policies = append(policies, o)
	}
	pub, err := x509.ParsePKIXPublicKey(in.spkiDER)
	if err != nil {
		return Snapshot{}, vetting.Version{}, issuance.Issuer{}, nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "the CSR's public key does not parse: %v", err)
	}
	spkiSum, err := keypolicy.SPKIHashHex(pub)
	if err != nil {
		return Snapshot{}, vetting.Version{}, issuance.Issuer{}, nil, apperr.Invalid(apperr.CodeInvalidKey, "publicKey", "%v", err)
	}
	snap := Snapshot{
		Version:      SnapshotVersion,
		Profile:      SnapshotProfile{Name: profile.Name, Version: profile.Version},
		Issuer:       SnapshotIssuer{ID: iss.ID, Subject: iss.Subject, SPKISHA256: iss.SPKISHA256},
		Organization: SnapshotOrg{ID: in.orgID, Version: v.Version, RowHash: v.RowHash},
		Subject:      subjectOf(v),
		DNSNames:     in.dnsNames,
		PublicKey:    SnapshotKey{SPKISHA256: spkiSum, SPKI: base64.StdEncoding.EncodeToString(in.spkiDER)},
		ValidityDays: in.validityDays,
		Policies:     policies,
		URLs:         SnapshotURLs{CAIssuers: s.engine.CAIssuersURL(iss.ID), CRLBase: s.engine.CRLBase() + "/crl/" + iss.ID + "/", OCSP: s.engine.OCSPURL()},
		AccountID:    in.accountID,
	}
	return snap, v, iss, issCert, nil
}

// Create places an order (POST /orders): who may order for which account,
// the request itself, then, in one transaction, the account's right to the
// organization, the snapshot, the identity reuse period, the subject and
// the domains, and the order row.
func (s *Service) Create(ctx context.Context, by actor.Actor, in CreateInput) (Order, error) {
	accountID, err := orderingAccount(by, in.AccountID)
	if err != nil {
		return Order{}, err
	}
	req, err := s.parseRequest(ctx, in)
	if err != nil {
		return Order{}, err
	}
	var ord Order
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if by.IsStaff() {
			// The account staff name: one that does not exist is named
			// as such, not taken for one that may not use the
			// organization.
			if err := s.accounts.CheckAccount(ctx, tx, accountID); apperr.IsKind(err, apperr.KindNotFound) {
				return apperr.NotFound(apperr.CodeNotFound, "accountId", "there is no account %q", accountID)
			} else if err != nil {
				return err
			}
		}
		ord, err = s.placeInTx(ctx, tx, by, accountID, in, req)
		return err
	})
	if err != nil {
		return Order{}, err
	}
	return ord, nil
}

// orderingAccount is the account an order is placed for: a subscriber's
// own, or the one staff (verifier or admin) name.
func orderingAccount(by actor.Actor, accountID string) (string, error) {
	switch by.Kind {
	case actor.Subscriber:
		if accountID != "" && accountID != by.AccountID {
			return "", apperr.Forbidden(apperr.CodeForbidden, "accountId", "this token acts for account %s", by.AccountID)
		}
		return by.AccountID, nil
	case actor.Staff:
		if err := by.Require(actor.Verifier, actor.Admin); err != nil {
			return "", err
		}
		if accountID == "" {
			return "", apperr.Invalid(apperr.CodeMissingField, "accountId", "staff placing an order must name accountId")
		}
		return accountID, nil
	}
	return "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
}

// request is a parsed, statically checked order request.
type request struct {
	names []string
	csr   *x509.CertificateRequest
	days  int
	now   time.Time
}

// parseRequest checks what needs no database: the organization is named,
// the names are valid, the CSR parses and its key passes the key policy,
// and the validity is within the BR §6.3.2 cap.
func (s *Service) parseRequest(ctx context.Context, in CreateInput) (request, error) {
	if in.OrganizationID == "" {
		return request{}, apperr.Invalid(apperr.CodeMissingField, "organizationId", "organizationId is required")
	}
	names, err := normalizeNames(in.DNSNames)
	if err != nil {
		return request{}, err
	}
	csr, err := ParseCSR(in.CSR)
	if err != nil {
		return request{}, err
	}
	if err := s.keys.Check(ctx, csr.PublicKey); err != nil {
		return request{}, err
	}
	now := s.clk.Now()
	maxDays := br.RecommendedMaxValidity(now)
	days := maxDays
	if in.ValidityDays != nil {
		days = *in.ValidityDays
		if days < 1 {
			return request{}, apperr.Invalid(apperr.CodeInvalidValidity, "validityDays", "validityDays must be at least 1")
		}
		if days > maxDays {
			return request{}, apperr.Invalid(apperr.CodeValidityTooLong, "validityDays",
				"validityDays %d exceeds %d: certificates issued now MUST NOT exceed %d days and SHOULD NOT exceed %d (BR §6.3.2)", days, maxDays, br.MaxValidity(now), maxDays)
		}
	}
	return request{names: names, csr: csr, days: days, now: now}, nil
}

// placeInTx checks the request against the stored state and records the
// order, inside the caller's transaction.
func (s *Service) placeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, accountID string, in CreateInput, req request) (Order, error) {
	if err := s.accounts.MayUseOrganization(ctx, tx, accountID, in.OrganizationID); err != nil {
		return Order{}, err
	}
	snap, v, iss, _, err := s.build(ctx, tx, snapshotInput{accountID: accountID, orgID: in.OrganizationID, dnsNames: req.names, spkiDER: req.csr.RawSubjectPublicKeyInfo, validityDays: req.days})
	if err != nil {
		return Order{}, err
	}
	if v.VerifiedAt == nil || !br.SubjectIdentityReusable(*v.VerifiedAt, req.now) {
		return Order{}, apperr.Conflict(apperr.CodeReverificationRequired, "organizationId",
			"organization %s was verified at %v, beyond the BR §4.2.1 reuse period for subject identity; propose and verify it again", in.OrganizationID, v.VerifiedAt)
	}
	if err := CheckSubjects(snap.Subject, req.names, in.Subject, req.csr); err != nil {
		return Order{}, err
	}
	if err := s.notAccountKey(ctx, tx, req.csr.PublicKey); err != nil {
		return Order{}, err
	}
	if _, err := s.domains.RequireValidated(ctx, tx, accountID, req.names, req.now); err != nil {
		return Order{}, err
	}
	hash, canon, err := snap.Hash()
	if err != nil {
		return Order{}, err
	}
	ord := Order{
		ID: ids.New("ord"), AccountID: accountID, OrganizationID: in.OrganizationID, OrganizationVersion: v.Version,
		RequestedBy: by.String(), RequestedByID: by.UserID(), TokenID: by.TokenID, Status: StatusPendingApproval, DNSNames: req.names, CSRPEM: in.CSR,
		SPKISHA256: snap.PublicKey.SPKISHA256, ValidityDays: req.days, IssuerID: iss.ID, Snapshot: string(canon),
		SnapshotHash: hash, CreatedAt: req.now, UpdatedAt: req.now,
	}
	return ord, s.tab.orders.Insert(ctx, tx, by, actOrderCreated, ord)
}

// View is GET /orders/{id}.
type View struct {
	Order
	Snapshot  json.RawMessage `json:"snapshot"`
	Approvals []Approval      `json:"approvals"`
	Required  int             `json:"approvalsRequired"`
	// Template is the standing template the order was placed under
	// instead of per-order approvals (ACME), if any.
	Template *TemplateBinding `json:"template,omitempty"`
}

func (s *Service) load(ctx context.Context, q store.Querier, by actor.Actor, id string) (Order, error) {
	var o Order
	err := s.tab.orders.Get(ctx, q, id, &o)
	return visibleTo(by, id, o, err)
}

// visibleTo is the order o read (err) for by: not found when it does not
// exist or is another account's, refused for anyone neither staff nor a
// subscriber.
func visibleTo(by actor.Actor, id string, o Order, err error) (Order, error) {
	if err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Order{}, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "order %s not found", id)
		}
		return Order{}, err
	}
	if by.Kind == actor.Subscriber && by.AccountID != o.AccountID {
		return Order{}, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "order %s not found", id)
	}
	if by.Kind != actor.Subscriber && !by.IsStaff() {
		return Order{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	return o, nil
}

// approvals returns the approvals that count: not voided, for the current hash.
func (s *Service) approvals(ctx context.Context, q store.Querier, o Order) ([]Approval, []Approval, error) {
	all, err := s.tab.orderApprovals.Select(ctx, q, `WHERE order_id = ? ORDER BY at, id`, o.ID)
	if err != nil {
		return nil, nil, err
	}
	counting := []Approval{}
	for _, a := range all {
		if a.VoidedAt == nil && a.SnapshotHash == o.SnapshotHash {
			counting = append(counting, a)
		}
	}
	return counting, all, nil
}

// Get returns an order with its snapshot and counting approvals.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	o, err := s.load(ctx, s.db, by, id)
	if err != nil {
		return View{}, err
	}
	counting, _, err := s.approvals(ctx, s.db, o)
	if err != nil {
		return View{}, err
	}
	v := View{Order: o, Snapshot: json.RawMessage(o.Snapshot), Approvals: counting, Required: s.cfg.ApprovalsRequired}
	b, bound, err := s.binding(ctx, s.db, o.ID)
	if err != nil {
		return View{}, err
	}
	if bound {
		v.Template = &b
	}
	return v, nil
}

// List returns one page of orders, newest first: a subscriber's own, or
// (staff) all, optionally by status.
func (s *Service) List(ctx context.Context, by actor.Actor, status string, p store.Page) ([]Order, string, error) {
	var where store.Where
	switch {
	case by.Kind == actor.Subscriber:
		where.Add("account_id = ?", by.AccountID)
	case by.IsStaff():
	default:
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	if status != "" {
		where.Add("status = ?", status)
	}
	list, next, err := s.tab.orders.NewestFirst(ctx, s.db, where, p, func(o Order) (time.Time, string) { return o.CreatedAt, o.ID })
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// refresh recomputes an order's snapshot inside tx. When it differs from
// the stored one, the approvals are voided, the new snapshot is stored and
// the order goes back to pending_approval. It returns the (possibly
// updated) order, the recomputed snapshot, the verified organization
// version it was computed from (read integrity-checked), and whether it
// changed.
func (s *Service) refresh(ctx context.Context, tx *store.Tx, by actor.Actor, o Order) (Order, Snapshot, vetting.Version, bool, error) {
	old, cur, v, iss, hash, canon, err := s.recompute(ctx, tx, o)
	if err != nil {
		return o, Snapshot{}, vetting.Version{}, false, err
	}
	if hash == o.SnapshotHash {
		return o, cur, v, false, nil
	}
	approved := o.SnapshotHash
	if err := s.voidApprovals(ctx, tx, by, o, "the snapshot changed: "+describeChange(old, cur)); err != nil {
		return o, Snapshot{}, vetting.Version{}, false, err
	}
	o.Snapshot, o.SnapshotHash, o.OrganizationVersion, o.IssuerID = string(canon), hash, v.Version, iss.ID
	o.Status, o.UpdatedAt = StatusPendingApproval, s.clk.Now()
	if err := s.tab.orders.Update(ctx, tx, by, actOrderSnapshotChanged, o); err != nil {
		return o, Snapshot{}, vetting.Version{}, false, err
	}
	if err := s.rec.Note(ctx, tx, by, actOrderSnapshotMismatch, "orders", o.ID, map[string]string{
		"approvedHash": approved, "currentHash": hash, "change": describeChange(old, cur)}); err != nil {
		return o, Snapshot{}, vetting.Version{}, false, err
	}
	return o, cur, v, true, nil
}

// recompute builds o's snapshot from current data: the order's stored
// snapshot, the current one, its organization version and issuer, and the
// current snapshot's hash and canonical form.
func (s *Service) recompute(ctx context.Context, q store.Querier, o Order) (old, cur Snapshot, v vetting.Version, iss issuance.Issuer, hash string, canon []byte, err error) {
	if err = json.Unmarshal([]byte(o.Snapshot), &old); err != nil {
		err = fmt.Errorf("order %s snapshot: %w", o.ID, err)
		return
	}
	spki, err := base64.StdEncoding.DecodeString(old.PublicKey.SPKI)
	if err != nil {
		err = fmt.Errorf("order %s snapshot key: %w", o.ID, err)
		return
	}
	if cur, v, iss, _, err = s.build(ctx, q, snapshotInput{accountID: o.AccountID, orgID: o.OrganizationID, dnsNames: o.DNSNames, spkiDER: spki, validityDays: o.ValidityDays}); err != nil {
		return
	}
	hash, canon, err = cur.Hash()
	return
}

// unchanged reports whether o's snapshot still holds, without writing.
func (s *Service) unchanged(ctx context.Context, q store.Querier, o Order) (Snapshot, vetting.Version, bool, error) {
	_, cur, v, _, hash, _, err := s.recompute(ctx, q, o)
	if err != nil {
		return Snapshot{}, vetting.Version{}, false, err
	}
	return cur, v, hash == o.SnapshotHash, nil
}

func describeChange(a, b Snapshot) string {
	var parts []string
	if a.Organization != b.Organization {
		parts = append(parts, fmt.Sprintf("organization version %d -> %d", a.Organization.Version, b.Organization.Version))
	}
	if a.Subject != b.Subject {
		parts = append(parts, "subject")
	}
	if a.Issuer != b.Issuer {
		parts = append(parts, "issuer")
	}
	if a.Profile != b.Profile {
		parts = append(parts, "profile")
	}
	if a.URLs != b.URLs {
		parts = append(parts, "URLs")
	}
	if strings.Join(a.Policies, ",") != strings.Join(b.Policies, ",") {
		parts = append(parts, "policies")
	}
	if len(parts) == 0 {
		return "content"
	}
	return strings.Join(parts, ", ")
}

func (s *Service) voidApprovals(ctx context.Context, tx *store.Tx, by actor.Actor, o Order, reason string) error {
	_, all, err := s.approvals(ctx, tx, o)
	if err != nil {
		return err
	}
	now := s.clk.Now()
	for _, a := range all {
		if a.VoidedAt != nil {
			continue
		}
		a.VoidedAt, a.VoidReason = &now, reason
		if err := s.tab.orderApprovals.Update(ctx, tx, by, actOrderApprovalVoided, a); err != nil {
			return err
		}
	}
	return nil
}

// mismatchErr is the 409 snapshot_mismatch of approve and finalize.
func mismatchErr(approved, current string) error {
	return apperr.Conflict(apperr.CodeSnapshotMismatch, "snapshotHash",
		"the order's snapshot is now %s, not %s: what would be signed changed, so the approvals are void and it needs approving again", current, approved)
}

// loadOpen reads and locks an order that may still be approved or
// rejected: pending approval, or approved but not yet finalized. The lock
// orders an approval or a reject with a concurrent finalize's intent and
// store steps.
func (s *Service) loadOpen(ctx context.Context, tx *store.Tx, by actor.Actor, id string) (Order, error) {
	var o Order
	err := s.tab.orders.Lock(ctx, tx, id, &o)
	if o, err = visibleTo(by, id, o, err); err != nil {
		return Order{}, err
	}
	if o.Status != StatusPendingApproval && o.Status != StatusApproved {
		return Order{}, apperr.Conflict(apperr.CodeOrderNotPending, apperr.NoField, "order %s is %s", id, o.Status)
	}
	return o, nil
}

// Approve records by's approval of snapshotHash (POST /orders/{id}/approve).
func (s *Service) Approve(ctx context.Context, by actor.Actor, id, snapshotHash string) (View, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return View{}, err
	}
	if snapshotHash == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "snapshotHash", "snapshotHash is required: approve exactly what you reviewed")
	}
	var mismatch error
	var view View
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		o, err := s.loadOpen(ctx, tx, by, id)
		if err != nil {
			return err
		}
		if err := s.independent(ctx, tx, by, o); err != nil {
			return err
		}
		o, _, _, changed, err := s.refresh(ctx, tx, by, o)
		if err != nil {
			return err
		}
		if changed || snapshotHash != o.SnapshotHash {
			mismatch = mismatchErr(snapshotHash, o.SnapshotHash)
			return nil // keep the refresh; refuse the approval
		}
		view, err = s.addApproval(ctx, tx, by, o)
		return err
	})
	if err != nil {
		return View{}, err
	}
	if mismatch != nil {
		return View{}, mismatch
	}
	return view, nil
}

// addApproval records by's approval of o's current snapshot, approves o
// when the approvals now suffice, and returns o as the transaction leaves
// it: the answer is built here rather than read again after the commit.
func (s *Service) addApproval(ctx context.Context, tx *store.Tx, by actor.Actor, o Order) (View, error) {
	counting, _, err := s.approvals(ctx, tx, o)
	if err != nil {
		return View{}, err
	}
	for _, a := range counting {
		if a.ApproverID == by.ID {
			return View{}, apperr.Conflict(apperr.CodeAlreadyApproved, apperr.NoField, "you already approved order %s", o.ID)
		}
	}
	// Times as stored (UTC, whole seconds), since the answer is built
	// from these values.
	now := s.clk.Now().UTC().Truncate(time.Second)
	a := Approval{ID: ids.New("apr"), OrderID: o.ID, ApproverID: by.ID, ApproverName: by.Name, SnapshotHash: o.SnapshotHash, At: now}
	if err := s.tab.orderApprovals.Insert(ctx, tx, by, actOrderApproved, a); err != nil {
		if store.IsUniqueViolation(err) {
			return View{}, apperr.Conflict(apperr.CodeAlreadyApproved, apperr.NoField, "you already approved order %s", o.ID)
		}
		return View{}, err
	}
	counting = append(counting, a)
	active, err := s.activeApprovals(ctx, tx, counting)
	if err != nil {
		return View{}, err
	}
	if distinctApprovers(active) >= s.cfg.ApprovalsRequired && o.Status != StatusApproved {
		o.Status, o.UpdatedAt = StatusApproved, now
		if err := s.tab.orders.Update(ctx, tx, by, actOrderStatusApproved, o); err != nil {
			return View{}, err
		}
	}
	view := View{Order: o, Snapshot: json.RawMessage(o.Snapshot), Approvals: counting, Required: s.cfg.ApprovalsRequired}
	b, bound, err := s.binding(ctx, tx, o.ID)
	if bound {
		view.Template = &b
	}
	return view, err
}

// independent refuses an approver who is the requester or acted for the
// requester: who created the account, linked the organization to it, or
// issued any of its tokens (including the one that placed the order). No
// one person completes a dual control (BR §5.2.2). Users are compared by
// id, never by display string.
func (s *Service) independent(ctx context.Context, q store.Querier, by actor.Actor, o Order) error {
	if (o.RequestedByID != "" && o.RequestedByID == by.ID) || o.RequestedBy == by.String() {
		return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you requested order %s; two other verifiers must approve it", o.ID)
	}
	acting, err := s.accounts.StaffActingBefore(ctx, q, o.AccountID, o.OrganizationID, time.Time{})
	if err != nil {
		return err
	}
	if what, ok := acting[by.ID]; ok {
		return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you %s, so you acted for the requester of order %s; two other verifiers must approve it", what, o.ID)
	}
	return nil
}

// activeApprovals keeps the approvals whose approvers are active
// verifiers now (Staff.Verifying): one disabled since, or no longer
// holding the role, no longer vouches for an order.
func (s *Service) activeApprovals(ctx context.Context, q store.Querier, as []Approval) ([]Approval, error) {
	ids := make([]string, 0, len(as))
	for _, a := range as {
		ids = append(ids, a.ApproverID)
	}
	verifying, err := s.staff.Verifying(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := as[:0:0]
	for _, a := range as {
		if verifying[a.ApproverID] {
			out = append(out, a)
		}
	}
	return out, nil
}

// distinctApprovers counts the different users among approvals.
func distinctApprovers(as []Approval) int {
	seen := map[string]bool{}
	for _, a := range as {
		seen[a.ApproverID] = true
	}
	return len(seen)
}

// Reject closes an order without issuing.
func (s *Service) Reject(ctx context.Context, by actor.Actor, id, reason string) (View, error) {
	if err := by.Require(actor.Verifier, actor.Compliance); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "reason", "say why the order is rejected")
	}
	if err := plaintext.CheckProse("reason", reason, 2000, true); err != nil {
		return View{}, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		o, err := s.loadOpen(ctx, tx, by, id)
		if err != nil {
			return err
		}
		o.Status, o.Failure, o.UpdatedAt = StatusRejected, reason, s.clk.Now()
		return s.tab.orders.Update(ctx, tx, by, actOrderRejected, o)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, by, id)
}

// notAccountKey refuses a certificate key that is an ACME account's key.
func (s *Service) notAccountKey(ctx context.Context, q store.Querier, pub crypto.PublicKey) error {
	if s.acctKeys == nil {
		return nil
	}
	is, err := s.acctKeys.IsAccountKey(ctx, q, pub)
	if err != nil || !is {
		return err
	}
	return apperr.Invalid(apperr.CodeAccountKey, "csr", "the CSR's key is an ACME account's key: a certificate key must never authenticate an account (RFC 8555 §11.1); use a new key for the certificate")
}

// Interrupted records on an order that its issuance was interrupted and
// resolved by recovery. The order stayed approved throughout, so it can be
// finalized again, with a new serial, unless its snapshot changed
// meanwhile: the watch on new organization versions (VersionVerified)
// skips an order while its issuance is in flight, so the order is brought
// up to date here as the watch would have, its approvals of the older
// snapshot voided. An order whose snapshot can no longer be built (its
// organization no longer verified, say) is left for finalize to refuse.
func (s *Service) Interrupted(ctx context.Context, tx *store.Tx, by actor.Actor, orderID string) error {
	if err := s.rec.Note(ctx, tx, by, actOrderIssuanceInterrupted, "orders", orderID, map[string]string{"resolution": "the interrupted serial is answered as revoked; finalize again to issue"}); err != nil {
		return err
	}
	var o Order
	if err := s.tab.orders.Lock(ctx, tx, orderID, &o); err != nil {
		return err
	}
	if o.Status != StatusPendingApproval && o.Status != StatusApproved {
		return nil
	}
	if _, _, _, _, err := s.refresh(ctx, tx, by, o); err != nil {
		if _, refused := apperr.As(err); !refused || apperr.IsKind(err, apperr.KindIntegrity) {
			return err
		}
	}
	return nil
}
