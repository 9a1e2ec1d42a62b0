package main

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
)

// deadlinesOut is `vetca deadlines --json`.
type deadlinesOut struct {
	At    time.Time      `json:"at"`
	Items []deadlineItem `json:"items"`
}

// deadlineItem is one obligation of a problem report or an incident.
type deadlineItem struct {
	Kind     string    `json:"kind"`
	Ref      string    `json:"ref"`
	Due      time.Time `json:"due"`
	Section  string    `json:"section"`
	Breached bool      `json:"breached"`
	Case     string    `json:"case,omitempty"`
	Incident string    `json:"incident,omitempty"`
}

// obligations merges the problem reports' obligations with the incidents',
// ordered by due time.
func obligations(ctx context.Context, a *app.App, at time.Time) ([]deadlineItem, error) {
	cprs, err := a.CPR.Obligations(ctx, at)
	if err != nil {
		return nil, err
	}
	incs, err := a.Incidents.Obligations(ctx, at)
	if err != nil {
		return nil, err
	}
	items := make([]deadlineItem, 0, len(cprs)+len(incs))
	for _, o := range cprs {
		items = append(items, deadlineItem{Kind: o.Kind, Ref: o.Ref, Due: o.Due, Section: o.Section, Breached: o.Breached, Case: o.CaseID})
	}
	for _, o := range incs {
		items = append(items, deadlineItem{Kind: o.Kind, Ref: o.Ref, Due: o.Due, Section: o.Section, Breached: o.Breached, Incident: o.IncidentID})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Due.Before(items[j].Due) })
	return items, nil
}

func newDeadlinesCmd(g *globals) *cobra.Command {
	var at string
	c := &cobra.Command{
		Use:   "deadlines [--at TIME] [--json]",
		Short: "List every open obligation with its due time and BR section; exit 1 if any is breached",
		Long: `deadlines lists every obligation not yet met, evaluated at TIME (RFC 3339;
default now): the preliminary report of each problem report to its reporter and
every matched subscriber, due 24 hours after receipt (BR §4.9.5), and the
revocation of each certificate a problem report decided to revoke, due as its
BR §4.9.1.1 trigger says from the report's receipt; and for every open
incident, the revocation of each affected certificate (due as its trigger
says from awareness), the initial report (72 hours), the full report (14
days after the initial disclosure), and updates (every 7 days; a
revocation-delay incident also every 3 days), CCADB IRG v3.2. An item whose due time is
not after TIME is marked breached. --json prints
{"at":TIME,"items":[{"kind","ref","due","section","breached"}]}, where ref is
the problem report or incident id, or the serial for a revocation. Exit 1 when anything is
breached at TIME, 2 on a bad --at. It only reads, with the audit public key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var when time.Time
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageErr("--at %q is not an RFC 3339 time (e.g. 2026-11-24T09:00:00Z)", at)
				}
				when = t.UTC()
			}
			return g.withApp(func(ctx context.Context, a *app.App, args []string) error {
				if when.IsZero() {
					when = a.Clock.Now().UTC()
				}
				return g.printDeadlines(ctx, a, when)
			})(cmd, args)
		},
	}
	c.Flags().StringVar(&at, "at", "", "evaluate at this time (RFC 3339; default now)")
	return c
}

func (g *globals) printDeadlines(ctx context.Context, a *app.App, at time.Time) error {
	items, err := obligations(ctx, a, at)
	if err != nil {
		return err
	}
	breached := 0
	for _, it := range items {
		if it.Breached {
			breached++
		}
	}
	if g.jsonOut {
		if err := g.printJSON(deadlinesOut{At: at.Truncate(time.Second), Items: items}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tREF\tDUE\tSECTION\tSTATE")
		for _, it := range items {
			state := "open"
			if it.Breached {
				state = "BREACHED"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Kind, it.Ref, it.Due.Format(time.RFC3339), it.Section, state)
		}
		_ = tw.Flush()
		g.say("%d open obligation(s) at %s, %d breached", len(items), at.Format(time.RFC3339), breached)
	}
	if breached > 0 {
		return errFindings
	}
	return nil
}
