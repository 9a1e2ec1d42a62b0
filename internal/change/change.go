// Package change turns corrections that used to be hand-run SQL scripts
// (Bugzilla 1559376) into change requests under dual control
// (docs/design.md §7). A staff user requests a change with a reason; two
// other staff users approve it; only then does vetca apply it, through the
// audit recorder, with its own audit events.
//
// Two kinds exist:
//   - restore: put a row that `vetca audit verify` flagged back to the
//     state its latest audit event vouches for;
//   - amend: set one non-identity field of an allow-listed table.
//
// Organization identity never changes here: it changes only through new,
// re-verified organization versions.
package change

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/store"
)

// Kinds of change request.
const (
	KindRestore = "restore"
	KindAmend   = "amend"
)

// Status is where a change request stands.
type Status string

// Change request statuses.
const (
	StatusPending  Status = "pending"
	StatusApplied  Status = "applied"
	StatusRejected Status = "rejected"
)

// ApprovalsRequired is the number of distinct approvers, none the requester.
const ApprovalsRequired = 2

// amendable lists the non-identity fields an amend may set, by table, each
// with the check its value must pass when the request is made: the rule
// the field's own service applies, so that two approvals cannot put in
// what that service refuses. Contacts are not here: their own API
// validates and audits every edit.
var amendable = map[string]map[string]func(table, field string, v json.RawMessage) error{
	"accounts": {"name": textValue(func(v string) error { return plaintext.Check("value", v, 200, true) })},
	"users": {
		"email":    textValue(func(v string) error { return plaintext.CheckEmail("value", v, false) }),
		"disabled": boolValue,
	},
}

// textValue is the check of a text field: a JSON string that check accepts.
func textValue(check func(string) error) func(table, field string, v json.RawMessage) error {
	return func(table, field string, v json.RawMessage) error {
		var s string
		if err := json.Unmarshal(v, &s); err != nil || isNull(v) {
			return apperr.Invalid(apperr.CodeInvalidValue, "value", "%s.%s needs a JSON string", table, field)
		}
		return check(s)
	}
}

// boolValue is the check of a flag: JSON true or false.
func boolValue(table, field string, v json.RawMessage) error {
	var b bool
	if err := json.Unmarshal(v, &b); err != nil || isNull(v) {
		return apperr.Invalid(apperr.CodeInvalidValue, "value", "%s.%s needs true or false", table, field)
	}
	return nil
}

// isNull reports whether v is JSON null, which encoding/json reads into a
// string or bool as "leave it as it is", without an error: it is no value
// of either type, and apply refuses it.
func isNull(v json.RawMessage) bool {
	return strings.TrimSpace(string(v)) == "null"
}

// identityTables may be restored but never amended.
var identityTables = map[string]bool{"organizations": true, "organization_versions": true, "organization_verifications": true}

// Request is a change request.
type Request struct {
	ID          string     `db:"id" json:"id"`
	Kind        string     `db:"kind" json:"kind"`
	TargetTable string     `db:"target_table" json:"table"`
	TargetID    string     `db:"target_id" json:"rowId"`
	Field       string     `db:"field" json:"field,omitempty"`
	Value       string     `db:"value" json:"value,omitempty"` // JSON
	Reason      string     `db:"reason" json:"reason"`
	RequestedBy string     `db:"requested_by" json:"requestedBy"`
	Status      Status     `db:"status" json:"status"`
	CreatedAt   time.Time  `db:"created_at" json:"createdAt"`
	DecidedAt   *time.Time `db:"decided_at" json:"decidedAt,omitempty"`
}

// Approval is one approver's sign-off.
type Approval struct {
	ID           string    `db:"id" json:"-"`
	RequestID    string    `db:"change_request_id" json:"-"`
	ApproverID   string    `db:"approver_id" json:"-"`
	ApproverName string    `db:"approver_name" json:"approver"`
	At           time.Time `db:"at" json:"at"`
}

// View is a request with its approvals and, once applied, the outcome.
type View struct {
	Request
	Approvals []Approval `json:"approvals"`
	Outcome   string     `json:"outcome,omitempty"`
}

