package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/audit"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Verify, checkpoint and export the audit trail"}
	var checkpoint string
	verify := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Verify the audit trail: signatures, chain, every audited row, and the signed checkpoints",
		Long: `verify walks the whole audit trail. It checks that every event was signed by
the installation's audit key (the public key pinned at init, --audit-public-key):
an event or row that someone wrote without the key, even one consistent with
the chain, is a finding. It checks the hash chain and the sequence, and
compares every row of every audited table with the latest event that vouches
for it. It checks the chain against every signed checkpoint in the database
and in --checkpoint-dir (where serve writes them) and against FILE, so a chain
that was truncated or rebuilt is a finding. A checkpoint signed by another key
is refused. Each problem is printed on its own line naming the table, the row
id and, where it can tell, the field. Exit 0 when all is intact, 1 otherwise.
It needs only the public key.`,
		Args: cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			rep, err := a.VerifyAudit(ctx, checkpoint)
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
					msg := fmt.Sprintf("audit trail intact: %d events, head %s, every event signed by audit key %s", rep.Events, rep.Head, rep.KeyID)
					if cp := rep.Checkpoint; cp != nil {
						msg += fmt.Sprintf("; consistent with %d signed checkpoint(s), the newest at event %d (%s)", rep.Checkpoints, cp.Seq, cp.At)
					} else {
						msg += "; no signed checkpoint found"
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
	verify.Flags().StringVar(&checkpoint, "checkpoint", "", "also check against this signed checkpoint file")

	var out string
	cpCmd := &cobra.Command{
		Use:   "checkpoint [--out FILE]",
		Short: "Check the chain since the last checkpoint, then sign its head with the audit key",
		Long: `checkpoint checks every event since the newest signed checkpoint (signature,
link, no gap), signs the chain head with the audit key, and writes the
checkpoint to --checkpoint-dir and the database; with --out also to FILE, for
the auditor to keep. serve does the same on a schedule.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			// Before the checkpoint is signed and recorded.
			return checkOutFile("--out", out)
		},
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			cp, err := a.Checkpoints.Now(ctx)
			if err != nil {
				return err
			}
			if cp == nil {
				return errors.New("the audit trail is empty: nothing to checkpoint")
			}
			if out != "" {
				b, err := json.MarshalIndent(cp, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--out %s: %w", out, err)
				}
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"file": out, "checkpoint": cp})
			}
			g.say("checkpoint of event %d (hash %s) signed by audit key %s: %s", cp.Seq, cp.Hash, cp.KeyID, cp.Source)
			if out != "" {
				g.say("copy written to %s", out)
			}
			return nil
		}),
	}
	cpCmd.Flags().StringVar(&out, "out", "", "also write the checkpoint to FILE")

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

// checkNewFile refuses a path where a file already is: a ceremony record
// never replaces another record, or a key.
func checkNewFile(flag, path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s %s: the file exists; a ceremony record is never written over another file", flag, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return nil
}

// checkOutFile refuses, before anything is written, an --out FILE that
// could not be written because it is a directory, or its directory is
// missing or is no directory: a command that records something (a
// checkpoint, a CA) and only then fails to write its file would leave a
// partial result.
func checkOutFile(flag, path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s: is a directory; give a file name", flag, path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s: %s is not a directory", flag, path, dir)
	}
	return nil
}
