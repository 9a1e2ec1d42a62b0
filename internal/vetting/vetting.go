// Package vetting keeps organizations' verified identities (docs/design.md
// §1-§3; BR §3.2.2.1, §7.1.2.7.4, §4.2.1).
//
// An organization's identity lives in immutable versions. Creating an
// organization or changing any identity field makes a pending version with
// a field-by-field diff; it becomes verified only when the required number
// of distinct verifiers (2 by default), none of them its proposer, have
// verified it with evidence. A version whose country is on the sanctions
// list needs a recorded sanctions review and a verifier holding the
// compliance role. Proposals and verifications are mailed, with the diff,
// to the contacts of every account that uses the organization and to the
// compliance address, through the outbox in the same transaction.
package vetting

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/store"
)

// Status is where an organization version stands.
type Status string

// Version statuses.
const (
	StatusPending    Status = "pending"
	StatusVerified   Status = "verified"
	StatusSuperseded Status = "superseded" // was verified; a newer version replaced it
	StatusStale      Status = "stale"      // was pending when another version was verified first
	StatusRejected   Status = "rejected"
)

// DefaultSanctioned is the documented default sanctions list (README.md, Configuration).
// Operators replace it with their own legal list (--sanctioned-countries).
var DefaultSanctioned = []string{"CU", "IR", "KP", "MM", "SY"}

// Config is the vetting policy.
type Config struct {
	VerificationsRequired int      // distinct verifiers per version; default 2
	SanctionedCountries   []string // ISO 3166-1 codes needing a sanctions review
	ComplianceEmail       string   // receives every identity change; may be empty
}

// SanctionsReview records the review a sanctioned country requires.
type SanctionsReview struct {
	Reference string `json:"reference"`
	Decision  string `json:"decision"` // approved | rejected
	Notes     string `json:"notes,omitempty"`
}

func (r *SanctionsReview) String() string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("reference=%s; decision=%s", r.Reference, r.Decision)
}

// Organization is the organization row.
type Organization struct {
	ID             string    `db:"id" json:"id"`
	CreatedAt      time.Time `db:"created_at" json:"createdAt"`
	CreatedBy      string    `db:"created_by" json:"createdBy"`
	CurrentVersion int       `db:"current_version" json:"currentVersion"`
}

// Version is one immutable identity version. Only its status and the
// times of status changes ever change after it is proposed.
type Version struct {
	ID             string `db:"id" json:"-"`
	OrganizationID string `db:"organization_id" json:"organizationId"`
	Version        int    `db:"version" json:"version"`
	Status         Status `db:"status" json:"status"`
	Fields
	SanctionsReview *SanctionsReview `db:"sanctions_review,json" json:"sanctionsReview,omitempty"`
	BasedOn         int              `db:"based_on" json:"basedOn"`
	Diff            []Change         `db:"diff,json" json:"diff"`
	ProposedBy      string           `db:"proposed_by" json:"proposedBy"`
	ProposedAt      time.Time        `db:"proposed_at" json:"proposedAt"`
	VerifiedAt      *time.Time       `db:"verified_at" json:"verifiedAt,omitempty"`
	ClosedAt        *time.Time       `db:"closed_at" json:"closedAt,omitempty"`
	// RowHash is the audited content hash; orders pin it in their snapshot.
	RowHash string `db:"row_hash" json:"rowHash"`
}

// Evidence is what a verifier relied on (BR §3.2.2.1: the source and a
// reference to the document or record).
type Evidence struct {
	Source    string `json:"source"`
	Reference string `json:"reference"`
}

// Verification is one verifier's sign-off on a version.
type Verification struct {
	ID            string       `db:"id" json:"id"`
	VersionID     string       `db:"version_id" json:"-"`
	VerifierID    string       `db:"verifier_id" json:"-"`
	VerifierName  string       `db:"verifier_name" json:"verifier"`
	VerifierRoles []actor.Role `db:"verifier_roles,json" json:"roles"`
	At            time.Time    `db:"at" json:"at"`
	Evidence      []Evidence   `db:"evidence,json" json:"evidence"`
}

// Recipient is someone told about identity changes.
type Recipient struct {
	Name, Email, Role, AccountID string
}

// Recipients finds the contacts of the accounts that use an organization.
// The account service implements it.
type Recipients interface {
	ContactsForOrganization(ctx context.Context, q store.Querier, orgID string) ([]Recipient, error)
}

