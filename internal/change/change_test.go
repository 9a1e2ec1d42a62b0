package change_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/atonce"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/vetting"
)

// Service-level tests of change requests (docs/design.md §7, "Corrections
// are change requests"), called directly on the in-process vetca.

var backends = []string{apptest.SQLite, apptest.Postgres}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// fixture is an account to correct, a requester and three other staff
// users who may approve.
type fixture struct {
	*apptest.Env
	acc                    account.Account
	rita, cleo, cyrus, dan actor.Actor
}

func newFixture(t *testing.T, backend string) *fixture {
	t.Helper()
	e := apptest.New(t, backend)
	f := &fixture{Env: e, rita: e.Staff("rita", actor.Admin), cleo: e.Staff("cleo", actor.Compliance),
		cyrus: e.Staff("cyrus", actor.Verifier), dan: e.Staff("dan", actor.Admin)}
	acc, _, err := e.App.Accounts.Create(context.Background(), f.dan, account.CreateInput{Name: "Acme Widgets"})
	if err != nil {
		t.Fatal(err)
	}
	f.acc = acc
	return f
}

func (f *fixture) rename(t *testing.T, name string) change.View {
	t.Helper()
	v, err := f.App.Changes.Create(context.Background(), f.rita, change.Input{Kind: change.KindAmend, Table: "accounts", RowID: f.acc.ID,
		Field: "name", Value: json.RawMessage(`"` + name + `"`), Reason: "the subscriber renamed itself"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != change.StatusPending {
		t.Fatalf("a new change request is %s", v.Status)
	}
	return v
}

func (f *fixture) accountName(t *testing.T) string {
	t.Helper()
	v, err := f.App.Accounts.Get(context.Background(), f.dan, f.acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	return v.Name
}

func (f *fixture) get(t *testing.T, id string) change.View {
	t.Helper()
	v, err := f.App.Changes.Get(context.Background(), f.dan, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.App.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) verify(t *testing.T) *audit.Report {
	t.Helper()
	rep, err := f.App.VerifyAudit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// docs/design.md §7: a correction applies after two approvers other than
// the requester. The requester's own approval is refused, records nothing
// and never counts towards the two, even as the second one.
func TestRequesterCannotApproveOwnRequest(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			req := f.rename(t, "Acme Widgets Ltd")
			_, err := f.App.Changes.Approve(ctx, f.rita, req.ID)
			wantCode(t, err, apperr.CodeSelfApproval)
			if _, err := f.App.Changes.Approve(ctx, f.cleo, req.ID); err != nil {
				t.Fatal(err)
			}
			_, err = f.App.Changes.Approve(ctx, f.rita, req.ID)
			wantCode(t, err, apperr.CodeSelfApproval)
			v := f.get(t, req.ID)
			if v.Status != change.StatusPending || len(v.Approvals) != 1 || v.Approvals[0].ApproverName != "cleo" {
				t.Fatalf("after the requester's refused approvals: %s with approvals %+v", v.Status, v.Approvals)
			}
			if got := f.accountName(t); got != "Acme Widgets" {
				t.Fatalf("the requester's approval applied the change: account name %q", got)
			}
		})
	}
}

// docs/design.md §7: two distinct approvers, neither the requester, are
// needed before the change applies; one approver approving twice counts
// once; an applied request takes no further decision.
func TestTwoDistinctApproversApplyTheChange(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			req := f.rename(t, "Acme Widgets Ltd")

			v, err := f.App.Changes.Approve(ctx, f.cleo, req.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != change.StatusPending || v.Outcome != "" {
				t.Fatalf("applied after one approval: %+v", v)
			}
			_, err = f.App.Changes.Approve(ctx, f.cleo, req.ID)
			wantCode(t, err, apperr.CodeAlreadyApproved)
			if v := f.get(t, req.ID); v.Status != change.StatusPending || len(v.Approvals) != 1 {
				t.Fatalf("after a repeated approval: %s with %d approvals", v.Status, len(v.Approvals))
			}
			if got := f.accountName(t); got != "Acme Widgets" {
				t.Fatalf("applied before the second approver: account name %q", got)
			}

			v, err = f.App.Changes.Approve(ctx, f.cyrus, req.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != change.StatusApplied || v.DecidedAt == nil || !strings.Contains(v.Outcome, "name") {
				t.Fatalf("after two approvals: %+v", v)
			}
			if got := f.accountName(t); got != "Acme Widgets Ltd" {
				t.Fatalf("after two approvals the account name is %q", got)
			}
			_, err = f.App.Changes.Approve(ctx, f.dan, req.ID)
			wantCode(t, err, apperr.CodeNotPending)
			_, err = f.App.Changes.Reject(ctx, f.dan, req.ID, "too late")
			wantCode(t, err, apperr.CodeNotPending)
			if rep := f.verify(t); !rep.OK {
				t.Fatalf("audit verify after an applied amend: %v", rep.Findings)
			}
		})
	}
}

// docs/design.md §7: a row edited or deleted by SQL fails its integrity
// check; a restore request approved by two others puts it back to the state
// its latest authentic event vouches for (rewritten in place, or
// re-inserted), and the whole trail verifies again.
func TestRestoreRepairsRowChangedBySQL(t *testing.T) {
	cases := []struct {
		name, sql string
		args      func(f *fixture) []any
		did       string // the restore's outcome
	}{
		{"edited", `UPDATE accounts SET name = ? WHERE id = ?`, func(f *fixture) []any { return []any{"Mallory Ltd", f.acc.ID} }, "rewritten"},
		{"deleted", `DELETE FROM accounts WHERE id = ?`, func(f *fixture) []any { return []any{f.acc.ID} }, "reinserted"},
	}
	for _, tc := range cases {
		for _, b := range backends {
			t.Run(tc.name+"/"+b, func(t *testing.T) {
				f := newFixture(t, b)
				ctx := context.Background()
				if _, err := f.App.DB.Exec(ctx, tc.sql, tc.args(f)...); err != nil {
					t.Fatal(err)
				}
				if _, err := f.App.Accounts.Get(ctx, f.dan, f.acc.ID); !apperr.IsKind(err, apperr.KindIntegrity) {
					t.Fatalf("reading the %s row: %v", tc.name, err)
				}
				rep := f.verify(t)
				flagged := false
				for _, fd := range rep.Findings {
					flagged = flagged || (fd.Table == "accounts" && fd.RowID == f.acc.ID)
				}
				if rep.OK || !flagged {
					t.Fatalf("audit verify missed the %s row: %+v", tc.name, rep.Findings)
				}

				req, err := f.App.Changes.Create(ctx, f.rita, change.Input{Kind: change.KindRestore, Table: "accounts", RowID: f.acc.ID,
					Reason: tc.name + " outside vetca"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.App.Changes.Approve(ctx, f.cleo, req.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := f.App.Accounts.Get(ctx, f.dan, f.acc.ID); !apperr.IsKind(err, apperr.KindIntegrity) {
					t.Fatalf("restored after one approval: %v", err)
				}
				v, err := f.App.Changes.Approve(ctx, f.cyrus, req.ID)
				if err != nil {
					t.Fatal(err)
				}
				if v.Status != change.StatusApplied || !strings.Contains(v.Outcome, f.acc.ID) || !strings.Contains(v.Outcome, tc.did) {
					t.Fatalf("after two approvals: %+v", v)
				}
				if got := f.accountName(t); got != "Acme Widgets" {
					t.Fatalf("restored account name %q, want the audited %q", got, "Acme Widgets")
				}
				if rep := f.verify(t); !rep.OK {
					t.Fatalf("audit verify after the restore: %v", rep.Findings)
				}
			})
		}
	}
}

// Approvals of one change request at once (three approvers; on PostgreSQL
// concurrently) are counted as if they came in turn: two succeed and the
// change is applied once, by the second; the third finds it applied (409
// not_pending). Counted apart, each would see only its own approval and
// leave the request pending for good, or two would both apply it.
func TestConcurrentApprovalsApplyTheChangeOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			for round := 0; round < 4; round++ {
				req := f.rename(t, fmt.Sprintf("Acme Widgets %d", round))
				approvers := []actor.Actor{f.cleo, f.cyrus, f.dan}
				errs := make([]error, len(approvers))
				atonce.Each(len(approvers), func(i int) {
					_, errs[i] = f.App.Changes.Approve(context.Background(), approvers[i], req.ID)
				})
				ok := 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case !apperr.HasCode(err, apperr.CodeNotPending):
						t.Fatalf("round %d: %v", round, err)
					}
				}
				if got := f.get(t, req.ID); ok != 2 || got.Status != change.StatusApplied || len(got.Approvals) != 2 {
					t.Fatalf("round %d: %d approvals succeeded; request %s with %d approvals", round, ok, got.Status, len(got.Approvals))
				}
				if n := f.count(t, `SELECT COUNT(*) FROM audit_events WHERE action = ?`, "change_request.applied:"+req.ID); n != 1 {
					t.Fatalf("round %d: the change was applied %d times", round, n)
				}
			}
		})
	}
}

