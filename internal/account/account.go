// Package account keeps subscriber accounts, the organizations each account
// may order certificates for, and the account's contacts.
//
// Contacts are their own type and table with no subject fields
// (docs/design.md §1). Nothing here writes to an organization: the founding
// incident (Bugzilla 1535735) was a contact change that rewrote the
// organization name in 48 certificates, and this package cannot do that by
// construction — it holds no reference to the vetting service's writers.
package account

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// Account is a subscriber account.
type Account struct {
	ID          string    `db:"id" json:"id"`
	Name        string    `db:"name" json:"name"`
	CreatedAt   time.Time `db:"created_at" json:"createdAt"`
	CreatedBy   string    `db:"created_by" json:"createdBy"`
	CreatedByID string    `db:"created_by_id" json:"-"` // user id of the staff user who created it
}

// Link allows an account to order for an organization. LinkedBy is the
// user id of the staff user who linked them.
type Link struct {
	ID             string    `db:"id"`
	AccountID      string    `db:"account_id"`
	OrganizationID string    `db:"organization_id"`
	CreatedAt      time.Time `db:"created_at"`
	LinkedBy       string    `db:"linked_by"`
}

// Contact is a person at the subscriber. It has no subject fields.
type Contact struct {
	ID        string    `db:"id" json:"id"`
	AccountID string    `db:"account_id" json:"accountId"`
	Name      string    `db:"name" json:"name"`
	Email     string    `db:"email" json:"email"`
	Phone     string    `db:"phone" json:"phone"`
	Role      string    `db:"role" json:"role"`
	CreatedAt time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt time.Time `db:"updated_at" json:"updatedAt"`
}

// ContactRoles are the roles a contact may have.
var ContactRoles = []string{"administrative", "technical", "billing", "security", "legal"}

// TokenIssuer creates and rotates subscriber tokens and says who issued
// them (package auth).
type TokenIssuer interface {
	IssueAccountToken(ctx context.Context, tx *store.Tx, by actor.Actor, accountID string) (string, error)
	RotateAccountToken(ctx context.Context, tx *store.Tx, by actor.Actor, accountID string) (string, error)
	TokenIssuers(ctx context.Context, q store.Querier, accountID string, before time.Time) (map[string]string, error)
}

// OrgChecker confirms an organization exists and is intact (package vetting).
type OrgChecker interface {
	Exists(ctx context.Context, q store.Querier, orgID string) error
}

// Service is the account service.
type Service struct {
	db     *store.DB
	rec    *audit.Recorder
	tab    tables
	clk    clock.Clock
	tokens TokenIssuer
	orgs   OrgChecker
}

// New returns the account service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, tokens TokenIssuer, orgs OrgChecker) *Service {
	return &Service{db: db, rec: rec, tab: newTables(rec), clk: clk, tokens: tokens, orgs: orgs}
}

// CreateInput is the body of POST /accounts.
type CreateInput struct {
	Name          string   `json:"name"`
	Organizations []string `json:"organizations"`
}

// Create makes an account linked to organizations and returns it with the
// subscriber token, shown only this once.
func (s *Service) Create(ctx context.Context, by actor.Actor, in CreateInput) (Account, string, error) {
	if err := by.Require(actor.Verifier, actor.Admin); err != nil {
		return Account{}, "", err
	}
	if err := plaintext.Check("name", in.Name, 200, true); err != nil {
		return Account{}, "", err
	}
	now := s.clk.Now()
	acc := Account{ID: ids.New("acc"), Name: in.Name, CreatedAt: now, CreatedBy: by.String(), CreatedByID: by.UserID()}
	var token string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.accounts.Insert(ctx, tx, by, actAccountCreated, acc); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, orgID := range in.Organizations {
			if seen[orgID] {
				continue
			}
			seen[orgID] = true
			if err := s.link(ctx, tx, by, acc.ID, orgID, "organizations"); err != nil {
				return err
			}
		}
		var err error
		token, err = s.tokens.IssueAccountToken(ctx, tx, by, acc.ID)
		return err
	})
	if err != nil {
		return Account{}, "", err
	}
	return acc, token, nil
}