// VersionObserver is told, inside the transaction that verifies it, that
// a version became its organization's current verified version, so that
// what was approved against the previous identity is voided in the same
// commit (package template).
type VersionObserver interface {
	VersionVerified(ctx context.Context, tx *store.Tx, by actor.Actor, current Version) error
}

// Staff reads who is staff now (package auth): the roles of each of the
// given users who is active (not disabled, approved); others are left out.
type Staff interface {
	ActiveRoles(ctx context.Context, q store.Querier, ids []string) (map[string][]actor.Role, error)
}

// Service is the vetting service.
type Service struct {
	db         *store.DB
	staff      Staff
	rec        *audit.Recorder
	tab        tables
	clk        clock.Clock
	outbox     *notify.Outbox
	recipients Recipients
	observers  []VersionObserver
	cfg        Config
}

// New returns the vetting service. staff says who may still vouch for a
// version; observers are told of every version that becomes current.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, outbox *notify.Outbox, recipients Recipients, staff Staff, cfg Config, observers ...VersionObserver) *Service {
	if cfg.VerificationsRequired <= 0 {
		cfg.VerificationsRequired = 2
	}
	if cfg.SanctionedCountries == nil {
		cfg.SanctionedCountries = DefaultSanctioned
	}
	return &Service{db: db, staff: staff, rec: rec, tab: newTables(rec), clk: clk, outbox: outbox, recipients: recipients, observers: observers, cfg: cfg}
}

// Config returns the policy in force.
func (s *Service) Config() Config { return s.cfg }

// IsSanctioned reports whether a country is on the sanctions list.
func (s *Service) IsSanctioned(country string) bool {
	return slices.Contains(s.cfg.SanctionedCountries, country)
}

// CreateInput is the body of POST /organizations.
type CreateInput struct {
	Fields
	SanctionsReview *SanctionsReview `json:"sanctionsReview"`
}

func (s *Service) checkReview(country string, r *SanctionsReview) error {
	if r != nil {
		if r.Reference == "" || checkText("sanctionsReview", r.Reference) != nil || len(r.Reference) > 200 {
			return apperr.Invalid(apperr.CodeInvalidSanctionsReview, "sanctionsReview", "sanctionsReview.reference must name the review record (1-200 plain characters)")
		}
		if r.Decision != "approved" && r.Decision != "rejected" {
			return apperr.Invalid(apperr.CodeInvalidSanctionsReview, "sanctionsReview", "sanctionsReview.decision must be \"approved\" or \"rejected\"")
		}
		if len(r.Notes) > 2000 {
			return apperr.Invalid(apperr.CodeInvalidSanctionsReview, "sanctionsReview", "sanctionsReview.notes is longer than 2000 characters")
		}
		if err := plaintext.CheckProse("sanctionsReview.notes", r.Notes, 2000, false); err != nil {
			return err
		}
	}
	if s.IsSanctioned(country) && r == nil {
		return apperr.Invalid(apperr.CodeSanctionsReviewRequired, "sanctionsReview", "%s is on the sanctions list: record the sanctions review (reference, decision, notes)", country)
	}
	return nil
}

// Create makes an organization and its pending version 1.
func (s *Service) Create(ctx context.Context, by actor.Actor, in CreateInput) (Organization, Version, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return Organization{}, Version{}, err
	}
	f := in.Fields
	if err := f.Validate(); err != nil {
		return Organization{}, Version{}, err
	}
	if err := s.checkReview(f.CountryName, in.SanctionsReview); err != nil {
		return Organization{}, Version{}, err
	}
	now := s.clk.Now()
	org := Organization{ID: ids.New("org"), CreatedAt: now, CreatedBy: by.String()}
	v := Version{
		ID: ids.New("orv"), OrganizationID: org.ID, Version: 1, Status: StatusPending, Fields: f,
		SanctionsReview: in.SanctionsReview, Diff: Diff(Fields{}, f, nil, in.SanctionsReview),
		ProposedBy: by.String(), ProposedAt: now,
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.organizations.Insert(ctx, tx, by, actOrganizationCreated, org); err != nil {
			return err
		}
		if err := s.tab.organizationVersions.Insert(ctx, tx, by, actOrganizationVersionProposed, v); err != nil {
			return err
		}
		return s.notifyChange(ctx, tx, by, org.ID, v, "proposed")
	})
	if err != nil {
		return Organization{}, Version{}, err
	}
	return org, v, nil
}

