package template

import (
	"context"
	"errors"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// NotCovered is the cause of an identifier_not_covered refusal: the first
// requested name that no approved template of the account covers. The
// ACME server answers it as RFC 8555's rejectedIdentifier problem.
type NotCovered struct{ Identifier string }

func (e *NotCovered) Error() string { return "identifier " + e.Identifier + " is not covered" }

// RejectedIdentifier returns the identifier an error of Match names as not
// covered, if it is such an error.
func RejectedIdentifier(err error) (string, bool) {
	var nc *NotCovered
	if errors.As(err, &nc) {
		return nc.Identifier, true
	}
	return "", false
}

// candidate is an approved template as Match judges it.
type candidate struct {
	t Template
	// stale: its hash no longer equals the hash of current data.
	stale bool
	// lapsed: fewer independent approvals of its hash than required
	// (an approver has since acted for the account).
	lapsed bool
	// refused: why nothing may be issued under it now (its organization
	// has no issuable verified version, say its country was sanctioned
	// since); it is set aside, and named only if it alone would fit.
	refused error
}

// Match returns the approved template of accountID that covers every name,
// allows keyType and allows validityDays, for the future ACME server. Only
// a template whose hash still equals the hash recomputed from current data
// (the organization's current verified version and its row hash) and that
// still has the required independent approvals may match. A stale one has
// its approvals voided, with an audit event, before the answer; if it is
// the one that would have matched, the answer is 409 template_mismatch
// (or template_not_approved for lapsed approvals). Otherwise the refusal
// names the first name no template covers (403 identifier_not_covered,
// field dnsNames, with NotCovered as its cause), or the key type (403
// key_type_not_allowed, field keyType) or the validity (403
// validity_not_allowed, field validityDays). Bad input is 400 naming its
// field. An empty keyType judges the names and the validity only: an ACME
// order names its key only when it is finalized, and is matched again then.
func (s *Service) Match(ctx context.Context, accountID string, names []string, keyType string, validityDays int) (Template, error) {
	req, err := s.parseMatch(accountID, names, keyType, validityDays)
	if err != nil {
		return Template{}, err
	}
	var cands []candidate
	err = s.db.ReadTx(ctx, func(tx *store.Tx) error {
		cands, err = s.judge(ctx, tx, accountID)
		return err
	})
	if err != nil {
		return Template{}, err
	}
	for _, c := range cands {
		if c.stale && c.refused == nil {
			if err := s.voidStale(ctx, c.t.ID); err != nil {
				return Template{}, err
			}
		}
	}
	t, err := req.choose(cands)
	if name, ok := RejectedIdentifier(err); ok {
		return Template{}, s.explainNotCovered(ctx, accountID, name, err)
	}
	return t, err
}

// explainNotCovered adds to a not-covered refusal the templates of the
// account that would cover the name but wait for approval (new, changed,
// or voided by a new organization version), so the subscriber learns
// what the refusal waits on.
func (s *Service) explainNotCovered(ctx context.Context, accountID, name string, refusal error) error {
	pending, err := s.tab.templates.Select(ctx, s.db, `WHERE account_id = ? AND status = ? ORDER BY created_at, id`, accountID, StatusPendingApproval)
	if err != nil {
		return err
	}
	for _, t := range pending {
		if t.Covers(name) {
			e, _ := apperr.As(refusal)
			return notCovered(name, "%s; template %s covers it but waits for %d independent approvals", e.Message, t.ID, s.cfg.ApprovalsRequired)
		}
	}
	return refusal
}

// matchRequest is a checked Match request.
type matchRequest struct {
	names    []string // normalized, in the order asked, no repeats
	keyType  string
	days     int
	required int // independent approvals a template needs
}

func (s *Service) parseMatch(accountID string, names []string, keyType string, days int) (matchRequest, error) {
	if strings.TrimSpace(accountID) == "" {
		return matchRequest{}, apperr.Invalid(apperr.CodeMissingField, "accountId", "accountId is required")
	}
	norm, err := normalizeNames("dnsNames", names)
	if err != nil {
		return matchRequest{}, err
	}
	if keyType != "" {
		if err := checkKeyType("keyType", keyType); err != nil {
			return matchRequest{}, err
		}
	}
	if err := checkValidity("validityDays", days, s.clk.Now()); err != nil {
		return matchRequest{}, err
	}
	return matchRequest{names: norm, keyType: keyType, days: days, required: s.cfg.ApprovalsRequired}, nil
}

// judge reads the account's approved templates in one snapshot and judges
// each against current data.
func (s *Service) judge(ctx context.Context, q store.Querier, accountID string) ([]candidate, error) {
	ts, err := s.tab.templates.Select(ctx, q, `WHERE account_id = ? AND status = ? ORDER BY created_at, id`, accountID, StatusApproved)
	if err != nil {
		return nil, err
	}
	out := make([]candidate, 0, len(ts))
	for _, t := range ts {
		cur, err := s.currentHash(ctx, q, t)
		if e, ok := apperr.As(err); ok && (e.Kind == apperr.KindConflict || e.Kind == apperr.KindForbidden) {
			// One organization's state does not stop the account's
			// other templates; an integrity error still fails closed.
			out = append(out, candidate{t: t, refused: err})
			continue
		}
		if err != nil {
			return nil, err
		}
		c := candidate{t: t, stale: cur != t.TemplateHash}
		if !c.stale {
			counting, err := s.counting(ctx, q, t)
			if err == nil {
				counting, err = s.stillVerifying(ctx, q, counting)
			}
			if err != nil {
				return nil, err
			}
			acting, err := s.actingFor(ctx, q, t)
			if err != nil {
				return nil, err
			}
			c.lapsed = independentCount(counting, acting) < s.cfg.ApprovalsRequired
		}
		out = append(out, c)
	}
	return out, nil
}

// voidStale rebinds a template found stale, under its row lock: its
// approvals are voided and template.mismatch is recorded.
func (s *Service) voidStale(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var t Template
		if err := s.tab.templates.Lock(ctx, tx, id, &t); err != nil {
			return err
		}
		if t.Status == StatusDisabled {
			return nil
		}
		// Who voids is the ACME server asking, not a person.
		_, _, err := s.refresh(ctx, tx, actor.SystemActor("acme"), t)
		return err
	})
}