// Staff reads who is staff now (package auth): the roles of each of the
// given users who is active (not disabled, approved); others are left out.
// EndUserSessions ends a user's console sessions in tx, when a change
// disables the user.
type Staff interface {
	ActiveRoles(ctx context.Context, q store.Querier, ids []string) (map[string][]actor.Role, error)
	EndUserSessions(ctx context.Context, tx *store.Tx, by actor.Actor, userID string) error
}

// Service is the change-request service.
type Service struct {
	db    *store.DB
	staff Staff
	rec   *audit.Recorder
	tab   tables
	clk   clock.Clock
}

// New returns the service. staff says who may still vouch for a request.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, staff Staff) *Service {
	return &Service{db: db, staff: staff, rec: rec, tab: newTables(rec), clk: clk}
}

var staffRoles = []actor.Role{actor.Admin, actor.Compliance, actor.Verifier}

// Input is the body of POST /change-requests.
type Input struct {
	Kind   string          `json:"kind"`
	Table  string          `json:"table"`
	RowID  string          `json:"rowId"`
	Field  string          `json:"field"`
	Value  json.RawMessage `json:"value"`
	Reason string          `json:"reason"`
}

// Create records a pending change request after checking it could apply.
func (s *Service) Create(ctx context.Context, by actor.Actor, in Input) (View, error) {
	if err := by.Require(staffRoles...); err != nil {
		return View{}, err
	}
	if strings.TrimSpace(in.Reason) == "" || len(in.Reason) > 2000 {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "reason", "a change request needs a reason (at most 2000 characters)")
	}
	t, ok := s.rec.Schema().Table(in.Table)
	if !ok || !audit.IsAudited(t) {
		return View{}, apperr.Invalid(apperr.CodeInvalidTable, "table", "%q is not an audited table", in.Table)
	}
	if in.RowID == "" {
		return View{}, apperr.Invalid(apperr.CodeMissingField, "rowId", "rowId is required")
	}
	req := Request{ID: ids.New("chg"), Kind: in.Kind, TargetTable: in.Table, TargetID: in.RowID, Reason: in.Reason,
		RequestedBy: by.String(), Status: StatusPending, CreatedAt: s.clk.Now()}
	switch in.Kind {
	case KindRestore:
		if in.Field != "" || len(in.Value) > 0 {
			return View{}, apperr.Invalid(apperr.CodeInvalidChange, "field", "a restore names no field or value: it restores the whole audited row")
		}
	case KindAmend:
		if identityTables[in.Table] {
			return View{}, apperr.Invalid(apperr.CodeIdentityChange, "table", "organization identity changes only through a new organization version, which is verified again")
		}
		check, ok := amendable[in.Table][in.Field]
		if !ok {
			return View{}, apperr.Invalid(apperr.CodeNotAmendable, "field", "%s.%s cannot be amended by a change request", in.Table, in.Field)
		}
		if len(in.Value) == 0 {
			return View{}, apperr.Invalid(apperr.CodeMissingField, "value", "value is required")
		}
		if err := check(in.Table, in.Field, in.Value); err != nil {
			return View{}, err
		}
		req.Field, req.Value = in.Field, string(in.Value)
	default:
		return View{}, apperr.Invalid(apperr.CodeInvalidKind, "kind", "kind must be %q or %q", KindRestore, KindAmend)
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if in.Kind == KindRestore {
			if _, _, recorded, err := s.rec.Vouched(ctx, tx, in.Table, in.RowID); err != nil {
				return err
			} else if !recorded {
				present, err := s.rec.RowPresent(ctx, tx, in.Table, in.RowID)
				if err != nil {
					return err
				}
				if !present {
					return apperr.NotFound(apperr.CodeNotFound, "rowId", "%s has no row %s and the audit trail never recorded one", in.Table, in.RowID)
				}
			}
		} else {
			if err := s.rec.CheckRow(ctx, tx, in.Table, in.RowID); err != nil {
				return err
			}
		}
		return s.tab.changeRequests.Insert(ctx, tx, by, actChangeRequestCreated, req)
	})
	if err != nil {
		return View{}, err
	}
	return View{Request: req, Approvals: []Approval{}}, nil
}