// ChangeInput is the body of POST /organizations/{id}/versions: only the
// fields to change are set. An empty string clears an optional field.
type ChangeInput struct {
	OrganizationName    *string          `json:"organizationName"`
	CountryName         *string          `json:"countryName"`
	StateOrProvinceName *string          `json:"stateOrProvinceName"`
	LocalityName        *string          `json:"localityName"`
	StreetAddress       *string          `json:"streetAddress"`
	PostalCode          *string          `json:"postalCode"`
	RegistrationNumber  *string          `json:"registrationNumber"`
	SanctionsReview     *SanctionsReview `json:"sanctionsReview"`
}

func (c ChangeInput) apply(f Fields) Fields {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&f.OrganizationName, c.OrganizationName)
	set(&f.CountryName, c.CountryName)
	set(&f.StateOrProvinceName, c.StateOrProvinceName)
	set(&f.LocalityName, c.LocalityName)
	set(&f.StreetAddress, c.StreetAddress)
	set(&f.PostalCode, c.PostalCode)
	set(&f.RegistrationNumber, c.RegistrationNumber)
	return f
}

// Propose makes a new pending version from the current verified version
// (or, before any is verified, the latest version) with the given changes.
func (s *Service) Propose(ctx context.Context, by actor.Actor, orgID string, in ChangeInput) (Version, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return Version{}, err
	}
	var v Version
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		org, err := s.lockOrganization(ctx, tx, orgID)
		if err != nil {
			return err
		}
		versions, err := s.versions(ctx, tx, orgID)
		if err != nil {
			return err
		}
		base := versions[len(versions)-1]
		if org.CurrentVersion > 0 {
			base = versions[org.CurrentVersion-1]
		}
		f := in.apply(base.Fields)
		if in.CountryName != nil {
			// A country that is not one is named as such, before a
			// subdivision of it is asked for.
			only := Fields{CountryName: *in.CountryName}
			if err := only.Validate(); err != nil {
				if e, ok := apperr.As(err); ok && e.Field == "countryName" {
					return err
				}
			}
		}
		if in.StateOrProvinceName == nil && in.CountryName != nil && *in.CountryName != base.CountryName {
			return apperr.Invalid(apperr.CodeMissingField, "stateOrProvinceName", "a new countryName needs a stateOrProvinceName of that country")
		}
		if err := f.Validate(); err != nil {
			return err
		}
		review := base.SanctionsReview
		if in.SanctionsReview != nil {
			review = in.SanctionsReview
		} else if f.CountryName != base.CountryName {
			review = nil // a review is about one country
		}
		if err := s.checkReview(f.CountryName, review); err != nil {
			return err
		}
		diff := Diff(base.Fields, f, base.SanctionsReview, review)
		if org.CurrentVersion == 0 && (base.Status == StatusRejected || base.Status == StatusStale) {
			// Nothing was ever verified and the latest proposal was
			// closed: there is no identity to compare with, so the diff
			// is the whole identity, as a creation's is (and proposing the
			// closed proposal's fields again is a proposal, not no_change).
			diff = Diff(Fields{}, f, nil, review)
		}
		now := s.clk.Now()
		if len(diff) == 0 && !reverificationDue(org, base, now) {
			msg := fmt.Sprintf("the request changes nothing in version %d", base.Version)
			if base.Version == org.CurrentVersion && base.VerifiedAt != nil {
				msg += fmt.Sprintf("; the same identity may be proposed again, to be verified again, from %s (60 days before its BR §4.2.1 reuse period ends)",
					br.SubjectIdentityReusableUntil(*base.VerifiedAt).Add(-ReverifyLead).UTC().Format(time.RFC3339))
			}
			return apperr.Invalid(apperr.CodeNoChange, apperr.NoField, "%s", msg)
		}
		if diff == nil {
			diff = []Change{} // a re-verification: the same identity, verified again
		}
		v = Version{
			ID: ids.New("orv"), OrganizationID: orgID, Version: versions[len(versions)-1].Version + 1,
			Status: StatusPending, Fields: f, SanctionsReview: review, BasedOn: base.Version, Diff: diff,
			ProposedBy: by.String(), ProposedAt: now,
		}
		if err := s.tab.organizationVersions.Insert(ctx, tx, by, actOrganizationVersionProposed, v); err != nil {
			return err
		}
		return s.notifyChange(ctx, tx, by, orgID, v, "proposed")
	})
	return v, err
}