// link lets accountID order for orgID; field is the input that named the
// organization (organizations of POST /accounts, organizationId of POST
// /accounts/{id}/organizations).
func (s *Service) link(ctx context.Context, tx *store.Tx, by actor.Actor, accountID, orgID, field string) error {
	if err := s.orgs.Exists(ctx, tx, orgID); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return apperr.Invalid(apperr.CodeUnknownOrganization, field, "organization %q does not exist", orgID)
		}
		return err
	}
	return s.tab.accountOrganizations.Insert(ctx, tx, by, actAccountOrganizationLinked, Link{
		ID: ids.New("aol"), AccountID: accountID, OrganizationID: orgID, CreatedAt: s.clk.Now(), LinkedBy: by.UserID(),
	})
}

// RotateToken revokes an account's subscriber tokens and issues a new one
// (verifier or admin). The account must exist and be intact: no token is
// ever minted for an account that does not. The staff user who rotates it
// acts for the account from then on and may not approve its orders.
func (s *Service) RotateToken(ctx context.Context, by actor.Actor, accountID string) (string, error) {
	if err := by.Require(actor.Admin, actor.Verifier); err != nil {
		return "", err
	}
	var token string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, accountID); err != nil {
			return err
		}
		var err error
		token, err = s.tokens.RotateAccountToken(ctx, tx, by, accountID)
		return err
	})
	return token, err
}

// StaffActingFor returns the staff users who acted for an account in
// ordering for orgID, by user id, each with what they did: who created the
// account, who linked the organization to it, and who issued any of its
// subscriber tokens. None of them may approve its orders (multi-person
// control, BR §5.2.2).
func (s *Service) StaffActingFor(ctx context.Context, q store.Querier, accountID, orgID string) (map[string]string, error) {
	return s.StaffActingBefore(ctx, q, accountID, orgID, time.Time{})
}

// StaffActingBefore is StaffActingFor counting only the acts done no later
// than before (all of them when before is zero): `vetca scan` judges an
// issued certificate's approvals by what the approvers had done when it
// was issued, not by what they did for the account since.
func (s *Service) StaffActingBefore(ctx context.Context, q store.Querier, accountID, orgID string, before time.Time) (map[string]string, error) {
	by := func(t time.Time) bool { return before.IsZero() || !t.After(before) }
	a, err := s.get(ctx, q, accountID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	add := func(userID, what string) {
		switch {
		case userID == "":
		case out[userID] == "":
			out[userID] = what
		default:
			out[userID] += " and " + what
		}
	}
	if a.CreatedByID != "" && by(a.CreatedAt) {
		add(a.CreatedByID, "created account "+accountID)
	}
	issuers, err := s.tokens.TokenIssuers(ctx, q, accountID, before)
	if err != nil {
		return nil, err
	}
	for id, what := range issuers {
		add(id, what)
	}
	byAccount, args := store.TextIs(q, "account_id", accountID)
	byOrg, orgArgs := store.TextIs(q, "organization_id", orgID)
	links, err := s.tab.accountOrganizations.Select(ctx, q, `WHERE `+byAccount+` AND `+byOrg, append(args, orgArgs...)...)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if by(l.CreatedAt) {
			add(l.LinkedBy, "linked organization "+orgID+" to account "+accountID)
		}
	}
	return out, nil
}

// LinkOrganization allows an existing account to order for another organization.
func (s *Service) LinkOrganization(ctx context.Context, by actor.Actor, accountID, orgID string) error {
	if err := by.Require(actor.Verifier, actor.Admin); err != nil {
		return err
	}
	if orgID == "" {
		return apperr.Invalid(apperr.CodeMissingField, "organizationId", "organizationId is required: the organization the account may order for")
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, accountID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM account_organizations WHERE account_id = ? AND organization_id = ?`, accountID, orgID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.Conflict(apperr.CodeAlreadyLinked, "organizationId", "account %s already uses organization %s", accountID, orgID)
		}
		return s.link(ctx, tx, by, accountID, orgID, "organizationId")
	})
}

func (s *Service) get(ctx context.Context, q store.Querier, id string) (Account, error) {
	var a Account
	err := s.tab.accounts.Get(ctx, q, id, &a)
	return a, err
}

// View is GET /accounts/{id}.
type View struct {
	Account
	Organizations []string  `json:"organizations"`
	Contacts      []Contact `json:"contacts"`
}

// CheckAccount confirms that the account exists and is intact: not found
// (apperr) when there is none, an integrity error when it was changed
// outside vetca.
func (s *Service) CheckAccount(ctx context.Context, q store.Querier, id string) error {
	return s.tab.accounts.Check(ctx, q, id)
}

// Get returns an account with its organizations and contacts.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := by.CanActForAccount(id, actor.Verifier, actor.Admin, actor.Compliance, actor.Auditor); err != nil {
		return View{}, err
	}
	a, err := s.get(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	orgs, err := s.Organizations(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	cs, err := s.tab.contacts.Select(ctx, s.db, `WHERE account_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return View{}, err
	}
	if cs == nil {
		cs = []Contact{}
	}
	return View{Account: a, Organizations: orgs, Contacts: cs}, nil
}

