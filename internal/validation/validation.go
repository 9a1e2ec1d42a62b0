package validation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// Status is where a domain validation stands.
type Status string

// Validation statuses as stored. The API also shows "expired" (see
// Validation.State).
const (
	StatusPending = "pending" // started, not yet attempted
	StatusValid   = "valid"   // at least one attempt was valid
	StatusInvalid = "invalid" // attempted, never valid
	StatusExpired = "expired" // shown only: the random value or the reuse period has run out
)

// Validation is one domain control validation started for an account: the
// random value and where it must appear (table domain_validations).
type Validation struct {
	ID            string     `db:"id"`
	AccountID     string     `db:"account_id"`
	Domain        string     `db:"domain"` // normalized; "*." kept for a wildcard
	Method        string     `db:"method"`
	MethodSection string     `db:"method_section"`
	MethodVersion string     `db:"method_version"` // of the valid attempt once valid
	RandomValue   string     `db:"random_value"`
	RecordName    string     `db:"record_name"` // dns-change
	FileName      string     `db:"file_name"`   // website-change
	URL           string     `db:"url"`         // website-change
	Status        Status     `db:"status"`
	CreatedAt     time.Time  `db:"created_at"`
	CreatedBy     string     `db:"created_by"`
	ExpiresAt     time.Time  `db:"expires_at"` // the random value's expiry (BR §3.2.2.4.7)
	ValidatedAt   *time.Time `db:"validated_at"`
	// ValidAttemptID is the latest valid attempt: the evidence relied on.
	ValidAttemptID string `db:"valid_attempt_id"`
}

// State is the status shown at now: "expired" when the random value has
// expired before a valid attempt, or when the BR §4.2.1 reuse period of a
// valid one has run out.
func (v Validation) State(now time.Time) Status {
	if v.Status == StatusValid {
		if v.ValidatedAt != nil && br.DomainValidationReusable(*v.ValidatedAt, now) {
			return StatusValid
		}
		return StatusExpired
	}
	if now.After(v.ExpiresAt) {
		return StatusExpired
	}
	return v.Status
}

// Attempt is the stored evidence of one validation attempt (table
// domain_validation_attempts; BR §3.2.2.4 and §5.4.1).
type Attempt struct {
	ID            string       `db:"id"`
	ValidationID  string       `db:"validation_id"`
	Number        int          `db:"number"` // 1 for the validation's first attempt, and so on
	AccountID     string       `db:"account_id"`
	Domain        string       `db:"domain"`
	Method        string       `db:"method"`
	MethodSection string       `db:"method_section"`
	MethodVersion string       `db:"method_version"`
	QueriedName   string       `db:"queried_name"` // exact DNS name or URL queried
	Answer        []string     `db:"answer,json"`  // TXT values or the body seen
	Resolver      string       `db:"resolver"`
	AttemptedAt   time.Time    `db:"attempted_at"`
	PrimaryStatus string       `db:"primary_status"` // what the primary perspective saw
	Status        string       `db:"status"`         // the decision, after the quorum
	Reason        string       `db:"reason"`
	Quorum        string       `db:"quorum"` // e.g. "3/4 corroborated, quorum met"
	Evidence      dcv.Evidence `db:"evidence,json"`
	Corroboration mpic.Outcome `db:"corroboration,json"`
	PerformedBy   string       `db:"performed_by"`
}

// ValidationView is a validation as the API shows it. The fields of the
// POST response (docs/api.md, Domains) are id, domain, method, and recordName,
// recordType, value, expiresAt (dns-change) or url, value, expiresAt
// (website-change); the rest are additions.
type ValidationView struct {
	ID            string        `json:"id"`
	AccountID     string        `json:"accountId"`
	Domain        string        `json:"domain"`
	Method        string        `json:"method"`
	MethodSection string        `json:"methodSection"`
	MethodVersion string        `json:"methodVersion"`
	Status        Status        `json:"status"`
	RecordName    string        `json:"recordName,omitempty"`
	RecordType    string        `json:"recordType,omitempty"`
	URL           string        `json:"url,omitempty"`
	Value         string        `json:"value"`
	CreatedAt     time.Time     `json:"createdAt"`
	ExpiresAt     time.Time     `json:"expiresAt"`
	ValidatedAt   *time.Time    `json:"validatedAt,omitempty"`
	ReusableUntil *time.Time    `json:"reusableUntil,omitempty"` // BR §4.2.1
	Attempts      []AttemptView `json:"attempts,omitempty"`
}

