package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/signer"
)

// strictUsage makes every wrong way of calling c or one of its subcommands
// a usage error (exit 2), whichever command it is, instead of cobra's
// defaults (a plain error, exit 1, for a wrong argument count or an unknown
// command; help and exit 0 for an unknown or missing subcommand of a
// group):
//
//   - an error of a command's Args check (cobra.ExactArgs, cobra.NoArgs, ...)
//     is a usage error;
//   - a group (a command with subcommands and nothing of its own to run)
//     refuses an unknown subcommand, and a missing one;
//   - an invalid-input error of a service that names, as its field, a flag
//     of the command (--email's "email") is a usage error naming the flag.
//
// The help command is newHelpCmd's, which refuses an unknown topic. run
// adds "(see vetca PATH --help)" to a usage error that does not already
// say where the help is.
func strictUsage(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictUsage(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = unknownSubcommand
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return usageErr("%q needs a command: %s", cmd.CommandPath(), subcommandNames(cmd))
		}
		return
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			return argsUsage(cmd, check(cmd, args))
		}
	}
	if runE := c.RunE; runE != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return flagUsage(cmd, runE(cmd, args))
		}
	}
}

// unknownSubcommand is the Args check of a group: every argument that
// reaches the group itself is a subcommand it does not have.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return usageErr("%s", msg)
}

// subcommandNames lists cmd's available subcommands for people.
func subcommandNames(cmd *cobra.Command) string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return orList(names)
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// argsUsage makes an error of an Args check a usage error.
func argsUsage(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return usageErr("%v (see %s --help)", err, cmd.CommandPath())
}

// flagUsage makes an invalid-input error whose field is one of cmd's flags
// a usage error that names the flag.
func flagUsage(cmd *cobra.Command, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || e.Field == "" {
		return err
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	f := cmd.Flags().Lookup(e.Field)
	if f == nil {
		return err
	}
	return usageErr("--%s (%s): %s (see %s --help)", f.Name, e.Code, e.Message, cmd.CommandPath())
}

// newHelpCmd is `vetca help [COMMAND...]`: cobra's, except that an unknown
// topic is a usage error rather than the root's help and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "help prints the help of a command: vetca help [path to command], e.g. vetca help incident revoke.",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErr("unknown help topic %q (see %s --help)", strings.Join(args, " "), c.Root().CommandPath())
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// checkIssuerKeyURI refuses, as a usage error before anything is opened or
// written, an --issuer-key that is not a well-formed pkcs11: URI. The URI
// is shown without any PIN it holds.
func checkIssuerKeyURI(uri string) error {
	if uri == "" {
		return nil
	}
	if !strings.HasPrefix(uri, "pkcs11:") {
		return usageErr("--issuer-key %s: want an RFC 7512 pkcs11: URI (without --issuer-key, the issuing key is a new file in --key-dir)", signer.Redact(uri))
	}
	if _, err := signer.ParsePKCS11URI(uri); err != nil {
		return usageErr("--issuer-key %s: %v", signer.Redact(uri), err)
	}
	return nil
}