// Verify records by's verification of version n with evidence. When the
// version has enough distinct verifiers (and, for a sanctioned country, a
// compliance verifier and an approved review) it becomes the organization's
// current version.
func (s *Service) Verify(ctx context.Context, by actor.Actor, orgID string, n int, evidence []Evidence) (Version, []Verification, error) {
	if err := by.Require(actor.Verifier, actor.Compliance); err != nil {
		return Version{}, nil, err
	}
	for i, e := range evidence {
		if e.Source == "" || e.Reference == "" {
			return Version{}, nil, apperr.Invalid(apperr.CodeInvalidEvidence, "evidence", "evidence[%d] needs both source and reference", i)
		}
		if err := checkText("evidence", e.Source); err != nil {
			return Version{}, nil, err
		}
		if len(e.Reference) > 500 || len(e.Source) > 200 {
			return Version{}, nil, apperr.Invalid(apperr.CodeInvalidEvidence, "evidence", "evidence[%d] is too long", i)
		}
		if err := plaintext.Check("evidence", e.Reference, 500, true); err != nil {
			return Version{}, nil, err
		}
	}
	var v Version
	var verifs []Verification
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		org, err := s.lockOrganization(ctx, tx, orgID)
		if err != nil {
			return err
		}
		versions, err := s.versions(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if v, err = pendingVersion(versions, orgID, n); err != nil {
			return err
		}
		if v.ProposedBy == by.String() {
			return apperr.Forbidden(apperr.CodeSelfVerification, apperr.NoField, "you proposed version %d; another verifier must verify it", n)
		}
		if v.SanctionsReview != nil && v.SanctionsReview.Decision == "rejected" {
			return apperr.Conflict(apperr.CodeSanctionsRejected, "sanctionsReview", "the sanctions review of version %d was rejected; it cannot be verified", n)
		}
		verifs, err = s.verifications(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		for _, x := range verifs {
			if x.VerifierID == by.ID {
				return apperr.Conflict(apperr.CodeAlreadyVerified, apperr.NoField, "you already verified version %d", n)
			}
		}
		now := s.clk.Now()
		ver := Verification{
			ID: ids.New("vfy"), VersionID: v.ID, VerifierID: by.ID, VerifierName: by.Name,
			VerifierRoles: by.Roles, At: now, Evidence: evidence,
		}
		if ver.Evidence == nil {
			ver.Evidence = []Evidence{}
		}
		if err := s.tab.organizationVerifications.Insert(ctx, tx, by, actOrganizationVersionVerification, ver); err != nil {
			return err
		}
		verifs = append(verifs, ver)
		counting, err := s.standing(ctx, tx, verifs)
		if err != nil {
			return err
		}
		if !s.complete(v, counting) {
			return nil
		}
		// The version becomes current. Its identity rests on the evidence
		// of every verification, so BR §4.2.1's reuse period runs from the
		// oldest ("any data or document used in the prior validation"),
		// not from the one that completed it.
		obtained := now
		for _, x := range counting {
			if x.At.Before(obtained) {
				obtained = x.At
			}
		}
		v.Status, v.VerifiedAt = StatusVerified, &obtained
		if err := s.tab.organizationVersions.Update(ctx, tx, by, actOrganizationVersionVerified, v); err != nil {
			return err
		}
		for _, other := range versions {
			switch {
			case other.Version == v.Version:
			case other.Status == StatusVerified:
				other.Status, other.ClosedAt = StatusSuperseded, &now
				if err := s.tab.organizationVersions.Update(ctx, tx, by, actOrganizationVersionSuperseded, other); err != nil {
					return err
				}
			case other.Status == StatusPending && other.BasedOn != v.Version:
				other.Status, other.ClosedAt = StatusStale, &now
				if err := s.tab.organizationVersions.Update(ctx, tx, by, actOrganizationVersionStale, other); err != nil {
					return err
				}
			}
		}
		org.CurrentVersion = v.Version
		if err := s.tab.organizations.Update(ctx, tx, by, actOrganizationCurrentVersionChanged, org); err != nil {
			return err
		}
		if err := s.tellObservers(ctx, tx, by, orgID); err != nil {
			return err
		}
		return s.notifyChange(ctx, tx, by, orgID, v, "verified")
	})
	return v, verifs, err
}

