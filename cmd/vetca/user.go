package main

import (
	"context"
	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/store"
)

func newUserCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage staff users"}
	var roles []string
	var email string
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--role ROLE...]",
		Short: "Create a staff user and print its token (shown once)",
		Long:  "Roles: admin, verifier, compliance, auditor. A user may hold several.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("user add takes exactly one NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(roles) == 0 {
				return usageErr("--role is required (admin, verifier, compliance, auditor)")
			}
			var rs []actor.Role
			for _, r := range roles {
				role, err := actor.ParseRole(r)
				if err != nil {
					return usageErr("--role: %s", describe(err))
				}
				rs = append(rs, role)
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, app.Options{Write: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.RequireAuditKey(); err != nil {
				return err
			}
			u, token, err := a.Auth.AddUser(ctx, cliActor(), args[0], rs, email)
			if err := markHead(ctx, a, err); err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"name": u.Name, "token": token, "id": u.ID, "roles": u.Roles})
			}
			g.say("created user %s with roles %v\ntoken (store it now; it is not shown again):\n%s", u.Name, u.Roles, token)
			return nil
		},
	}
	add.Flags().StringArrayVar(&roles, "role", nil, "role to grant (repeatable)")
	add.Flags().StringVar(&email, "email", "", "the user's email address")

	rotate := &cobra.Command{
		Use:   "token NAME",
		Short: "Revoke a user's tokens and print a new one",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("user token takes exactly one NAME")
			}
			return nil
		},
		RunE: g.withWriter(func(ctx context.Context, a *app.App, args []string) error {
			token, err := a.Auth.RotateUserToken(ctx, cliActor(), args[0])
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"name": args[0], "token": token})
			}
			g.say("new token for %s (store it now; it is not shown again):\n%s", args[0], token)
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List staff users",
		Args:  cobra.NoArgs,
		RunE: g.withApp(func(ctx context.Context, a *app.App, args []string) error {
			var users []auth.User
			for p := (store.Page{Limit: store.MaxPageSize}); ; {
				page, next, err := a.Auth.ListUsers(ctx, cliActor(), p)
				if err != nil {
					return err
				}
				users = append(users, page...)
				if next == "" {
					break
				}
				p.Cursor = next
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"users": users})
			}
			for _, u := range users {
				state := ""
				if u.Disabled {
					state = " (disabled)"
				}
				g.say("%-20s %v%s", u.Name, u.Roles, state)
			}
			return nil
		}),
	}
	c.AddCommand(add, rotate, list)
	return c
}
