package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/incident"
)

func newIncidentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Work incidents: bulk revocation of the affected set, reports"}
	c.AddCommand(newIncidentRevokeCmd(g), newIncidentReportCmd(g))
	return c
}

func newIncidentRevokeCmd(g *globals) *cobra.Command {
	var dryRun bool
	var workers int
	c := &cobra.Command{
		Use:   "revoke ID [--dry-run] [--json] [--workers N]",
		Short: "Revoke every affected certificate of an incident not yet revoked, with the reason its trigger requires",
		Long: `revoke revokes every certificate of the incident's frozen affected set that is
not yet revoked (and not expired), with the CRLReason its BR §4.9.1.1 trigger
requires, on N workers (--workers, default 4), up to 50 certificates per
transaction. Progress goes to stderr, a line per certificate once its
transaction has committed. It can be killed at any point and run again: it
resumes, and nothing is revoked twice. The contacts of every account concerned
are mailed once before the first run and once after the set is complete.
--dry-run lists what would be revoked and changes nothing. --json prints
{"incident","dryRun","affected","alreadyRevoked","expired","revoked","reason","serials"}.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > 64 {
				return usageErr("--workers %d: must be 1 to 64", workers)
			}
			return nil
		},
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			opt := incident.RevokeOptions{DryRun: dryRun, Workers: workers, Progress: func(done, total int, serial string) {
				fmt.Fprintf(g.stderr, "revoked %d/%d %s\n", done, total, serial)
			}}
			res, err := a.Incidents.Revoke(ctx, cliActor(), args[0], opt)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(res)
			}
			if dryRun {
				for _, s := range res.Serials {
					fmt.Fprintln(g.stdout, s)
				}
				g.say("dry run: %d of %d certificate(s) would be revoked (%s); %d already revoked, %d expired", len(res.Serials), res.Affected, res.Reason, res.AlreadyRevoked, res.Expired)
				return nil
			}
			g.say("incident %s: revoked %d certificate(s) (%s); %d already revoked, %d expired, of %d", res.Incident, res.Revoked, res.Reason, res.AlreadyRevoked, res.Expired, res.Affected)
			return nil
		}),
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be revoked; change nothing")
	c.Flags().IntVar(&workers, "workers", incident.DefaultWorkers, "transactions run at once")
	return c
}

// reportFormats are the values of incident report --format.
var reportFormats = []string{incident.FormatPreliminary, incident.FormatFull, incident.FormatClosure, incident.FormatLegacy}

func newIncidentReportCmd(g *globals) *cobra.Command {
	var format, csvFile string
	c := &cobra.Command{
		Use:   "report ID --format preliminary|full|closure|legacy [--csv FILE]",
		Short: "Print an incident's report as Markdown in the CCADB IRG v3.2 structure",
		Long: `report prints the incident's report as Markdown: the CCADB IRG v3.2
Preliminary, Full or Closure report (every field, N/A where it does not apply),
or the older seven-topic format (legacy). The timeline is built from the
incident's recorded events and its problem report's, to the minute in UTC.
--csv also writes the Appendix CSV (the eleven IRG columns in order, then a
https://crt.sh/?sha256= link). It only reads.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range reportFormats {
				if format == f {
					return nil
				}
			}
			return usageErr("--format %q: must be %s", format, orList(reportFormats))
		},
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			rep, err := a.Incidents.Render(ctx, cliActor(), args[0], format)
			if err != nil {
				return err
			}
			if csvFile != "" {
				if err := os.WriteFile(csvFile, rep.CSV, 0o644); err != nil {
					return fmt.Errorf("--csv: %w", err)
				}
			}
			if g.jsonOut {
				return g.printJSON(map[string]string{"markdown": rep.Markdown})
			}
			_, err = fmt.Fprint(g.stdout, rep.Markdown)
			return err
		}),
	}
	c.Flags().StringVar(&format, "format", incident.FormatFull, "preliminary, full, closure or legacy")
	c.Flags().StringVar(&csvFile, "csv", "", "also write the Appendix CSV to FILE")
	return c
}