// tellObservers passes the organization's new current verified version,
// read back integrity-checked in tx (with the row hash its verification
// gave it), to every observer.
func (s *Service) tellObservers(ctx context.Context, tx *store.Tx, by actor.Actor, orgID string) error {
	if len(s.observers) == 0 {
		return nil
	}
	cur, err := s.CurrentVerified(ctx, tx, orgID)
	if err != nil {
		return err
	}
	for _, o := range s.observers {
		if err := o.VersionVerified(ctx, tx, by, cur); err != nil {
			return err
		}
	}
	return nil
}

// ReverifyLead is how long before its BR §4.2.1 reuse period ends (or any
// time after) the current verified identity may be proposed again
// unchanged, to be verified again from fresh evidence.
const ReverifyLead = 60 * 24 * time.Hour

// reverificationDue reports whether base, the organization's current
// verified version, may be proposed again unchanged: its reuse period
// ends within ReverifyLead, or has ended. Otherwise a proposal that
// changes nothing is refused (no_change).
func reverificationDue(org Organization, base Version, now time.Time) bool {
	if org.CurrentVersion == 0 || base.Version != org.CurrentVersion || base.VerifiedAt == nil {
		return false
	}
	return !br.SubjectIdentityReusable(*base.VerifiedAt, now.Add(ReverifyLead))
}

// standing keeps the verifications whose verifiers are active staff now
// holding the verifier or compliance role they verified with, each with
// the roles it was given with that its verifier still holds: a verifier
// disabled, or stripped of the role, since verifying no longer vouches
// for a version a second person completes, and a compliance verification
// counts as one only while its verifier still holds the compliance role
// (the rule orders and templates keep for their approvals). A role granted
// after verifying adds nothing: a plain verifier's verification does not
// become the compliance verification a sanctioned country needs, which
// issuance looks for among the roles recorded with each verification
// (sanctionsCleared).
func (s *Service) standing(ctx context.Context, q store.Querier, verifs []Verification) ([]Verification, error) {
	ids := make([]string, len(verifs))
	for i, x := range verifs {
		ids[i] = x.VerifierID
	}
	roles, err := s.staff.ActiveRoles(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the verifiers of version: %w", err)
	}
	out := make([]Verification, 0, len(verifs))
	for _, x := range verifs {
		now := roles[x.VerifierID]
		held := slices.DeleteFunc(slices.Clone(x.VerifierRoles), func(r actor.Role) bool { return !slices.Contains(now, r) })
		if slices.Contains(held, actor.Verifier) || slices.Contains(held, actor.Compliance) {
			x.VerifierRoles = held
			out = append(out, x)
		}
	}
	return out, nil
}

// complete reports whether a version's verifications suffice.
func (s *Service) complete(v Version, verifs []Verification) bool {
	if len(verifs) < s.cfg.VerificationsRequired {
		return false
	}
	if s.IsSanctioned(v.CountryName) {
		if v.SanctionsReview == nil || v.SanctionsReview.Decision != "approved" {
			return false
		}
		for _, x := range verifs {
			if slices.Contains(x.VerifierRoles, actor.Compliance) {
				return true
			}
		}
		return false
	}
	return true
}

// Reject closes a pending version without verifying it.
func (s *Service) Reject(ctx context.Context, by actor.Actor, orgID string, n int, reason string) (Version, error) {
	if err := by.Require(actor.Verifier, actor.Compliance); err != nil {
		return Version{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Version{}, apperr.Invalid(apperr.CodeMissingField, "reason", "say why the version is rejected")
	}
	if err := plaintext.CheckProse("reason", reason, 2000, true); err != nil {
		return Version{}, err
	}
	var v Version
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		versions, err := s.versions(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if v, err = pendingVersion(versions, orgID, n); err != nil {
			return err
		}
		now := s.clk.Now()
		v.Status, v.ClosedAt = StatusRejected, &now
		if err := s.tab.organizationVersions.Update(ctx, tx, by, actOrganizationVersionRejected, v); err != nil {
			return err
		}
		return s.rec.Note(ctx, tx, by, actOrganizationVersionRejected, "organization_versions", v.ID, map[string]string{"reason": reason})
	})
	return v, err
}

// lockOrganization locks an organization's row until tx ends and returns
// it. Every change to its versions (a proposal, a verification, a
// rejection) takes this lock first, so they take turns on one replica or
// many: two verifiers verifying at once are counted together and the
// second completes the version (each alone would count only its own
// verification and leave it pending for good), and a rejection never
// overwrites a version that a verification just made current.
func (s *Service) lockOrganization(ctx context.Context, tx *store.Tx, orgID string) (Organization, error) {
	var org Organization
	err := s.tab.organizations.Lock(ctx, tx, orgID, &org)
	return org, err
}