// Approve records by's approval; with enough approvals the change is
// applied in the same transaction.
func (s *Service) Approve(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := by.Require(staffRoles...); err != nil {
		return View{}, err
	}
	var view View
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		req, err := s.pending(ctx, tx, id)
		if err != nil {
			return err
		}
		if req.RequestedBy == by.String() {
			return apperr.Forbidden(apperr.CodeSelfApproval, apperr.NoField, "you requested this change; two other staff users must approve it")
		}
		approvals, err := s.tab.changeRequestApprovals.Select(ctx, tx, `WHERE change_request_id = ? ORDER BY at, id`, id)
		if err != nil {
			return err
		}
		for _, a := range approvals {
			if a.ApproverID == by.ID {
				return apperr.Conflict(apperr.CodeAlreadyApproved, apperr.NoField, "you already approved change request %s", id)
			}
		}
		now := s.clk.Now()
		a := Approval{ID: ids.New("cra"), RequestID: id, ApproverID: by.ID, ApproverName: by.Name, At: now}
		if err := s.tab.changeRequestApprovals.Insert(ctx, tx, by, actChangeRequestApproved, a); err != nil {
			return err
		}
		approvals = append(approvals, a)
		view = View{Request: req, Approvals: approvals}
		if n, err := s.standing(ctx, tx, approvals); err != nil || n < ApprovalsRequired {
			return err
		}
		outcome, err := s.apply(ctx, tx, by, req)
		if err != nil {
			return err
		}
		if err := s.afterApply(ctx, tx, by, req); err != nil {
			return err
		}
		req.Status, req.DecidedAt = StatusApplied, &now
		if err := s.tab.changeRequests.Update(ctx, tx, by, actChangeRequestApplied, req); err != nil {
			return err
		}
		view.Request, view.Outcome = req, outcome
		return s.rec.Note(ctx, tx, by, actChangeRequestOutcome, "change_requests", req.ID, map[string]string{"outcome": outcome})
	})
	return view, err
}

// standing counts the approvals whose approvers are active staff now
// holding a role that may approve: one disabled, or stripped of its staff
// roles, since approving no longer vouches for the change a second person
// completes (the rule orders and templates keep for their approvals).
func (s *Service) standing(ctx context.Context, q store.Querier, approvals []Approval) (int, error) {
	ids := make([]string, len(approvals))
	for i, a := range approvals {
		ids[i] = a.ApproverID
	}
	roles, err := s.staff.ActiveRoles(ctx, q, ids)
	if err != nil {
		return 0, fmt.Errorf("reading the approvers of a change request: %w", err)
	}
	n := 0
	for _, id := range ids {
		if slices.ContainsFunc(roles[id], func(r actor.Role) bool { return slices.Contains(staffRoles, r) }) {
			n++
		}
	}
	return n, nil
}

