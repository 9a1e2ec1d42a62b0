package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"

	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
)

func newCRLCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "crl", Short: "Publish and verify CRL shards"}
	var out string
	var force bool
	publish := &cobra.Command{
		Use:   "publish [--out DIR] [--force]",
		Short: "Publish due CRL shards; with --out also write every current CRL as static files with the CCADB JSON",
		Long: `publish builds, lints and records every CRL shard that is due (new, a
revocation since its last CRL, or its scheduled republication), or all with
--force. With --out DIR it writes each current CRL at DIR/HOST/crl/ISSUER/N.crl,
mirroring its URL, and DIR/partitioned-crls-ISSUER.json, the CCADB "JSON Array
of Partitioned CRLs" for each issuing CA, ready for a CDN or an object store.`,
		Args: cobra.NoArgs,
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			if err := a.PublicURLError(); err != nil {
				return err
			}
			if out != "" {
				// Before anything is published: a failed --out would
				// otherwise fail the command after the shards were recorded.
				if err := os.MkdirAll(out, 0o755); err != nil {
					return fmt.Errorf("--out %s: %w", out, err)
				}
			}
			var published []revocation.ShardRecord
			var err error
			if force {
				targets, err := a.CRLs.Targets(ctx)
				if err != nil {
					return err
				}
				for _, t := range targets {
					rec, err := a.CRLs.Publish(ctx, t)
					if err != nil {
						return fmt.Errorf("%s: %w", t.URL, err)
					}
					published = append(published, rec)
				}
			} else if published, err = a.CRLs.PublishDue(ctx); err != nil {
				return err
			}
			var written []string
			if out != "" {
				if written, err = writeStatic(ctx, a.CRLs, out); err != nil {
					return err
				}
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"published": published, "files": written})
			}
			for _, p := range published {
				g.say("published %s number %d with %d entries", p.URL, p.Number, p.Entries)
			}
			if len(published) == 0 {
				g.say("no shard was due")
			}
			for _, f := range written {
				g.say("wrote %s", f)
			}
			return nil
		}),
	}
	publish.Flags().StringVar(&out, "out", "", "directory to write the CRLs and the CCADB JSON to")
	publish.Flags().BoolVar(&force, "force", false, "publish every shard now, due or not")

	var fetch bool
	verify := &cobra.Command{
		Use:   "verify [--fetch]",
		Short: "Prove coverage: every revoked, unexpired certificate is in exactly one current shard; every shard is valid (and fetchable with --fetch)",
		Args:  cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			if err := a.PublicURLError(); err != nil {
				return err
			}
			var f revocation.Fetcher
			if fetch {
				client := &http.Client{Timeout: 15 * time.Second}
				f = func(ctx context.Context, url string) ([]byte, error) {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					if err != nil {
						return nil, err
					}
					resp, err := client.Do(req)
					if err != nil {
						return nil, err
					}
					defer resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
					}
					return io.ReadAll(io.LimitReader(resp.Body, 256<<20))
				}
			}
			findings, err := a.CRLs.VerifyCoverage(ctx, f)
			if err != nil {
				return err
			}
			if g.jsonOut {
				if findings == nil {
					findings = []revocation.Finding{}
				}
				if err := g.printJSON(map[string]any{"ok": len(findings) == 0, "findings": findings}); err != nil {
					return err
				}
			} else {
				for _, fd := range findings {
					if fd.Serial != "" {
						fmt.Fprintf(g.stdout, "%s serial %s: %s\n", fd.URL, fd.Serial, fd.Message)
					} else {
						fmt.Fprintf(g.stdout, "%s: %s\n", fd.URL, fd.Message)
					}
				}
				if len(findings) == 0 {
					g.say("CRL coverage verified: every revoked, unexpired certificate is in its current shard")
				}
			}
			if len(findings) > 0 {
				return errFindings
			}
			return nil
		}),
	}
	verify.Flags().BoolVar(&fetch, "fetch", false, "also fetch every shard over HTTP at its URL and compare the bytes")
	c.AddCommand(publish, verify)
	return c
}

// writeStatic writes every current CRL under dir at its URL path, with one
// CCADB JSON array per issuing CA.
func writeStatic(ctx context.Context, p *revocation.Publisher, dir string) ([]string, error) {
	targets, err := p.Targets(ctx)
	if err != nil {
		return nil, err
	}
	urls := map[string][]string{}
	var written []string
	for _, t := range targets {
		der, _, err := p.Get(ctx, t.URL)
		if err != nil {
			return written, fmt.Errorf("%s: %w (run crl publish first)", t.URL, err)
		}
		u, err := url.Parse(t.URL)
		if err != nil {
			return written, err
		}
		path := filepath.Join(dir, u.Host, filepath.FromSlash(u.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, fmt.Errorf("--out %s: %w", dir, err)
		}
		if err := os.WriteFile(path, der, 0o644); err != nil {
			return written, fmt.Errorf("--out %s: %w", dir, err)
		}
		written = append(written, path)
		if !t.Full {
			urls[t.Issuer.ID] = append(urls[t.Issuer.ID], t.URL)
		}
	}
	ids := make([]string, 0, len(urls))
	for id := range urls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		js, err := crl.PartitionedCRLsJSON(urls[id])
		if err != nil {
			return written, err
		}
		path := filepath.Join(dir, "partitioned-crls-"+id+".json")
		if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