// pendingVersion returns version n of versions, which must be pending.
func pendingVersion(versions []Version, orgID string, n int) (Version, error) {
	if n < 1 || n > len(versions) {
		return Version{}, apperr.NotFound(apperr.CodeNotFound, "version", "organization %s has no version %d", orgID, n)
	}
	if v := versions[n-1]; v.Status != StatusPending {
		return Version{}, apperr.Conflict(apperr.CodeVersionNotPending, "version", "version %d is %s, not pending", n, v.Status)
	}
	return versions[n-1], nil
}

// versions returns every version of an organization, oldest first,
// integrity-checked.
func (s *Service) versions(ctx context.Context, q store.Querier, orgID string) ([]Version, error) {
	vs, err := s.tab.organizationVersions.Select(ctx, q, `WHERE organization_id = ? ORDER BY version`, orgID)
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if v.Version != i+1 {
			return nil, apperr.Integrity("organization_versions", v.ID, "version numbers of organization %s are not contiguous", orgID)
		}
	}
	if len(vs) == 0 {
		return nil, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "organization %s has no versions", orgID)
	}
	return vs, nil
}

func (s *Service) verifications(ctx context.Context, q store.Querier, versionID string) ([]Verification, error) {
	return s.tab.organizationVerifications.Select(ctx, q, `WHERE version_id = ? ORDER BY at, id`, versionID)
}

// VersionOf returns version n of an organization, integrity-checked, and
// whether it exists.
func (s *Service) VersionOf(ctx context.Context, q store.Querier, orgID string, n int) (Version, bool, error) {
	return s.tab.organizationVersions.First(ctx, q, `WHERE organization_id = ? AND version = ?`, orgID, n)
}

// CurrentVerified returns the organization's current verified version for
// a decision (issuance), integrity-checked: it fails closed when the
// organization or its version was edited outside vetca.
//
// The organization's row and its version are two reads. On PostgreSQL,
// outside the organization's lock, a verification on another replica may
// commit between them: it makes a new version current and supersedes the
// one the row named, in one commit. So a version that is no longer
// verified is an integrity violation only if the organization's row, read
// again, still names it; if the row moved on, the reads straddled that
// commit, and they are made again.
func (s *Service) CurrentVerified(ctx context.Context, q store.Querier, orgID string) (Version, error) {
	readOrg := func() (Organization, error) {
		var org Organization
		if err := s.tab.organizations.Get(ctx, q, orgID, &org); err != nil {
			if apperr.IsKind(err, apperr.KindNotFound) {
				return org, apperr.NotFound(apperr.CodeNotFound, "organizationId", "organization %s not found", orgID)
			}
			return org, err
		}
		return org, nil
	}
	org, err := readOrg()
	if err != nil {
		return Version{}, err
	}
	for attempt := 0; ; attempt++ {
		if org.CurrentVersion == 0 {
			return Version{}, apperr.Conflict(apperr.CodeOrganizationNotVerified, "organizationId", "organization %s has no verified version yet", orgID)
		}
		vs, err := s.tab.organizationVersions.Select(ctx, q, `WHERE organization_id = ? AND version = ?`, orgID, org.CurrentVersion)
		if err != nil {
			return Version{}, err
		}
		if len(vs) == 1 && vs[0].Status == StatusVerified && vs[0].VerifiedAt != nil {
			if err := s.sanctionsCleared(ctx, q, vs[0]); err != nil {
				return Version{}, err
			}
			return vs[0], nil
		}
		again, err := readOrg()
		if err != nil {
			return Version{}, err
		}
		if again.CurrentVersion == org.CurrentVersion || attempt >= 3 {
			return Version{}, apperr.Integrity("organizations", orgID, "current_version %d does not name a verified version", org.CurrentVersion)
		}
		org = again
	}
}

