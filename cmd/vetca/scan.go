package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/scan"
)

// scanOut is `vetca scan --json`.
type scanOut struct {
	RunID    string         `json:"runId"`
	Resumed  bool           `json:"resumed"`
	Checked  int            `json:"checked"`
	Findings []scan.Finding `json:"findings"`
}

type scanFlags struct {
	all, restart bool
	since        string
	issuer, lint string
	workers      int
}

func newScanCmd(g *globals) *cobra.Command {
	var f scanFlags
	c := &cobra.Command{
		Use:   "scan [--json] [--all] [--since TIME] [--issuer ID] [--lint NAME] [--workers N] [--restart]",
		Short: "Check every unexpired certificate again with the current lints and rules; exit 1 on any finding",
		Long: `scan checks every unexpired certificate that is not revoked (--all adds the
revoked ones) with every current zlint and vetca lint, compares its subject with
the organization version it was issued from and with the current verified
version, checks its audit chain (order, approvals, intent, signature), its
validity against the BR §6.3.2 cap for its issuance date, its serial (BR §7.1)
and the keyCompromise blocklist. --since (RFC 3339) and --issuer narrow the
certificates, --lint the findings. Findings are stored: the output lists the
new ones, and --json prints every finding of the run as
{"findings":[{"serial","lint","field","message","severity","new"}]}.
A scan that was stopped is continued by the next scan with the same
selection (--restart starts over). Progress goes to stderr. Exit 1 when there
is any finding, 2 on bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			return g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
				return g.runScan(ctx, a, o)
			})(cmd, args)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.all, "all", false, "also check revoked certificates")
	fl.StringVar(&f.since, "since", "", "only certificates issued at or after TIME (RFC 3339)")
	fl.StringVar(&f.issuer, "issuer", "", "only certificates of this issuer id")
	fl.StringVar(&f.lint, "lint", "", "only findings of this lint or check")
	fl.IntVar(&f.workers, "workers", 0, "certificates checked in parallel, 1-64 (default 4)")
	fl.BoolVar(&f.restart, "restart", false, "start over instead of continuing a stopped scan")
	return c
}

func (f scanFlags) options() (scan.Options, error) {
	o := scan.Options{All: f.all, IssuerID: f.issuer, Lint: f.lint, Workers: f.workers, Restart: f.restart, By: cliActor()}
	if f.since != "" {
		t, err := time.Parse(time.RFC3339, f.since)
		if err != nil {
			return o, usageErr("--since %q is not an RFC 3339 time", f.since)
		}
		o.Since = t.UTC()
	}
	if f.workers < 0 || f.workers > 64 {
		return o, usageErr("--workers must be 1-64")
	}
	if f.lint != "" {
		// A misspelt name would filter every finding out and report a
		// clean scan.
		l, err := lint.New()
		if err != nil {
			return o, err
		}
		if !slices.Contains(l.Names(), f.lint) && !slices.Contains(scan.Checks(), f.lint) {
			return o, usageErr("--lint %q is no lint or check that scan runs (vetca's checks: %s; vetca's lints: %s; or a zlint lint name)",
				f.lint, strings.Join(scan.Checks(), ", "), strings.Join(vetcaLints(l.Names()), ", "))
		}
	}
	return o, nil
}

// vetcaLints keeps vetca's own lint names (e_vetca_..., w_vetca_...).
func vetcaLints(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, "_vetca_") {
			out = append(out, n)
		}
	}
	return out
}

func (g *globals) runScan(ctx context.Context, a *app.App, o scan.Options) error {
	p := newProgress(g.stderr)
	o.Progress = p.update
	res, err := a.Scanner(nil).Run(ctx, o)
	p.done()
	if err != nil {
		return err
	}
	if g.jsonOut {
		if err := g.printJSON(scanOut{RunID: res.RunID, Resumed: res.Resumed, Checked: res.Checked, Findings: nonNil(res.Findings)}); err != nil {
			return err
		}
	} else {
		g.printScan(res)
	}
	if len(res.Findings) > 0 {
		return errFindings
	}
	return nil
}

func nonNil(fs []scan.Finding) []scan.Finding {
	if fs == nil {
		return []scan.Finding{}
	}
	return fs
}

func (g *globals) printScan(res scan.Result) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if res.New() > 0 {
		fmt.Fprintln(tw, "SERIAL\tLINT\tFIELD\tSEVERITY\tMESSAGE")
	}
	for _, f := range res.Findings {
		if f.New {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Serial, f.Lint, f.Field, f.Severity, f.Message)
		}
	}
	_ = tw.Flush()
	g.say("%d certificate(s) checked, %d finding(s), %d new (run %s)", res.Checked, len(res.Findings), res.New(), res.RunID)
}

// progress shows a scan's progress on stderr: one line rewritten in place
// on a terminal, a plain line every 10 seconds otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	shown    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) update(pr scan.Progress) {
	every := 10 * time.Second
	if p.terminal {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Checked) / max(pr.Elapsed.Seconds(), 0.001)
	line := fmt.Sprintf("scan: %d checked, %d findings, %.0f/s", pr.Checked, pr.Findings, rate)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