// List returns one page of accounts by name (staff).
func (s *Service) List(ctx context.Context, by actor.Actor, p store.Page) ([]Account, string, error) {
	if !by.IsStaff() {
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	var w store.Where
	tail, err := store.Keyset{Cols: []string{"name", "id"}}.Apply(&w, p)
	if err != nil {
		return nil, "", err
	}
	list, err := s.tab.accounts.Select(ctx, s.db, w.Clause()+tail, w.Args()...)
	if err != nil {
		return nil, "", err
	}
	list, next := store.Finish(list, p, func(a Account) []string { return []string{a.Name, a.ID} })
	return list, next, nil
}

// Names returns the name of each account ids names that by may read, by
// id, for pages that list other objects by their account: staff read
// every account, a subscriber only its own. Others and unknown ids are
// left out.
func (s *Service) Names(ctx context.Context, by actor.Actor, ids []string) (map[string]string, error) {
	var want []any
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] || (!by.IsStaff() && !(by.Kind == actor.Subscriber && by.AccountID == id)) {
			continue
		}
		seen[id] = true
		want = append(want, id)
	}
	out := make(map[string]string, len(want))
	if len(want) == 0 {
		return out, nil
	}
	list, err := s.tab.accounts.Select(ctx, s.db, `WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(want)), ", ")+`)`, want...)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		out[a.ID] = a.Name
	}
	return out, nil
}

// Count returns how many accounts exist (staff).
func (s *Service) Count(ctx context.Context, by actor.Actor) (int, error) {
	if !by.IsStaff() {
		return 0, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n, err
}

// Organizations lists the organization ids an account may order for,
// integrity-checked (they feed issuance decisions).
func (s *Service) Organizations(ctx context.Context, q store.Querier, accountID string) ([]string, error) {
	links, err := s.tab.accountOrganizations.Select(ctx, q, `WHERE account_id = ? ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(links))
	for _, l := range links {
		out = append(out, l.OrganizationID)
	}
	return out, nil
}

// MayUseOrganization returns nil when the account may order for orgID.
func (s *Service) MayUseOrganization(ctx context.Context, q store.Querier, accountID, orgID string) error {
	orgs, err := s.Organizations(ctx, q, accountID)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		if o == orgID {
			return nil
		}
	}
	return apperr.Forbidden(apperr.CodeOrganizationNotAllowed, "organizationId", "account %s may not order for organization %s", accountID, orgID)
}

// CanReadOrganization lets a subscriber read the organizations its account uses.
func (s *Service) CanReadOrganization(ctx context.Context, by actor.Actor, orgID string) error {
	if by.Kind != actor.Subscriber {
		return apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	if err := s.MayUseOrganization(ctx, s.db, by.AccountID, orgID); err != nil {
		return apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "your account does not use organization %s", orgID)
	}
	return nil
}

// Recipients answers package vetting's question of whom to tell about an
// organization's identity changes. It only reads, through the recorder, so
// it can be built before the vetting service that Service depends on: the
// two services then need no reference to each other set after
// construction.
type Recipients struct{ rec *audit.Recorder }

// NewRecipients returns the reader vetting.New takes.
func NewRecipients(rec *audit.Recorder) Recipients { return Recipients{rec: rec} }