// sanctionsCleared refuses a version whose country is on the sanctions
// list as it is now, unless its approved sanctions review was verified by
// a compliance verifier, as verification requires (complete). A version
// verified before its country was added to the list has neither: nothing
// is issued for it until the identity is proposed again with the review
// and verified.
func (s *Service) sanctionsCleared(ctx context.Context, q store.Querier, v Version) error {
	if !s.IsSanctioned(v.CountryName) {
		return nil
	}
	if v.SanctionsReview != nil && v.SanctionsReview.Decision == "approved" {
		verifs, err := s.verifications(ctx, q, v.ID)
		if err != nil {
			return err
		}
		for _, x := range verifs {
			if slices.Contains(x.VerifierRoles, actor.Compliance) {
				return nil
			}
		}
	}
	return apperr.Conflict(apperr.CodeSanctionsNotCleared, "organizationId",
		"organization %s's verified version %d is in %s, which is on the sanctions list, without an approved sanctions review verified by compliance; propose it again with the review and have it verified",
		v.OrganizationID, v.Version, v.CountryName)
}

// VersionView is a version with its verifications, as the API shows it.
type VersionView struct {
	Version
	Verifications []Verification `json:"verifications"`
}

// View is GET /organizations/{id} (docs/api.md, Identity).
type View struct {
	ID        string        `json:"id"`
	CreatedAt time.Time     `json:"createdAt"`
	Current   *VersionView  `json:"current"`
	Pending   []VersionView `json:"pending"`
	History   []VersionView `json:"history"`
	Sanctions bool          `json:"sanctionedCountry"`
}

// CanRead reports whether by may read an organization: any staff role, or
// the subscriber of an account that uses it.
type CanRead func(ctx context.Context, by actor.Actor, orgID string) error