// View renders v at now.
func (v Validation) View(now time.Time) ValidationView {
	out := ValidationView{ID: v.ID, AccountID: v.AccountID, Domain: v.Domain, Method: v.Method, MethodSection: v.MethodSection,
		MethodVersion: v.MethodVersion, Status: v.State(now), URL: v.URL, Value: v.RandomValue,
		CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt, ValidatedAt: v.ValidatedAt}
	if v.RecordName != "" {
		out.RecordName, out.RecordType = v.RecordName, "TXT"
	}
	if v.ValidatedAt != nil {
		until := br.DomainValidationReusableUntil(*v.ValidatedAt)
		out.ReusableUntil = &until
	}
	return out
}

// PerspectiveView is one remote perspective's part of an attempt.
type PerspectiveView struct {
	Perspective  string `json:"perspective"`
	Region       string `json:"region"`
	URL          string `json:"url"`
	Corroborated bool   `json:"corroborated"`
	Reason       string `json:"reason"`
}

// CorroborationView summarizes the BR §3.2.2.9 corroboration of an attempt.
type CorroborationView struct {
	Performed      bool              `json:"performed"`
	Quorum         string            `json:"quorum"`
	Met            bool              `json:"met"`
	Used           int               `json:"used"`
	Corroborations int               `json:"corroborations"`
	Perspectives   []PerspectiveView `json:"perspectives"`
}

// AttemptView is an attempt as the API shows it. The documented fields
// of the validate response are status, method, queriedName and answer
// (the answer seen, several TXT values joined by newlines; answers holds
// them one by one).
type AttemptView struct {
	ID            string            `json:"id"`
	ValidationID  string            `json:"validationId"`
	Number        int               `json:"number"`
	Domain        string            `json:"domain"`
	Status        string            `json:"status"`
	Method        string            `json:"method"`
	MethodSection string            `json:"methodSection"`
	MethodVersion string            `json:"methodVersion"`
	QueriedName   string            `json:"queriedName"`
	Answer        string            `json:"answer"`
	Answers       []string          `json:"answers"`
	Resolver      string            `json:"resolver"`
	AttemptedAt   time.Time         `json:"attemptedAt"`
	PrimaryStatus string            `json:"primaryStatus"`
	Reason        string            `json:"reason"`
	Corroboration CorroborationView `json:"corroboration"`
	// Evidence is the full stored evidence (GET of one validation only).
	Evidence *AttemptEvidence `json:"evidence,omitempty"`
}

// AttemptEvidence is the complete evidence of an attempt.
type AttemptEvidence struct {
	Primary       dcv.Evidence `json:"primary"`
	Corroboration mpic.Outcome `json:"corroboration"`
}

// View renders an attempt; full adds the complete evidence.
func (a Attempt) View(full bool) AttemptView {
	answers := a.Answer
	if answers == nil {
		answers = []string{}
	}
	out := AttemptView{ID: a.ID, ValidationID: a.ValidationID, Number: a.Number, Domain: a.Domain, Status: a.Status, Method: a.Method,
		MethodSection: a.MethodSection, MethodVersion: a.MethodVersion, QueriedName: a.QueriedName,
		Answer: strings.Join(answers, "\n"), Answers: answers, Resolver: a.Resolver, AttemptedAt: a.AttemptedAt,
		PrimaryStatus: a.PrimaryStatus, Reason: a.Reason, Corroboration: corroborationView(a.Corroboration)}
	if full {
		out.Evidence = &AttemptEvidence{Primary: a.Evidence, Corroboration: a.Corroboration}
	}
	return out
}

func corroborationView(o mpic.Outcome) CorroborationView {
	v := CorroborationView{Performed: o.Performed, Quorum: o.Quorum.Summary, Met: o.Quorum.Met, Used: o.Quorum.Used,
		Corroborations: o.Quorum.Corroborations, Perspectives: []PerspectiveView{}}
	for _, r := range o.Results {
		v.Perspectives = append(v.Perspectives, PerspectiveView{Perspective: r.Perspective, Region: r.Region, URL: r.URL,
			Corroborated: r.Corroborated, Reason: r.Reason})
	}
	return v
}