// docs/design.md §2 and §7: an amend sets only a non-identity field of an
// allow-listed table; anything else is refused naming the field (or the
// table, for organization identity), and nothing is recorded.
func TestAmendOfFieldNotAllowedIsRefused(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			org := f.org(t)
			for _, c := range []struct {
				in        change.Input
				code      apperr.Code
				field     string
				mentioned string
			}{
				{change.Input{Kind: change.KindAmend, Table: "accounts", RowID: f.acc.ID, Field: "created_by", Value: json.RawMessage(`"user:rita"`)},
					apperr.CodeNotAmendable, "field", "accounts.created_by"},
				{change.Input{Kind: change.KindAmend, Table: "users", RowID: f.rita.ID, Field: "roles", Value: json.RawMessage(`"[\"admin\",\"verifier\"]"`)},
					apperr.CodeNotAmendable, "field", "users.roles"},
				{change.Input{Kind: change.KindAmend, Table: "users", RowID: f.rita.ID, Field: "status", Value: json.RawMessage(`"active"`)},
					apperr.CodeNotAmendable, "field", "users.status"},
				{change.Input{Kind: change.KindAmend, Table: "organizations", RowID: org, Field: "created_by", Value: json.RawMessage(`"x"`)},
					apperr.CodeIdentityChange, "table", "organization"},
				{change.Input{Kind: change.KindRestore, Table: "accounts", RowID: f.acc.ID, Field: "name"},
					apperr.CodeInvalidChange, "field", "restore"},
			} {
				c.in.Reason = "test"
				_, err := f.App.Changes.Create(ctx, f.rita, c.in)
				e, ok := apperr.As(err)
				if !ok || e.Code != c.code || e.Field != c.field || !strings.Contains(e.Message, c.mentioned) {
					t.Errorf("%s %s.%s: %v; want %s naming %s and %q", c.in.Kind, c.in.Table, c.in.Field, err, c.code, c.field, c.mentioned)
				}
			}
			if n := f.count(t, `SELECT COUNT(*) FROM change_requests`); n != 0 {
				t.Fatalf("%d change requests recorded for refused input", n)
			}
		})
	}
}

