package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"

	"github.com/vetca/vetca/internal/audit"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Verify, checkpoint and export the audit trail"}
	var checkpoint string
	verify := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Verify the audit hash chain and every audited row",
		Long: `verify walks the whole audit hash chain and compares every row of every
audited table with the latest event that vouches for it. Each problem is printed
on its own line naming the table, the row id and, where it can tell, the field.
With --checkpoint it also checks that the chain still holds the signed head the
auditor kept. Exit 0 when all is intact, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			var cp *audit.Checkpoint
			if checkpoint != "" {
				var err error
				if cp, err = audit.ReadCheckpoint(checkpoint, nil); err != nil {
					return err
				}
			}
			rep, err := audit.Verify(ctx, a.DB, a.Recorder.Schema(), cp)
			if err != nil {
				return err
			}
			if g.jsonOut {
				if err := g.printJSON(rep); err != nil {
					return err
				}
			} else {
				for _, f := range rep.Findings {
					fmt.Fprintln(g.stdout, f.String())
				}
				if rep.OK {
					msg := fmt.Sprintf("audit trail intact: %d events, head %s", rep.Events, rep.Head)
					if cp != nil {
						msg += fmt.Sprintf("; matches checkpoint at event %d signed by key %s", cp.Seq, cp.KeyID)
					}
					g.say("%s", msg)
				} else {
					g.say("audit trail NOT intact: %d finding(s) in %d events", len(rep.Findings), rep.Events)
				}
			}
			if !rep.OK {
				return errFindings
			}
			return nil
		}),
	}
	verify.Flags().StringVar(&checkpoint, "checkpoint", "", "a signed checkpoint file from `vetca audit checkpoint`")

	var out string
	cpCmd := &cobra.Command{
		Use:   "checkpoint [--out FILE]",
		Short: "Sign the chain head with the audit key and write it for the auditor to keep",
		Args:  cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			key, err := audit.LoadKey(a.Cfg.AuditKey)
			if err != nil {
				return err
			}
			cp, err := audit.MakeCheckpoint(ctx, a.DB, key, a.Clock.Now())
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(cp, "", "  ")
			if err != nil {
				return err
			}
			if out == "" {
				out = fmt.Sprintf("vetca-checkpoint-%d.json", cp.Seq)
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"file": out, "checkpoint": cp})
			}
			g.say("checkpoint of event %d (hash %s) signed by audit key %s written to %s", cp.Seq, cp.Hash, cp.KeyID, out)
			return nil
		}),
	}
	cpCmd.Flags().StringVar(&out, "out", "", "file to write (default vetca-checkpoint-SEQ.json)")

	var exportOut string
	export := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write every audit event, with content and hashes, as JSON Lines",
		Args:  cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			w := g.stdout
			if exportOut != "" {
				f, err := os.OpenFile(exportOut, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					return fmt.Errorf("--out %s: %w", exportOut, err)
				}
				defer f.Close()
				w = f
			}
			enc := json.NewEncoder(w)
			f := audit.Filter{Limit: 1000}
			n := 0
			for {
				evs, err := audit.List(ctx, a.DB, f)
				if err != nil {
					return err
				}
				for _, e := range evs {
					if err := enc.Encode(e); err != nil {
						return err
					}
				}
				n += len(evs)
				if len(evs) < f.Limit {
					break
				}
				f.After = evs[len(evs)-1].Seq
			}
			if exportOut != "" {
				fmt.Fprintf(g.stderr, "%d events written to %s\n", n, exportOut)
			}
			return nil
		}),
	}
	export.Flags().StringVar(&exportOut, "out", "", "file to write (default stdout)")
	c.AddCommand(verify, cpCmd, export)
	return c
}