// accountExists checks the account (integrity-checked); a missing one is
// a 404.
func (s *Service) accountExists(ctx context.Context, q store.Querier, accountID string) error {
	err := s.acc.CheckAccount(ctx, q, accountID)
	if apperr.IsKind(err, apperr.KindNotFound) {
		return apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no account %s", accountID)
	}
	return err
}

// Start begins a validation of domainName for an account with method
// ("dns-change" when empty): POST /accounts/{id}/domains. The
// account's subscriber or a verifier or admin may start one.
func (s *Service) Start(ctx context.Context, by actor.Actor, accountID, domainName, method string) (Validation, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin); err != nil {
		return Validation{}, err
	}
	if method == "" {
		method = dcv.DNSChange.Name
	}
	m, err := dcv.MethodByName(method)
	if err != nil {
		return Validation{}, err
	}
	if m.IsACME() {
		return Validation{}, apperr.Invalid(apperr.CodeUnknownMethod, "method", "%s is validated through an ACME challenge; start a validation here with %q or %q",
			m.Name, dcv.DNSChange.Name, dcv.WebsiteChange.Name)
	}
	if strings.TrimSpace(domainName) == "" {
		return Validation{}, apperr.Invalid(apperr.CodeMissingField, dnsname.Field, "domain is required")
	}
	if dnsname.IsWildcard(strings.TrimSpace(domainName)) && !m.AllowsWildcard {
		return Validation{}, apperr.Invalid(dnsname.CodeWildcard, dnsname.Field,
			"%s (BR §%s) cannot validate a wildcard name such as %q; use %s for wildcards", m.Name, m.Section, domainName, dcv.DNSChange.Name)
	}
	name, err := dnsname.Normalize(domainName, m.AllowsWildcard)
	if err != nil {
		return Validation{}, err
	}
	value, err := dcv.NewRandomValue()
	if err != nil {
		return Validation{}, fmt.Errorf("random value: %w", err)
	}
	now := s.now()
	v := Validation{ID: ids.New("dv"), AccountID: accountID, Domain: name, Method: m.Name, MethodSection: m.Section,
		MethodVersion: m.Version, RandomValue: value, Status: StatusPending, CreatedAt: now, CreatedBy: by.String(),
		ExpiresAt: br.RandomValueExpiry(now)}
	switch m.Name {
	case dcv.DNSChange.Name:
		if v.RecordName, err = dcv.RecordName(name); err != nil {
			return Validation{}, err
		}
	case dcv.WebsiteChange.Name:
		if v.FileName, err = dcv.NewFileName(); err != nil {
			return Validation{}, fmt.Errorf("file name: %w", err)
		}
		v.URL = s.chk.Website.URL(name, v.FileName)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		return s.tab.domainValidations.Insert(ctx, tx, by, actDomainValidationStarted, v)
	})
	if err != nil {
		return Validation{}, err
	}
	return v, nil
}

// get reads a validation of an account (integrity-checked).
func (s *Service) get(ctx context.Context, q store.Querier, accountID, validationID string) (Validation, error) {
	var v Validation
	if err := s.tab.domainValidations.Get(ctx, q, validationID, &v); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Validation{}, apperr.NotFound(apperr.CodeNotFound, "domainId", "no domain validation %s on account %s", validationID, accountID)
		}
		return Validation{}, err
	}
	if v.AccountID != accountID {
		return Validation{}, apperr.NotFound(apperr.CodeNotFound, "domainId", "no domain validation %s on account %s", validationID, accountID)
	}
	return v, nil
}