func (f *fixture) org(t *testing.T) string {
	t.Helper()
	org, _, err := f.App.Vetting.Create(context.Background(), f.cyrus, vetting.CreateInput{Fields: vetting.Fields{
		OrganizationName: "Acme Widgets Inc.", CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco"}})
	if err != nil {
		t.Fatal(err)
	}
	return org.ID
}

// An amend's value must pass, when the request is made, the rule the
// field's own service applies: two approvals must not put in what that
// service refuses (a control character or a right-to-left override in an
// account name, an email with a display name). A value of the wrong type
// is refused then too, instead of failing at the second approval and
// leaving the request pending for good. Nothing is recorded.
func TestAmendValueIsCheckedWhenRequested(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			for _, c := range []struct {
				table, field, value string
				code                apperr.Code
			}{
				{"accounts", "name", `" Evil\u0007\u202e "`, apperr.CodeControlCharacter},
				{"accounts", "name", `"Acme\u202eLtd"`, apperr.CodeControlCharacter},
				{"accounts", "name", `" Acme "`, apperr.CodeSurroundingSpace},
				{"accounts", "name", `""`, apperr.CodeMissingField},
				{"accounts", "name", `{"a":1}`, apperr.CodeInvalidValue},
				{"users", "email", `"not an email <x@y>"`, apperr.CodeInvalidEmail},
				{"users", "email", `5`, apperr.CodeInvalidValue},
				{"users", "disabled", `5`, apperr.CodeInvalidValue},
				{"users", "disabled", `"yes"`, apperr.CodeInvalidValue},
			} {
				row := f.acc.ID
				if c.table == "users" {
					row = f.rita.ID
				}
				_, err := f.App.Changes.Create(ctx, f.rita, change.Input{Kind: change.KindAmend, Table: c.table, RowID: row,
					Field: c.field, Value: json.RawMessage(c.value), Reason: "test"})
				if e, ok := apperr.As(err); !ok || e.Code != c.code || e.Field != "value" {
					t.Errorf("%s.%s = %s: %v; want %s naming value", c.table, c.field, c.value, err, c.code)
				}
			}
			if n := f.count(t, `SELECT COUNT(*) FROM change_requests`); n != 0 {
				t.Fatalf("%d change requests recorded for refused values", n)
			}
			for _, ok := range []struct{ table, field, value string }{
				{"accounts", "name", `"Acme Widgets EU"`}, {"users", "email", `"rita@example.com"`}, {"users", "disabled", `true`},
			} {
				row := f.acc.ID
				if ok.table == "users" {
					row = f.rita.ID
				}
				if _, err := f.App.Changes.Create(ctx, f.rita, change.Input{Kind: change.KindAmend, Table: ok.table, RowID: row,
					Field: ok.field, Value: json.RawMessage(ok.value), Reason: "test"}); err != nil {
					t.Errorf("%s.%s = %s refused: %v", ok.table, ok.field, ok.value, err)
				}
			}
		})
	}
}

// docs/design.md §7: an approval counts only while its approver is
// active staff. An approver disabled since approving does not complete a
// change with a second approval; a third, standing approver does.
func TestDisabledApproverNoLongerCounts(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			req := f.rename(t, "Acme Widgets Ltd")
			if _, err := f.App.Changes.Approve(ctx, f.cleo, req.ID); err != nil {
				t.Fatal(err)
			}
			f.DisableUser(f.cleo.ID)
			v, err := f.App.Changes.Approve(ctx, f.cyrus, req.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != change.StatusPending || f.accountName(t) != "Acme Widgets" {
				t.Fatalf("a disabled approver's approval applied the change: %+v", v)
			}
			if v, err = f.App.Changes.Approve(ctx, f.dan, req.ID); err != nil || v.Status != change.StatusApplied {
				t.Fatalf("cyrus and dan: %v %+v", err, v)
			}
			if got := f.accountName(t); got != "Acme Widgets Ltd" {
				t.Fatalf("account name %q", got)
			}
		})
	}
}