// fits reports whether t allows everything req asks.
func (req matchRequest) fits(t Template) bool {
	return req.coveredBy(t) == len(req.names) && req.allowedBy(t) && req.days <= t.MaxValidityDays
}

// allowedBy reports whether t allows the key type asked (any, when none
// was named yet).
func (req matchRequest) allowedBy(t Template) bool { return req.keyType == "" || t.Allows(req.keyType) }

// coveredBy counts how many of the requested names t covers.
func (req matchRequest) coveredBy(t Template) int {
	n := 0
	for _, name := range req.names {
		if t.Covers(name) {
			n++
		}
	}
	return n
}

// firstCoveredBy is the index of the first requested name t covers, or
// len(names).
func (req matchRequest) firstCoveredBy(t Template) int {
	for i, name := range req.names {
		if t.Covers(name) {
			return i
		}
	}
	return len(req.names)
}

// choose returns the first usable template that fits, or the refusal that
// says best why none does.
func (req matchRequest) choose(cands []candidate) (Template, error) {
	var usable []Template
	for _, c := range cands {
		if !c.stale && !c.lapsed && c.refused == nil {
			if req.fits(c.t) {
				return c.t, nil
			}
			usable = append(usable, c.t)
		}
	}
	for _, c := range cands {
		switch {
		case c.refused != nil && req.fits(c.t):
			return Template{}, c.refused
		case c.stale && req.fits(c.t):
			return Template{}, apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField,
				"template %s would cover this request, but its organization's verified identity changed since it was approved: its approvals are void and it needs approving again", c.t.ID)
		case c.lapsed && req.fits(c.t):
			return Template{}, apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField,
				"template %s would cover this request, but it lacks %d approvals by verifiers who did not act for the account", c.t.ID, req.required)
		}
	}
	return Template{}, req.refusal(usable)
}

// refusal names what the usable templates do not allow: the first name
// none of them covers; else the first name the template covering the most
// names (on a tie, the one covering the earliest name) does not cover;
// else the key type; else the validity.
func (req matchRequest) refusal(usable []Template) error {
	for _, name := range req.names {
		covered := false
		for _, t := range usable {
			covered = covered || t.Covers(name)
		}
		if !covered {
			return notCovered(name, "no approved template of the account covers %s", name)
		}
	}
	var all []Template
	best, bestN, bestFirst := Template{}, -1, len(req.names)
	for _, t := range usable {
		n, first := req.coveredBy(t), req.firstCoveredBy(t)
		if n == len(req.names) {
			all = append(all, t)
		}
		// The closest: the most names covered; on a tie, the one that
		// covers the earliest name (templates' order is not meaningful).
		if n > bestN || n == bestN && first < bestFirst {
			best, bestN, bestFirst = t, n, first
		}
	}
	if len(all) == 0 {
		for _, name := range req.names {
			if !best.Covers(name) {
				return notCovered(name, "no one approved template of the account covers all the names; the closest, %s, does not cover %s", best.ID, name)
			}
		}
	}
	longest := 0
	for _, t := range all {
		if req.allowedBy(t) {
			longest = max(longest, t.MaxValidityDays)
		}
	}
	if longest == 0 {
		return apperr.Forbidden(apperr.CodeKeyTypeNotAllowed, "keyType", "no approved template covering these names allows key type %s", req.keyType)
	}
	return apperr.Forbidden(apperr.CodeValidityNotAllowed, "validityDays", "validityDays %d is longer than the approved templates covering these names allow (%d)", req.days, longest)
}