// Validate runs the check of a validation now: POST
// .../domains/{domainId}/validate. The primary check runs first; when it
// sees the value, the remote perspectives repeat it and the BR §3.2.2.9
// quorum decides. Every attempt is stored, valid or not. A validation
// whose random value has expired is refused with 409 random_value_expired
// and nothing is checked.
func (s *Service) Validate(ctx context.Context, by actor.Actor, accountID, validationID string) (Attempt, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin); err != nil {
		return Attempt{}, err
	}
	v, err := s.get(ctx, s.db, accountID, validationID)
	if err != nil {
		return Attempt{}, err
	}
	now := s.now()
	if now.After(v.ExpiresAt) {
		return Attempt{}, apperr.Conflict(apperr.CodeRandomValueExpired, apperr.NoField,
			"the random value of validation %s expired at %s (BR §3.2.2.4.7: a random value may be used for at most 30 days); start a new validation of %s",
			v.ID, v.ExpiresAt.Format(time.RFC3339), v.Domain)
	}

	// Network I/O first, outside any transaction.
	var ev dcv.Evidence
	req := mpic.CheckRequest{Domain: v.Domain, Value: v.RandomValue}
	switch v.Method {
	case dcv.DNSChange.Name:
		req.Kind = mpic.KindDNSChange
		ev, err = s.chk.DNS.Check(ctx, v.Domain, v.RandomValue)
	case dcv.WebsiteChange.Name:
		req.Kind, req.FileName = mpic.KindWebsiteChange, v.FileName
		ev, err = s.chk.Website.Check(ctx, v.Domain, v.FileName, v.RandomValue)
	case dcv.ACMEHTTP01.Name:
		req.Kind, req.FileName = mpic.KindACMEHTTP01, v.FileName
		ev, err = s.chk.Website.CheckACME(ctx, v.Domain, v.FileName, v.RandomValue)
	case dcv.ACMEDNS01.Name:
		req.Kind = mpic.KindACMEDNS01
		ev, err = s.chk.DNS.CheckACME(ctx, v.Domain, v.RandomValue)
	default:
		return Attempt{}, fmt.Errorf("validation %s has unknown method %q", v.ID, v.Method)
	}
	if err != nil {
		return Attempt{}, err
	}
	out := s.corroborate(ctx, req, ev.Valid)
	valid := decided(ev.Valid, out)

	a := Attempt{ID: ids.New("dva"), ValidationID: v.ID, AccountID: v.AccountID, Domain: v.Domain, Method: ev.Method,
		MethodSection: ev.Section, MethodVersion: ev.Version, QueriedName: ev.Query, Answer: ev.Answer, Resolver: ev.Resolver,
		AttemptedAt: now, PrimaryStatus: ev.Status, Status: dcv.StatusInvalid, Reason: ev.Reason, Quorum: out.Quorum.Summary,
		Evidence: ev, Corroboration: out, PerformedBy: by.String()}
	if a.Answer == nil {
		a.Answer = []string{}
	}
	switch {
	case valid:
		a.Status = dcv.StatusValid
		if out.Performed {
			a.Reason = ev.Reason + "; " + out.Quorum.Summary
		}
	case ev.Valid:
		a.Reason = ev.Reason + ", but remote perspectives did not corroborate it (BR §3.2.2.9): " + out.Quorum.Summary
	}

	// Then record, in one transaction.
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM domain_validations WHERE id = ?`+tx.ForUpdate(), v.ID); err != nil {
			return err
		}
		cur, err := s.get(ctx, tx, accountID, validationID)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM domain_validation_attempts WHERE validation_id = ?`, v.ID).Scan(&a.Number); err != nil {
			return err
		}
		a.Number++
		if err := s.tab.domainValidationAttempts.Insert(ctx, tx, by, actDomainValidationAttempted, a); err != nil {
			return err
		}
		switch {
		case valid:
			at := a.AttemptedAt
			cur.Status, cur.ValidatedAt, cur.ValidAttemptID = StatusValid, &at, a.ID
			cur.MethodSection, cur.MethodVersion = a.MethodSection, a.MethodVersion
			return s.tab.domainValidations.Update(ctx, tx, by, actDomainValidated, cur)
		case cur.Status == StatusPending:
			cur.Status = StatusInvalid
			return s.tab.domainValidations.Update(ctx, tx, by, actDomainValidationFailed, cur)
		}
		return nil
	})
	if err != nil {
		return Attempt{}, err
	}
	return a, nil
}

// List returns an account's validations, newest first, with their status
// (GET /accounts/{id}/domains).
func (s *Service) List(ctx context.Context, by actor.Actor, accountID string, p store.Page) ([]ValidationView, string, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin, actor.Compliance, actor.Auditor); err != nil {
		return nil, "", err
	}
	if err := s.accountExists(ctx, s.db, accountID); err != nil {
		return nil, "", err
	}
	var w store.Where
	w.Add("account_id = ?", accountID)
	vs, next, err := s.tab.domainValidations.NewestFirst(ctx, s.db, w, p, func(v Validation) (time.Time, string) { return v.CreatedAt, v.ID })
	if err != nil {
		return nil, "", err
	}
	now := s.clk.Now()
	out := make([]ValidationView, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.View(now))
	}
	return out, next, nil
}

