package template

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// Issued is an order issued under a template, as ConfirmIssued judges it:
// what its snapshot pinned, and when it was issued.
type Issued struct {
	AccountID           string
	OrganizationID      string
	OrganizationVersion int
	OrganizationRowHash string
	DNSNames            []string // normalized, as the order holds them
	KeyType             string
	ValidityDays        int
	At                  time.Time
}

// ConfirmIssued checks, for `vetca scan`, that template id approved an
// order issued under it with hash templateHash as of the issuance
// (in.At), not as the template is now (docs/design.md §5): it belongs to
// the account; it was not disabled by then; at least ApprovalsRequired
// distinct verifiers approved templateHash no later than then, with those
// approvals not voided by then, none of them anyone who had acted for the
// account by then; and, when its row still tells what it allowed then,
// that covered the order. Something done to the template after the
// issuance (disabled, rebound to a new organization version, changed, an
// approver acting for the account) breaks no dual control already met.
// Times are recorded to the second: an act in the issuance's second is
// taken as before it. Every refusal is a 409; it writes nothing.
func (s *Service) ConfirmIssued(ctx context.Context, q store.Querier, id, templateHash string, in Issued) error {
	if in.At.IsZero() {
		return fmt.Errorf("template %s: an issued order needs its issuance time", id)
	}
	var t Template
	if err := s.tab.templates.Get(ctx, q, id, &t); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s is not recorded", id)
		}
		return err
	}
	if t.AccountID != in.AccountID {
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s is not a template of account %s", id, in.AccountID)
	}
	if t.DisabledAt != nil && !t.DisabledAt.After(in.At) {
		return apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField, "template %s was disabled at %s, before the order was issued at %s",
			id, t.DisabledAt.Format(time.RFC3339), in.At.Format(time.RFC3339))
	}
	if err := s.coveredAsIssued(t, templateHash, in); err != nil {
		return err
	}
	live, err := s.approvalsAsOf(ctx, q, t.ID, templateHash, in.At)
	if err != nil {
		return err
	}
	acting, err := s.actingForAsOf(ctx, q, t, in)
	if err != nil {
		return err
	}
	if n := independentCount(live, acting); n < s.cfg.ApprovalsRequired {
		return apperr.Conflict(apperr.CodeTemplateNotApproved, apperr.NoField,
			"template %s had %d of %d approvals of hash %s by verifiers who had not acted for the account when the order was issued at %s%s",
			id, n, s.cfg.ApprovalsRequired, templateHash, in.At.Format(time.RFC3339), notIndependent(live, acting))
	}
	return nil
}

// coveredAsIssued checks that t, as it stood at the issuance, covered the
// order: its names, key type and validity. That is t bound to the
// organization version the order's snapshot pinned, when that has
// templateHash; a template changed since (names, key types, validity or
// organization) no longer tells, and its approvals of templateHash, which
// bind all of that, decide alone.
func (s *Service) coveredAsIssued(t Template, templateHash string, in Issued) error {
	then := t
	then.OrganizationVersion, then.OrganizationRowHash = in.OrganizationVersion, in.OrganizationRowHash
	if then.ComputeHash() != templateHash {
		return nil
	}
	if then.OrganizationID != in.OrganizationID {
		return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s is for organization %s, not %s", t.ID, then.OrganizationID, in.OrganizationID)
	}
	req := matchRequest{names: in.DNSNames, keyType: in.KeyType, days: in.ValidityDays, required: s.cfg.ApprovalsRequired}
	if req.fits(then) {
		return nil
	}
	e, _ := apperr.As(req.refusal([]Template{then}))
	return apperr.Conflict(apperr.CodeTemplateMismatch, apperr.NoField, "template %s did not allow the order: %s", t.ID, e.Message)
}

// approvalsAsOf returns template id's approvals of hash recorded no later
// than at and not voided by then (a change of the template or a disable
// voids them when it happens).
func (s *Service) approvalsAsOf(ctx context.Context, q store.Querier, id, hash string, at time.Time) ([]Approval, error) {
	all, err := s.tab.approvals.Select(ctx, q, `WHERE template_id = ? ORDER BY at, id`, id)
	if err != nil {
		return nil, err
	}
	out := []Approval{}
	for _, a := range all {
		if a.TemplateHash == hash && !a.At.After(at) && (a.VoidedAt == nil || a.VoidedAt.After(at)) {
			out = append(out, a)
		}
	}
	return out, nil
}

// actingForAsOf is actingFor as of the issuance: who created t, who had
// acted for the order's account in ordering for its organization by then
// and who had created an EAB key of the account by then. Those who changed
// t after creating it are left out: a change voids every approval then
// and Approve refuses whoever changed it, so an approval still live at
// the issuance is not by anyone who changed t before it.
func (s *Service) actingForAsOf(ctx context.Context, q store.Querier, t Template, in Issued) (map[string]string, error) {
	out := map[string]string{}
	if t.CreatedByID != "" {
		out[t.CreatedByID] = "created template " + t.ID
	}
	return out, s.addActsBefore(ctx, q, out, in.AccountID, in.OrganizationID, in.At)
}

// notIndependent names, for a refusal, each approver in approvals who is
// in acting, with what they did ("" when none is).
func notIndependent(approvals []Approval, acting map[string]string) string {
	seen := map[string]bool{}
	var why []string
	for _, a := range approvals {
		if what, ok := acting[a.ApproverID]; ok && !seen[a.ApproverID] {
			seen[a.ApproverID] = true
			why = append(why, fmt.Sprintf("approver %s (%s) %s", a.ApproverName, a.ApproverID, what))
		}
	}
	if len(why) == 0 {
		return ""
	}
	sort.Strings(why)
	return ": " + strings.Join(why, "; ")
}