func (s *Service) apply(ctx context.Context, tx *store.Tx, by actor.Actor, req Request) (string, error) {
	action := audit.Action(string(actChangeRequestApplied) + ":" + req.ID)
	switch req.Kind {
	case KindRestore:
		did, err := s.rec.Restore(ctx, tx, by.String(), string(action), req.TargetTable, req.TargetID)
		if err != nil {
			return "", err
		}
		if did == "" {
			return "the row was already intact; nothing to restore", nil
		}
		return fmt.Sprintf("%s %s %s to its last audited state", req.TargetTable, req.TargetID, did), nil
	case KindAmend:
		var v any
		if err := json.Unmarshal([]byte(req.Value), &v); err != nil {
			return "", apperr.Invalid(apperr.CodeInvalidValue, "value", "value is not JSON: %v", err)
		}
		err := s.rec.Amend(ctx, tx, by, action, req.TargetTable, req.TargetID, func(t *store.Table, m map[string]any) error {
			k, _ := t.Kind(req.Field)
			switch x := v.(type) {
			case string:
				if k != store.KindText {
					return apperr.Invalid(apperr.CodeInvalidValue, "value", "%s.%s needs a number", req.TargetTable, req.Field)
				}
				m[req.Field] = x
			case float64:
				if k != store.KindInt {
					return apperr.Invalid(apperr.CodeInvalidValue, "value", "%s.%s needs a string", req.TargetTable, req.Field)
				}
				m[req.Field] = int64(x)
			case bool:
				if k != store.KindInt {
					return apperr.Invalid(apperr.CodeInvalidValue, "value", "%s.%s needs a string", req.TargetTable, req.Field)
				}
				m[req.Field] = x
			default:
				return apperr.Invalid(apperr.CodeInvalidValue, "value", "value must be a string, number or boolean")
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s field %s set", req.TargetTable, req.TargetID, req.Field), nil
	}
	return "", fmt.Errorf("unknown change kind %q", req.Kind)
}

// afterApply ends the console sessions of a user the applied change
// disabled: a session ends when its user is disabled, and is not brought
// back when a later change enables the user again.
func (s *Service) afterApply(ctx context.Context, tx *store.Tx, by actor.Actor, req Request) error {
	var disabled bool
	if req.Kind != KindAmend || req.TargetTable != "users" || req.Field != "disabled" ||
		json.Unmarshal([]byte(req.Value), &disabled) != nil || !disabled {
		return nil
	}
	if err := s.staff.EndUserSessions(ctx, tx, by, req.TargetID); err != nil {
		return fmt.Errorf("ending the console sessions of disabled user %s: %w", req.TargetID, err)
	}
	return nil
}

// pending reads a change request (integrity-checked) that must still be
// pending.
func (s *Service) pending(ctx context.Context, tx *store.Tx, id string) (Request, error) {
	var req Request
	// Locked: approvals and rejections of one request take turns (on one
	// replica or many), so two approvals at once are counted together and
	// the change is applied once, by the second.
	if err := s.tab.changeRequests.Lock(ctx, tx, id, &req); err != nil {
		return Request{}, err
	}
	if req.Status != StatusPending {
		return Request{}, apperr.Conflict(apperr.CodeNotPending, apperr.NoField, "change request %s is %s", id, req.Status)
	}
	return req, nil
}

// Reject closes a pending request without applying it.
func (s *Service) Reject(ctx context.Context, by actor.Actor, id, reason string) (View, error) {
	if err := by.Require(staffRoles...); err != nil {
		return View{}, err
	}
	var view View
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		req, err := s.pending(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.clk.Now()
		req.Status, req.DecidedAt = StatusRejected, &now
		if err := s.tab.changeRequests.Update(ctx, tx, by, actChangeRequestRejected, req); err != nil {
			return err
		}
		view = View{Request: req, Approvals: []Approval{}}
		return s.rec.Note(ctx, tx, by, actChangeRequestRejected, "change_requests", id, map[string]string{"reason": reason})
	})
	return view, err
}

// Get returns a change request with its approvals.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := by.Require(actor.Admin, actor.Compliance, actor.Verifier, actor.Auditor); err != nil {
		return View{}, err
	}
	var req Request
	if err := s.tab.changeRequests.Get(ctx, s.db, id, &req); err != nil {
		return View{}, err
	}
	approvals, err := s.tab.changeRequestApprovals.Select(ctx, s.db, `WHERE change_request_id = ? ORDER BY at, id`, id)
	if err != nil {
		return View{}, err
	}
	if approvals == nil {
		approvals = []Approval{}
	}
	return View{Request: req, Approvals: approvals}, nil
}

// List returns one page of change requests, newest first.
func (s *Service) List(ctx context.Context, by actor.Actor, status string, p store.Page) ([]Request, string, error) {
	if err := by.Require(actor.Admin, actor.Compliance, actor.Verifier, actor.Auditor); err != nil {
		return nil, "", err
	}
	var w store.Where
	if status != "" {
		w.Add("status = ?", status)
	}
	list, next, err := s.tab.changeRequests.NewestFirst(ctx, s.db, w, p, func(r Request) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// CountPending returns how many change requests await approval.
func (s *Service) CountPending(ctx context.Context, by actor.Actor) (int, error) {
	if err := by.Require(actor.Admin, actor.Compliance, actor.Verifier, actor.Auditor); err != nil {
		return 0, err
	}
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM change_requests WHERE status = ?`, StatusPending).Scan(&n)
	return n, err
}