// Get returns one validation with every attempt and its full evidence
// (GET /accounts/{id}/domains/{domainId}).
func (s *Service) Get(ctx context.Context, by actor.Actor, accountID, validationID string) (ValidationView, error) {
	if err := by.CanActForAccount(accountID, actor.Verifier, actor.Admin, actor.Compliance, actor.Auditor); err != nil {
		return ValidationView{}, err
	}
	v, err := s.get(ctx, s.db, accountID, validationID)
	if err != nil {
		return ValidationView{}, err
	}
	as, err := s.tab.domainValidationAttempts.Select(ctx, s.db, `WHERE validation_id = ? ORDER BY number`, validationID)
	if err != nil {
		return ValidationView{}, err
	}
	view := v.View(s.clk.Now())
	view.Attempts = make([]AttemptView, 0, len(as))
	for _, a := range as {
		view.Attempts = append(view.Attempts, a.View(true))
	}
	return view, nil
}

// ACME challenge types (RFC 8555 §8.3, §8.4).
const (
	ChallengeHTTP01 = "http-01"
	ChallengeDNS01  = "dns-01"
)

// StartACME records, inside the caller's transaction, the domain
// validation an ACME challenge is checked against, so that its attempts
// are the same evidence as the portal's and RequireValidated, the reuse
// rules and Search see them. Method acme-http-01 (BR §3.2.2.4.19) keeps
// the token as the file name and the key authorization as the value the
// body must be, at URL .../.well-known/acme-challenge/<token>; acme-dns-01
// (BR §3.2.2.4.7) keeps the key authorization's digest as the value, at
// record name _acme-challenge.<domain>. Both take the token's place as
// the random value: they derive from it and expire as random values do
// (br.RandomValueExpiry). domain is normalized; "*." only with dns-01.
// Validate runs it.
func (s *Service) StartACME(ctx context.Context, tx *store.Tx, by actor.Actor, accountID, domain, challengeType, token, keyAuthorization string) (Validation, error) {
	if err := by.CanActForAccount(accountID); err != nil {
		return Validation{}, err
	}
	var m dcv.Method
	switch challengeType {
	case ChallengeHTTP01:
		m = dcv.ACMEHTTP01
	case ChallengeDNS01:
		m = dcv.ACMEDNS01
	default:
		return Validation{}, apperr.Invalid(apperr.CodeUnknownMethod, "type", "challenge type %q is not %q or %q", challengeType, ChallengeHTTP01, ChallengeDNS01)
	}
	if err := dcv.CheckKeyAuthorization(token, keyAuthorization); err != nil {
		return Validation{}, err
	}
	if dnsname.IsWildcard(strings.TrimSpace(domain)) && !m.AllowsWildcard {
		return Validation{}, apperr.Invalid(dnsname.CodeWildcard, dnsname.Field, "%s (BR §%s) cannot validate a wildcard name such as %q", m.Name, m.Section, domain)
	}
	name, err := dnsname.Normalize(domain, m.AllowsWildcard)
	if err != nil {
		return Validation{}, err
	}
	now := s.now()
	v := Validation{ID: ids.New("dv"), AccountID: accountID, Domain: name, Method: m.Name, MethodSection: m.Section,
		MethodVersion: m.Version, Status: StatusPending, CreatedAt: now, CreatedBy: by.String(), ExpiresAt: br.RandomValueExpiry(now)}
	if m == dcv.ACMEHTTP01 {
		v.RandomValue, v.FileName, v.URL = keyAuthorization, token, s.chk.Website.ACMEURL(name, token)
	} else {
		v.RandomValue, v.RecordName = dcv.ACMEDigest(keyAuthorization), dcv.ACMEChallengeLabel+"."+dnsname.Base(name)
	}
	if err := s.accountExists(ctx, tx, accountID); err != nil {
		return Validation{}, err
	}
	if err := s.tab.domainValidations.Insert(ctx, tx, by, actDomainValidationStarted, v); err != nil {
		return Validation{}, err
	}
	return v, nil
}