// Get returns an organization's current, pending and past versions.
func (s *Service) Get(ctx context.Context, by actor.Actor, orgID string, canRead CanRead) (View, error) {
	if !by.IsStaff() {
		if canRead == nil {
			return View{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
		}
		if err := canRead(ctx, by, orgID); err != nil {
			return View{}, err
		}
	}
	var org Organization
	if err := s.tab.organizations.Get(ctx, s.db, orgID, &org); err != nil {
		return View{}, err
	}
	versions, err := s.versions(ctx, s.db, orgID)
	if err != nil {
		return View{}, err
	}
	view := View{ID: org.ID, CreatedAt: org.CreatedAt, Pending: []VersionView{}, History: []VersionView{}}
	for _, v := range versions {
		verifs, err := s.verifications(ctx, s.db, v.ID)
		if err != nil {
			return View{}, err
		}
		if verifs == nil {
			verifs = []Verification{}
		}
		vv := VersionView{Version: v, Verifications: verifs}
		switch {
		case v.Version == org.CurrentVersion:
			c := vv
			view.Current = &c
			view.Sanctions = s.IsSanctioned(v.CountryName)
		case v.Status == StatusPending:
			view.Pending = append(view.Pending, vv)
		}
		view.History = append(view.History, vv)
	}
	return view, nil
}

// Summary is one line of the organization list.
type Summary struct {
	ID               string `json:"id"`
	OrganizationName string `json:"organizationName"`
	CountryName      string `json:"countryName"`
	CurrentVersion   int    `json:"currentVersion"`
	PendingVersions  int    `json:"pendingVersions"`
}

// List returns one page of organizations, newest first, each with the
// name and country of its current verified version (or, before the first
// is verified, of its latest version) (staff only). Every row is read
// integrity-checked.
func (s *Service) List(ctx context.Context, by actor.Actor, p store.Page) ([]Summary, string, error) {
	if !by.IsStaff() {
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	var w store.Where
	orgs, next, err := s.tab.organizations.NewestFirst(ctx, s.db, w, p, func(o Organization) (time.Time, string) { return o.CreatedAt, o.ID })
	if err != nil {
		return nil, "", err
	}
	out, err := s.summarize(ctx, orgs)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// summarize gives each organization the name and country of its current
// verified version (or, before the first is verified, of its latest
// version) and its count of pending versions, in the order given.
func (s *Service) summarize(ctx context.Context, orgs []Organization) ([]Summary, error) {
	out := make([]Summary, 0, len(orgs))
	if len(orgs) == 0 {
		return out, nil
	}
	ids := make([]any, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	vs, err := s.tab.organizationVersions.Select(ctx, s.db, `WHERE organization_id IN (`+placeholders(len(ids))+`) ORDER BY version`, ids...)
	if err != nil {
		return nil, err
	}
	byOrg := map[string][]Version{}
	for _, v := range vs {
		byOrg[v.OrganizationID] = append(byOrg[v.OrganizationID], v)
	}
	for _, o := range orgs {
		sum := Summary{ID: o.ID, CurrentVersion: o.CurrentVersion}
		for _, v := range byOrg[o.ID] {
			if o.CurrentVersion == 0 || v.Version == o.CurrentVersion {
				sum.OrganizationName, sum.CountryName = v.OrganizationName, v.CountryName
			}
			if v.Status == StatusPending {
				sum.PendingVersions++
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// Summaries returns the summary (name, country, versions) of each of the
// organizations ids names that by may read, by id, for pages that list
// other objects by their organization. Staff may read every organization;
// anyone else only those canRead allows, and the others are left out.
// Unknown ids are left out too.
func (s *Service) Summaries(ctx context.Context, by actor.Actor, ids []string, canRead CanRead) (map[string]Summary, error) {
	seen := map[string]bool{}
	var want []any
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if !by.IsStaff() {
			if canRead == nil {
				continue
			}
			if err := canRead(ctx, by, id); err != nil {
				if apperr.IsKind(err, apperr.KindForbidden) || apperr.IsKind(err, apperr.KindNotFound) {
					continue
				}
				return nil, err
			}
		}
		want = append(want, id)
	}
	out := make(map[string]Summary, len(want))
	if len(want) == 0 {
		return out, nil
	}
	orgs, err := s.tab.organizations.Select(ctx, s.db, `WHERE id IN (`+placeholders(len(want))+`)`, want...)
	if err != nil {
		return nil, err
	}
	sums, err := s.summarize(ctx, orgs)
	if err != nil {
		return nil, err
	}
	for _, sum := range sums {
		out[sum.ID] = sum
	}
	return out, nil
}

// Counts returns how many organizations exist and how many versions await
// verification (staff only).
func (s *Service) Counts(ctx context.Context, by actor.Actor) (orgs, pending int, err error) {
	if !by.IsStaff() {
		return 0, 0, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&orgs); err != nil {
		return 0, 0, err
	}
	err = s.db.QueryRow(ctx, `SELECT COUNT(*) FROM organization_versions WHERE status = ?`, StatusPending).Scan(&pending)
	return orgs, pending, err
}

// Exists reports whether an organization exists (for linking to accounts).
func (s *Service) Exists(ctx context.Context, q store.Querier, orgID string) error {
	var org Organization
	return s.tab.organizations.Get(ctx, q, orgID, &org)
}

// notifyChange mails the diff to the organization's account contacts and
// the compliance address.
func (s *Service) notifyChange(ctx context.Context, tx *store.Tx, by actor.Actor, orgID string, v Version, what string) error {
	var rcpts []Recipient
	if s.recipients != nil {
		var err error
		if rcpts, err = s.recipients.ContactsForOrganization(ctx, tx, orgID); err != nil {
			return err
		}
	}
	if s.cfg.ComplianceEmail != "" {
		rcpts = append(rcpts, Recipient{Name: "Compliance", Email: s.cfg.ComplianceEmail, Role: "compliance"})
	}
	if len(rcpts) == 0 {
		return nil
	}
	subject := fmt.Sprintf("[vetca] %s: identity version %d %s", v.OrganizationName, v.Version, what)
	var b strings.Builder
	fmt.Fprintf(&b, "Organization %s (%s), identity version %d, was %s by %s at %s.\n\n", v.OrganizationName, orgID, v.Version, what, by.String(), s.clk.Now().Format(time.RFC3339))
	if what == "proposed" {
		fmt.Fprintf(&b, "It stays pending until %d verifiers other than the proposer verify it. Certificates keep using the current verified version until then.\n\n", s.cfg.VerificationsRequired)
	} else {
		b.WriteString("From now on, new certificates for this organization carry these values.\n\n")
	}
	b.WriteString("Changes:\n")
	for _, c := range v.Diff {
		fmt.Fprintf(&b, "  %s: %q -> %q\n", c.Field, c.From, c.To)
	}
	b.WriteString("\nIf this change was not requested by your organization, reply to your CA at once.\n")
	seen := map[string]bool{}
	for _, r := range rcpts {
		if seen[strings.ToLower(r.Email)] {
			continue
		}
		seen[strings.ToLower(r.Email)] = true
		if _, err := s.outbox.Enqueue(ctx, tx, by, notify.Message{
			To: r.Email, RecipientRole: r.Role, Subject: subject, Body: b.String(),
			Kind: "organization.version_" + what, RefType: "organizations", RefID: orgID,
		}); err != nil {
			return err
		}
	}
	return nil
}
