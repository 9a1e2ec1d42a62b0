package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Run statuses.
const (
	runRunning   = "running"
	runFinished  = "finished"
	runAbandoned = "abandoned"
)

// The scanner's audited tables and the actions that write them. A run and
// its findings are audited like every other table: a finding deleted or a
// run planted outside vetca would otherwise keep a certificate out of an
// incident opened by query.lint, or out of the next scan.
const (
	tableRuns     = "scan_runs"
	tableFindings = "scan_findings"

	actRunStarted    audit.Action = "scan.run_started"
	actRunProgressed audit.Action = "scan.run_progressed"
	actRunFinished   audit.Action = "scan.run_finished"
	actRunAbandoned  audit.Action = "scan.run_abandoned"
	actFindingStored audit.Action = "scan.finding_stored"
	actFindingSeen   audit.Action = "scan.finding_seen"
)

// runRow is a scan_runs row.
type runRow struct {
	ID         string     `db:"id"`
	Params     string     `db:"params"`
	Status     string     `db:"status"`
	Cursor     string     `db:"cursor_serial"`
	DoneBeyond []string   `db:"done_beyond,json"`
	Checked    int        `db:"checked"`
	Found      int        `db:"found"`
	StartedAt  time.Time  `db:"started_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

// findingRow is a scan_findings row.
type findingRow struct {
	ID        string    `db:"id"`
	Serial    string    `db:"serial"`
	Lint      string    `db:"lint"`
	Field     string    `db:"field"`
	Severity  Severity  `db:"severity"`
	Message   string    `db:"message"`
	FirstRun  string    `db:"first_run"`
	LastRun   string    `db:"last_run"`
	FirstSeen time.Time `db:"first_seen"`
	LastSeen  time.Time `db:"last_seen"`
}

// runState is a run and the serials checked beyond its cursor.
type runState struct {
	run     runRow
	done    map[string]bool
	resumed bool
	by      actor.Actor
}

// params is the selection a run is resumed by.
func (o Options) params() string {
	b, _ := json.Marshal(struct {
		All      bool   `json:"all"`
		Since    string `json:"since,omitempty"`
		IssuerID string `json:"issuer,omitempty"`
	}{o.All, sinceText(o.Since), o.IssuerID})
	return string(b)
}

func sinceText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return store.FormatTime(t)
}

// by is who runs a scan with these options.
func (o Options) by() actor.Actor {
	if o.By.Kind == "" {
		return actor.SystemActor("scan")
	}
	return o.By
}

// openRun resumes the unfinished run with the same selection, or starts one.
// A run row that its audit event does not vouch for (one planted or edited
// outside vetca, to make the scan skip certificates) fails the read.
func (s *Scanner) openRun(ctx context.Context, o Options) (*runState, error) {
	var st *runState
	err := s.d.DB.InTx(ctx, func(tx *store.Tx) error {
		runs, err := s.runs.Select(ctx, tx, `WHERE status = ? AND params = ? ORDER BY started_at DESC, id DESC`, runRunning, o.params())
		if err != nil {
			return fmt.Errorf("scan: reading runs: %w", err)
		}
		if len(runs) > 0 && !o.Restart {
			st = &runState{run: runs[0], done: map[string]bool{}, resumed: true, by: o.by()}
			for _, sn := range runs[0].DoneBeyond {
				st.done[sn] = true
			}
			return nil
		}
		now := s.d.Clock.Now()
		for _, r := range runs {
			r.Status, r.UpdatedAt = runAbandoned, now
			if err := s.runs.Update(ctx, tx, o.by(), actRunAbandoned, r); err != nil {
				return fmt.Errorf("scan: abandoning run %s: %w", r.ID, err)
			}
		}
		r := runRow{ID: ids.New("scan"), Params: o.params(), Status: runRunning, DoneBeyond: []string{}, StartedAt: now, UpdatedAt: now}
		if err := s.runs.Insert(ctx, tx, o.by(), actRunStarted, r); err != nil {
			return fmt.Errorf("scan: starting a run: %w", err)
		}
		st = &runState{run: r, done: map[string]bool{}, by: o.by()}
		return nil
	})
	return st, err
}

// save records one batch in one transaction: the findings of every
// certificate checked, the cursor and the done serials beyond it. The run's
// state in memory moves on only once the transaction has committed.
func (s *Scanner) save(ctx context.Context, st *runState, batch, todo []string, results []*outcome) error {
	now := s.d.Clock.Now()
	var next *runState
	err := s.d.DB.InTx(ctx, func(tx *store.Tx) error {
		// Built afresh by each attempt: InTx runs the function again after
		// a retryable failure, which must not count the batch twice.
		next = &runState{run: st.run, done: maps.Clone(st.done), resumed: st.resumed, by: st.by}
		for i, r := range results {
			if r == nil {
				continue
			}
			if r.err != nil {
				return fmt.Errorf("scan: checking %s: %w", todo[i], r.err)
			}
			for _, f := range r.findings {
				if err := s.upsert(ctx, tx, next, f, now); err != nil {
					return err
				}
			}
			next.done[todo[i]] = true
			next.run.Checked++
			next.run.Found += len(r.findings)
		}
		advance(next, batch)
		next.run.DoneBeyond, next.run.UpdatedAt = doneList(next.done), now
		return s.runs.Update(ctx, tx, st.by, actRunProgressed, next.run)
	})
	if err != nil {
		return err
	}
	*st = *next
	return nil
}

// upsert stores a finding, or marks a known one as seen by this run.
func (s *Scanner) upsert(ctx context.Context, tx *store.Tx, st *runState, f Finding, now time.Time) error {
	old, ok, err := s.findings.First(ctx, tx, `WHERE serial = ? AND lint = ? AND field = ?`, f.Serial, f.Lint, f.Field)
	if err != nil {
		return fmt.Errorf("scan: reading a finding: %w", err)
	}
	if ok {
		old.LastRun, old.LastSeen, old.Severity, old.Message = st.run.ID, now, f.Severity, f.Message
		err = s.findings.Update(ctx, tx, st.by, actFindingSeen, old)
	} else {
		err = s.findings.Insert(ctx, tx, st.by, actFindingStored, findingRow{ID: ids.New("sf"), Serial: f.Serial, Lint: f.Lint, Field: f.Field,
			Severity: f.Severity, Message: f.Message, FirstRun: st.run.ID, LastRun: st.run.ID, FirstSeen: now, LastSeen: now})
	}
	if err != nil {
		return fmt.Errorf("scan: storing a finding: %w", err)
	}
	return nil
}

func (s *Scanner) finish(ctx context.Context, st *runState) error {
	now := s.d.Clock.Now()
	r := st.run
	r.Status, r.UpdatedAt, r.FinishedAt = runFinished, now, &now
	return s.d.DB.InTx(ctx, func(tx *store.Tx) error {
		return s.runs.Update(ctx, tx, st.by, actRunFinished, r)
	})
}

// findingsOf returns the findings a run saw, narrowed to one lint if given.
func (s *Scanner) findingsOf(ctx context.Context, runID, lintName string) ([]Finding, error) {
	var where store.Where
	where.Add("last_run = ?", runID)
	if lintName != "" {
		where.Add("lint = ?", lintName)
	}
	rows, err := s.findings.Select(ctx, s.d.DB, where.Clause()+` ORDER BY serial, lint, field`, where.Args()...)
	if err != nil {
		return nil, fmt.Errorf("scan: reading findings: %w", err)
	}
	out := make([]Finding, len(rows))
	for i, r := range rows {
		out[i] = Finding{Serial: r.Serial, Lint: r.Lint, Field: r.Field, Message: r.Message, Severity: r.Severity, New: r.FirstRun == runID}
	}
	return out, nil
}

// Findings answers which certificates scans found failing a lint, for
// incident queries (`query.lint`). Each finding is checked against the
// audit event that vouches for it, so one planted or edited outside vetca
// fails the query; one deleted outside vetca is found by audit verify, as
// for any audited table. An incident freezes the list it selected, with
// each certificate's state, in its own audited rows.
type Findings struct {
	DB  *store.DB
	Rec *audit.Recorder
}

// SerialsFailing lists, in order, the serials any scan found failing
// lintName (a zlint or vetca lint name, or a scan check such as
// vetca_subject_matches_org_version).
func (f Findings) SerialsFailing(ctx context.Context, lintName string) ([]string, error) {
	rows, err := audit.TableOf[findingRow](f.Rec, tableFindings).Select(ctx, f.DB, `WHERE lint = ? ORDER BY serial, field`, lintName)
	if err != nil {
		return nil, fmt.Errorf("scan: reading findings of %s: %w", lintName, err)
	}
	var out []string
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1] != r.Serial {
			out = append(out, r.Serial)
		}
	}
	return out, nil
}