// notCovered is the 403 identifier_not_covered refusal of name.
func notCovered(name, format string, args ...any) error {
	e := apperr.Forbidden(apperr.CodeIdentifierNotCovered, "dnsNames", format, args...)
	e.Err = &NotCovered{Identifier: name}
	return e
}

// stillVerifying keeps the approvals whose approvers are active verifiers
// now: a standing approval vouches for every issuance under the template
// only while its approver could still give it (one disabled since, say on
// leaving the CA, no longer counts). An issued certificate is judged as of
// its issuance (ConfirmIssued), when they could.
func (s *Service) stillVerifying(ctx context.Context, q store.Querier, approvals []Approval) ([]Approval, error) {
	ids := make([]string, 0, len(approvals))
	for _, a := range approvals {
		ids = append(ids, a.ApproverID)
	}
	verifying, err := s.staff.Verifying(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := approvals[:0:0]
	for _, a := range approvals {
		if verifying[a.ApproverID] {
			out = append(out, a)
		}
	}
	return out, nil
}

// Confirm checks, inside the caller's transaction q (the order's, under
// its lock, just before an intent is recorded), that template id still
// approves an order placed under it with hash templateHash: it is
// approved, its hash is still templateHash and still the hash of current
// data (the organization's current verified version and row hash), it has
// the required independent approvals of that hash, it belongs to the
// account and organization, and it covers every name, the key type and
// the validity. It writes nothing: a stale template is voided by the next
// Match. Every refusal is 409 template_mismatch or template_not_approved,
// or the 403 Match gives for what it does not cover.
func (s *Service) Confirm(ctx context.Context, q store.Querier, id, templateHash, accountID, orgID string, names []string, keyType string, days int) error {
	req, err := s.parseMatch(accountID, names, keyType, days)
	if err != nil {
		return err
	}
	var t Template
	if err := s.tab.templates.Get(ctx, q, id, &t); err != nil {
		return err
	}
	switch {
	case t.AccountID != accountID || t.OrganizationID != orgID:
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s is not a template of account %s for organization %s", id, accountID, orgID)
	case t.Status != StatusApproved:
		return apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField, "template %s is %s", id, t.Status)
	case t.TemplateHash != templateHash:
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s changed since the order was placed under it", id)
	}
	cur, err := s.currentHash(ctx, q, t)
	if err != nil {
		return err
	}
	if cur != t.TemplateHash {
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField,
			"template %s no longer matches its organization's verified identity: it needs approving again", id)
	}
	counting, err := s.counting(ctx, q, t)
	if err != nil {
		return err
	}
	if counting, err = s.stillVerifying(ctx, q, counting); err != nil {
		return err
	}
	acting, err := s.actingFor(ctx, q, t)
	if err != nil {
		return err
	}
	if n := independentCount(counting, acting); n < s.cfg.ApprovalsRequired {
		return apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField,
			"template %s has %d of %d approvals by active verifiers who did not act for the account", id, n, s.cfg.ApprovalsRequired)
	}
	if !req.fits(t) {
		return req.refusal([]Template{t})
	}
	return nil
}

// Withdrawn reports, inside the caller's transaction q (the order's, under
// its lock, as its certificate is stored), whether template id was
// withdrawn from an order placed under it with hash templateHash, whose
// intent was recorded against the organization's version orgVersion with
// row hash orgRowHash: disabled (409 template_not_approved), or changed in
// what it allows (409 template_mismatch). A template only rebound to a
// newer organization version since is not a withdrawal of that order: it
// was confirmed against the identity current at its intent. It writes
// nothing.
func (s *Service) Withdrawn(ctx context.Context, q store.Querier, id, templateHash, orgID string, orgVersion int, orgRowHash string) error {
	var t Template
	if err := s.tab.templates.Get(ctx, q, id, &t); err != nil {
		return err
	}
	then := t
	then.OrganizationVersion, then.OrganizationRowHash = orgVersion, orgRowHash
	switch {
	case t.Status == StatusDisabled:
		return apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField, "template %s was disabled", id)
	case t.OrganizationID != orgID || then.ComputeHash() != templateHash:
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s was changed", id)
	}
	return nil
}
