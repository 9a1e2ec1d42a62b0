package template

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// binder holds what keeps a template bound to its organization's verified
// version: the tables, the recorder and the clock. The service and the
// VersionWatch share it.
type binder struct {
	rec *audit.Recorder
	tab tables
	clk clock.Clock
}

func newBinder(rec *audit.Recorder, clk clock.Clock) binder {
	return binder{rec: rec, tab: newTables(rec), clk: clk}
}

// counting returns the approvals that count for t: not voided, of its
// current hash.
func (b binder) counting(ctx context.Context, q store.Querier, t Template) ([]Approval, error) {
	all, err := b.tab.approvals.Select(ctx, q, `WHERE template_id = ? AND voided_at IS NULL ORDER BY at, id`, t.ID)
	if err != nil {
		return nil, err
	}
	out := []Approval{}
	for _, a := range all {
		if a.TemplateHash == t.TemplateHash {
			out = append(out, a)
		}
	}
	return out, nil
}

// voidApprovals voids every live approval of a template, saying why; each
// is an audited update.
func (b binder) voidApprovals(ctx context.Context, tx *store.Tx, by actor.Actor, templateID, reason string) error {
	live, err := b.tab.approvals.Select(ctx, tx, `WHERE template_id = ? AND voided_at IS NULL ORDER BY at, id`, templateID)
	if err != nil {
		return err
	}
	now := b.clk.Now()
	for _, a := range live {
		a.VoidedAt, a.VoidReason = &now, reason
		if err := b.tab.approvals.Update(ctx, tx, by, actTemplateApprovalVoided, a); err != nil {
			return err
		}
	}
	return nil
}

// rebind binds a template (read under its row lock) to the organization
// version v. When that changes its hash, the approvals are voided, the
// template goes back to pending_approval under the new hash, and a
// template.mismatch event records both hashes and what changed. It
// returns the template as it now is and whether it changed.
func (b binder) rebind(ctx context.Context, tx *store.Tx, by actor.Actor, t Template, v vetting.Version) (Template, bool, error) {
	cur := t
	cur.OrganizationVersion, cur.OrganizationRowHash = v.Version, v.RowHash
	cur.TemplateHash = cur.ComputeHash()
	if cur.TemplateHash == t.TemplateHash {
		return t, false, nil
	}
	change := describeHashChange(t, cur)
	if err := b.voidApprovals(ctx, tx, by, t.ID, "the template's hash changed: "+change); err != nil {
		return t, false, err
	}
	if cur.Status == StatusApproved {
		cur.Status = StatusPendingApproval
	}
	cur.UpdatedAt = b.clk.Now()
	if err := b.tab.templates.Update(ctx, tx, by, actTemplateOrganizationMove, cur); err != nil {
		return t, false, err
	}
	if err := b.rec.Note(ctx, tx, by, actTemplateMismatch, "templates", t.ID, map[string]string{
		"approvedHash": t.TemplateHash, "currentHash": cur.TemplateHash, "change": change}); err != nil {
		return t, false, err
	}
	return cur, true, nil
}

// refresh recomputes t's hash from current data inside tx (the account
// may still use the organization; its current verified version) and
// rebinds it. t must be locked.
func (s *Service) refresh(ctx context.Context, tx *store.Tx, by actor.Actor, t Template) (Template, bool, error) {
	if err := s.accounts.MayUseOrganization(ctx, tx, t.AccountID, t.OrganizationID); err != nil {
		return t, false, err
	}
	v, err := s.vetting.CurrentVerified(ctx, tx, t.OrganizationID)
	if err != nil {
		return t, false, err
	}
	return s.rebind(ctx, tx, by, t, v)
}

// currentHash recomputes t's hash from current data without writing.
func (s *Service) currentHash(ctx context.Context, q store.Querier, t Template) (string, error) {
	if err := s.accounts.MayUseOrganization(ctx, q, t.AccountID, t.OrganizationID); err != nil {
		return "", err
	}
	v, err := s.vetting.CurrentVerified(ctx, q, t.OrganizationID)
	if err != nil {
		return "", err
	}
	cur := t
	cur.OrganizationVersion, cur.OrganizationRowHash = v.Version, v.RowHash
	return cur.ComputeHash(), nil
}

// actingFor names, by user id, everyone who may not approve t, each with
// why: who created or changed it, who acted for its account in ordering
// for its organization (created the account, linked the organization,
// issued one of its tokens), and who created an EAB key of the account.
// No one person completes a dual control (BR §5.2.2).
func (s *Service) actingFor(ctx context.Context, q store.Querier, t Template) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range t.EditorIDs {
		if id != "" {
			out[id] = "created or changed template " + t.ID
		}
	}
	return out, s.addActsBefore(ctx, q, out, t.AccountID, t.OrganizationID, time.Time{})
}