// ContactsForOrganization implements vetting.Recipients: the contacts of
// every account that uses the organization.
// Both the links and the contacts are read integrity-checked: a contact
// address changed by SQL is refused before anything is mailed to it.
func (r Recipients) ContactsForOrganization(ctx context.Context, q store.Querier, orgID string) ([]vetting.Recipient, error) {
	links, err := newTables(r.rec).accountOrganizations.Select(ctx, q, `WHERE organization_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	var out []vetting.Recipient
	for _, l := range links {
		cs, err := contactsForAccount(ctx, r.rec, q, l.AccountID)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, vetting.Recipient{Name: c.Name, Email: c.Email, Role: "contact:" + c.Role, AccountID: c.AccountID})
		}
	}
	return out, nil
}

// ContactsForAccount returns an account's contacts (for reports to the subscriber).
func (s *Service) ContactsForAccount(ctx context.Context, q store.Querier, accountID string) ([]Contact, error) {
	return contactsForAccount(ctx, s.rec, q, accountID)
}

func contactsForAccount(ctx context.Context, rec *audit.Recorder, q store.Querier, accountID string) ([]Contact, error) {
	return newTables(rec).contacts.Select(ctx, q, `WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// ContactInput is the body of POST and PATCH on contacts. It has no
// subject fields; the web layer refuses any unknown field, and names a
// subject field specifically.
type ContactInput struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
	Role  *string `json:"role"`
}

func (c *Contact) apply(in ContactInput) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Email != nil {
		c.Email = *in.Email
	}
	if in.Phone != nil {
		c.Phone = *in.Phone
	}
	if in.Role != nil {
		c.Role = *in.Role
	}
}

func (c *Contact) validate() error {
	if err := plaintext.Check("name", c.Name, 200, true); err != nil {
		return err
	}
	if err := plaintext.CheckEmail("email", c.Email, true); err != nil {
		return err
	}
	if c.Phone != "" {
		for _, r := range c.Phone {
			if !(unicode.IsDigit(r) || strings.ContainsRune("+ -()./", r)) {
				return apperr.Invalid(apperr.CodeInvalidPhone, "phone", "phone %q may hold only digits, spaces and + - ( ) . /", c.Phone)
			}
		}
		if len(c.Phone) > 40 {
			return apperr.Invalid(apperr.CodeInvalidPhone, "phone", "phone is longer than 40 characters")
		}
	}
	ok := false
	for _, r := range ContactRoles {
		if c.Role == r {
			ok = true
		}
	}
	if !ok {
		return apperr.Invalid(apperr.CodeInvalidRole, "role", "role %q is not one of %s", c.Role, strings.Join(ContactRoles, ", "))
	}
	return nil
}

// AddContact adds a contact to an account.
func (s *Service) AddContact(ctx context.Context, by actor.Actor, accountID string, in ContactInput) (Contact, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin); err != nil {
		return Contact{}, err
	}
	now := s.clk.Now()
	c := Contact{ID: ids.New("con"), AccountID: accountID, Role: "administrative", CreatedAt: now, UpdatedAt: now}
	c.apply(in)
	if err := c.validate(); err != nil {
		return Contact{}, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, accountID); err != nil {
			return err
		}
		return s.tab.contacts.Insert(ctx, tx, by, actContactCreated, c)
	})
	return c, err
}

// UpdateContact changes a contact's own fields, and nothing else.
func (s *Service) UpdateContact(ctx context.Context, by actor.Actor, accountID, contactID string, in ContactInput) (Contact, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin); err != nil {
		return Contact{}, err
	}
	var c Contact
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.contacts.Get(ctx, tx, contactID, &c); err != nil {
			return err
		}
		if c.AccountID != accountID {
			return apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "contact %s not found on account %s", contactID, accountID)
		}
		before := c
		c.apply(in)
		if err := c.validate(); err != nil {
			return err
		}
		if c == before {
			return nil // a change of nothing is no event in the trail
		}
		c.UpdatedAt = s.clk.Now()
		return s.tab.contacts.Update(ctx, tx, by, actContactUpdated, c)
	})
	return c, err
}

// DeleteContact removes a contact.
func (s *Service) DeleteContact(ctx context.Context, by actor.Actor, accountID, contactID string) error {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Contact
		if err := s.tab.contacts.Get(ctx, tx, contactID, &c); err != nil {
			return err
		}
		if c.AccountID != accountID {
			return apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "contact %s not found on account %s", contactID, accountID)
		}
		return s.tab.contacts.Delete(ctx, tx, by, actContactDeleted, contactID)
	})
}
