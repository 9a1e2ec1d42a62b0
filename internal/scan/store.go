package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Run statuses.
const (
	runRunning   = "running"
	runFinished  = "finished"
	runAbandoned = "abandoned"
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

// openRun resumes the unfinished run with the same selection, or starts one.
func (s *Scanner) openRun(ctx context.Context, o Options) (*runState, error) {
	runs, err := store.Select[runRow](ctx, s.d.DB, `SELECT * FROM scan_runs WHERE status = ? AND params = ?
		ORDER BY started_at DESC, id DESC`, runRunning, o.params())
	if err != nil {
		return nil, fmt.Errorf("scan: reading runs: %w", err)
	}
	if len(runs) > 0 && !o.Restart {
		st := &runState{run: runs[0], done: map[string]bool{}, resumed: true}
		for _, sn := range runs[0].DoneBeyond {
			st.done[sn] = true
		}
		return st, nil
	}
	now := store.FormatTime(s.d.Clock.Now())
	for _, r := range runs {
		if _, err := s.d.DB.Exec(ctx, `UPDATE scan_runs SET status = ?, updated_at = ? WHERE id = ?`, runAbandoned, now, r.ID); err != nil {
			return nil, err
		}
	}
	r := runRow{ID: ids.New("scan"), Params: o.params(), Status: runRunning, DoneBeyond: []string{}}
	_, err = s.d.DB.Exec(ctx, `INSERT INTO scan_runs (id, params, status, cursor_serial, done_beyond, checked, found, started_at, updated_at)
		VALUES (?, ?, ?, '', '[]', 0, 0, ?, ?)`, r.ID, r.Params, r.Status, now, now)
	if err != nil {
		return nil, fmt.Errorf("scan: starting a run: %w", err)
	}
	return &runState{run: r, done: map[string]bool{}}, nil
}

// save records one batch in one transaction: the findings of every
// certificate checked, the cursor and the done serials beyond it.
func (s *Scanner) save(ctx context.Context, st *runState, batch, todo []string, results []*outcome) error {
	now := s.d.Clock.Now()
	return s.d.DB.InTx(ctx, func(tx *store.Tx) error {
		for i, r := range results {
			if r == nil {
				continue
			}
			if r.err != nil {
				return fmt.Errorf("scan: checking %s: %w", todo[i], r.err)
			}
			for _, f := range r.findings {
				if err := s.upsert(ctx, tx, st.run.ID, f, now); err != nil {
					return err
				}
			}
			st.done[todo[i]] = true
			st.run.Checked++
			st.run.Found += len(r.findings)
		}
		advance(st, batch)
		dl, _ := json.Marshal(doneList(st.done))
		_, err := tx.Exec(ctx, `UPDATE scan_runs SET cursor_serial = ?, done_beyond = ?, checked = ?, found = ?, updated_at = ? WHERE id = ?`,
			st.run.Cursor, string(dl), st.run.Checked, st.run.Found, store.FormatTime(now), st.run.ID)
		return err
	})
}

// upsert stores a finding, or marks a known one as seen by this run.
func (s *Scanner) upsert(ctx context.Context, tx *store.Tx, runID string, f Finding, now time.Time) error {
	at := store.FormatTime(now)
	res, err := tx.Exec(ctx, `UPDATE scan_findings SET last_run = ?, last_seen = ?, severity = ?, message = ?
		WHERE serial = ? AND lint = ? AND field = ?`, runID, at, f.Severity, f.Message, f.Serial, f.Lint, f.Field)
	if err != nil {
		return fmt.Errorf("scan: storing a finding: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO scan_findings (id, serial, lint, field, severity, message, first_run, last_run, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ids.New("sf"), f.Serial, f.Lint, f.Field, f.Severity, f.Message, runID, runID, at, at)
	if err != nil {
		return fmt.Errorf("scan: storing a finding: %w", err)
	}
	return nil
}

func (s *Scanner) finish(ctx context.Context, runID string) error {
	now := store.FormatTime(s.d.Clock.Now())
	_, err := s.d.DB.Exec(ctx, `UPDATE scan_runs SET status = ?, finished_at = ?, updated_at = ? WHERE id = ?`, runFinished, now, now, runID)
	return err
}

// findingsOf returns the findings a run saw, narrowed to one lint if given.
func (s *Scanner) findingsOf(ctx context.Context, runID, lintName string) ([]Finding, error) {
	var where store.Where
	where.Add("last_run = ?", runID)
	if lintName != "" {
		where.Add("lint = ?", lintName)
	}
	rows, err := store.Select[findingRow](ctx, s.d.DB, `SELECT * FROM scan_findings `+where.Clause()+` ORDER BY serial, lint, field`, where.Args()...)
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
// incident queries (`query.lint`). Findings are the scanner's working
// state, not audited rows: an incident freezes the list it selected, with
// each certificate's state, in its own audited rows.
type Findings struct{ DB *store.DB }

// SerialsFailing lists, in order, the serials any scan found failing
// lintName (a zlint or vetca lint name, or a scan check such as
// vetca_subject_matches_org_version).
func (f Findings) SerialsFailing(ctx context.Context, lintName string) ([]string, error) {
	rows, err := store.Select[findingRow](ctx, f.DB, `SELECT * FROM scan_findings WHERE lint = ? ORDER BY serial, field`, lintName)
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
