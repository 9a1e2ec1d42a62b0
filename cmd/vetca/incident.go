package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/incident"
)

func newIncidentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Work incidents: bulk revocation of the affected set"}
	c.AddCommand(newIncidentRevokeCmd(g))
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
requires, N at a time (--workers, default 4), one transaction per certificate.
Progress goes to stderr. It can be killed at any point and run again: it
resumes, and nothing is revoked twice. The contacts of every account concerned
are mailed once before the first run and once after the set is complete.
--dry-run lists what would be revoked and changes nothing. --json prints
{"incident","dryRun","affected","alreadyRevoked","expired","revoked","reason","serials"}.`,
		Args: cobra.ExactArgs(1),
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			if workers < 1 || workers > 64 {
				return usageErr("--workers %d: must be 1 to 64", workers)
			}
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
	c.Flags().IntVar(&workers, "workers", incident.DefaultWorkers, "certificates revoked at once")
	return c
}