// addActsBefore adds to out, by user id, each staff user who acted for
// accountID in ordering for orgID (created the account, linked the
// organization, issued one of its tokens) or created an EAB key of the
// account, no later than before (ever, when before is zero), joining what
// they did to what out says already.
func (s *Service) addActsBefore(ctx context.Context, q store.Querier, out map[string]string, accountID, orgID string, before time.Time) error {
	acting, err := s.accounts.StaffActingBefore(ctx, q, accountID, orgID, before)
	if err != nil {
		return err
	}
	creators, err := s.keys.CreatorsBefore(ctx, q, accountID, before)
	if err != nil {
		return err
	}
	for _, m := range []map[string]string{acting, creators} {
		for id, what := range m {
			if out[id] == "" {
				out[id] = what
			} else {
				out[id] += " and " + what
			}
		}
	}
	return nil
}

// independentCount counts the distinct approvers among approvals who are
// not in acting.
func independentCount(approvals []Approval, acting map[string]string) int {
	seen := map[string]bool{}
	for _, a := range approvals {
		if _, no := acting[a.ApproverID]; !no {
			seen[a.ApproverID] = true
		}
	}
	return len(seen)
}

// mismatchErr is the 409 template_mismatch of Approve.
func mismatchErr(id, reviewed, current string) error {
	return apperr.Conflict(apperr.CodeTemplateMismatch, "templateHash",
		"template %s's hash is now %s, not %s: what it allows changed, so its approvals are void and it needs approving again", id, current, reviewed)
}

// Approve records by's approval of templateHash (verifier): POST
// /templates/{id}/approve. The template is approved once ApprovalsRequired
// distinct verifiers approved its current hash, none of them anyone in
// actingFor. A hash that is not the template's current one (recomputed
// from current data first) is 409 template_mismatch.
func (s *Service) Approve(ctx context.Context, by actor.Actor, id, templateHash string) (View, error) {
	if err := by.Require(actor.Verifier); err != nil {
		return View{}, err
	}
	if templateHash == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "templateHash", "templateHash is required: approve exactly what you reviewed")
	}
	var mismatch error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := s.lockOpen(ctx, tx, by, id)
		if err != nil {
			return err
		}
		acting, err := s.actingFor(ctx, tx, t)
		if err != nil {
			return err
		}
		if what, ok := acting[by.ID]; ok {
			return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you %s, so you acted for account %s; two other verifiers must approve template %s", what, t.AccountID, t.ID)
		}
		t, changed, err := s.refresh(ctx, tx, by, t)
		if err != nil {
			return err
		}
		if changed || templateHash != t.TemplateHash {
			mismatch = mismatchErr(t.ID, templateHash, t.TemplateHash)
			return nil // keep the refresh; refuse the approval
		}
		return s.recordApproval(ctx, tx, by, t, acting)
	})
	if err != nil {
		return View{}, err
	}
	if mismatch != nil {
		return View{}, mismatch
	}
	return s.Get(ctx, by, id)
}

// recordApproval inserts by's approval of t's current hash and approves
// t once enough independent verifiers did.
func (s *Service) recordApproval(ctx context.Context, tx *store.Tx, by actor.Actor, t Template, acting map[string]string) error {
	counting, err := s.counting(ctx, tx, t)
	if err != nil {
		return err
	}
	for _, a := range counting {
		if a.ApproverID == by.ID {
			return apperr.Conflict(apperr.CodeAlreadyApproved, apperr.NoField, "you already approved template %s", t.ID)
		}
	}
	a := Approval{ID: ids.New("tpa"), TemplateID: t.ID, ApproverID: by.ID, ApproverName: by.Name, TemplateHash: t.TemplateHash, At: s.clk.Now()}
	if err := s.tab.approvals.Insert(ctx, tx, by, actTemplateApproved, a); err != nil {
		if store.IsUniqueViolation(err) {
			return apperr.Conflict(apperr.CodeAlreadyApproved, apperr.NoField, "you already approved template %s", t.ID)
		}
		return err
	}
	active, err := s.stillVerifying(ctx, tx, append(counting, a))
	if err != nil {
		return err
	}
	if independentCount(active, acting) >= s.cfg.ApprovalsRequired && t.Status != StatusApproved {
		t.Status, t.UpdatedAt = StatusApproved, s.clk.Now()
		return s.tab.templates.Update(ctx, tx, by, actTemplateStatusApproved, t)
	}
	return nil
}
