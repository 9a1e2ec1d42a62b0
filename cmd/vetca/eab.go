package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/store"
)

func newEABCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "eab", Short: "External Account Binding keys that tie an ACME account to a vetca account"}
	c.AddCommand(newEABCreateCmd(g), newEABListCmd(g), newEABRevokeCmd(g))
	return c
}

func newEABCreateCmd(g *globals) *cobra.Command {
	var account string
	c := &cobra.Command{
		Use:   "create --account ID [--json]",
		Short: "Create an EAB key for an account and print its kid and HMAC key (shown once)",
		Long: `create makes an External Account Binding key for the account and prints its
key id (kid) and HMAC key (base64url, no padding), once: the HMAC key is
derived from the installation's EAB secret (--eab-secret) and the kid, and only
its SHA-256 is stored. The key binds one ACME account to the vetca account,
once, and expires 30 days after creation if unused. --json prints
{"kid","hmacKey","expiresAt"}.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if account == "" {
				return usageErr("--account is required")
			}
			return nil
		},
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			k, err := a.EAB.Create(ctx, cliActor(), account)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(k)
			}
			g.say("EAB key for account %s (store it now; the HMAC key is not shown again):\nkid      %s\nhmacKey  %s\nexpires  %s (unless an ACME account is bound with it first)\nclient   --eab-kid %s --eab-hmac-key=%s (keep the =: a key may begin with -)",
				account, k.Kid, k.HMACKey, k.ExpiresAt.Format(time.RFC3339), k.Kid, k.HMACKey)
			return nil
		}),
	}
	c.Flags().StringVar(&account, "account", "", "the vetca account the key binds to")
	return c
}

func newEABListCmd(g *globals) *cobra.Command {
	var account string
	c := &cobra.Command{
		Use:   "list --account ID [--json]",
		Short: "List an account's EAB keys and their status (never the keys themselves)",
		Args:  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if account == "" {
				return usageErr("--account is required")
			}
			return nil
		},
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			keys := []eab.View{}
			for p := (store.Page{Limit: store.MaxPageSize}); ; {
				page, next, err := a.EAB.List(ctx, cliActor(), account, p)
				if err != nil {
					return err
				}
				keys = append(keys, page...)
				if next == "" {
					break
				}
				p.Cursor = next
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"eabKeys": keys})
			}
			for _, k := range keys {
				line := k.ID + "  " + string(k.Status) + "  created " + k.CreatedAt.Format(time.RFC3339) + " by " + k.CreatedBy + "  expires " + k.ExpiresAt.Format(time.RFC3339)
				if k.BoundACMEAccountID != "" {
					line += "  bound to " + k.BoundACMEAccountID
				}
				g.say("%s", line)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&account, "account", "", "the vetca account")
	return c
}

func newEABRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KID [--json]",
		Short: "Revoke an EAB key; it can no longer bind an ACME account",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("eab revoke takes exactly one KID")
			}
			return nil
		},
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			k, err := a.EAB.Revoke(ctx, cliActor(), "", args[0])
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(k)
			}
			g.say("EAB key %s of account %s revoked", k.ID, k.AccountID)
			return nil
		}),
	}
}
