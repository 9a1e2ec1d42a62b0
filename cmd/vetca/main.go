// Command vetca is the one binary of the vetca CA platform: `vetca serve`
// runs every network face; the other subcommands operate on the same data
// (init, user, audit, ...). See README.md and `vetca help`.
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
)

// Exit codes (README.md, Commands): 0 success, 1 failure or finding, 2 usage error.
const (
	exitOK      = 0
	exitFailure = 1 // a failure, or a finding
	exitUsage   = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// findings makes a command exit 1 without printing an extra error line;
// the command has already printed what it found.
var errFindings = &exitError{code: exitFailure, err: errors.New("findings")}

func main() {
	os.Exit(run(&globals{stdout: os.Stdout, stderr: os.Stderr, clock: clock.Real{}}, os.Args[1:]))
}

// run runs vetca with args, prints any error on g's stderr and returns the
// exit code.
func run(g *globals, args []string) int {
	root := newRootWith(g)
	if err := unknownBeforeHelp(root, args); err != nil {
		fmt.Fprintln(g.stderr, "vetca:", err)
		return exitUsage
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee != errFindings {
			msg := describe(ee.err)
			if ee.code == exitUsage && cmd != nil && !strings.Contains(msg, "--help") {
				msg += fmt.Sprintf(" (see %s --help)", cmd.CommandPath())
			}
			fmt.Fprintln(g.stderr, "vetca:", msg)
		}
		return ee.code
	}
	fmt.Fprintln(g.stderr, "vetca:", describe(err))
	return exitFailure
}

// unknownBeforeHelp refuses a mistyped subcommand followed by a help flag
// (`vetca crl publsh --help`), which cobra answers with the parent's help
// and exit 0, so that a script asking for a command's help learns that the
// command does not exist, as it does without the flag.
func unknownBeforeHelp(root *cobra.Command, args []string) error {
	c, rest, err := root.Find(args)
	if err != nil || !c.HasSubCommands() || len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		return nil
	}
	if !slices.ContainsFunc(rest, func(a string) bool { return a == "--help" || a == "-h" }) {
		return nil
	}
	return fmt.Errorf("unknown command %q for %q (see %s --help)", rest[0], c.CommandPath(), c.CommandPath())
}

func describe(err error) string {
	if e, ok := apperr.As(err); ok {
		if e.Field != "" {
			return fmt.Sprintf("%s (%s): %s", e.Field, e.Code, e.Message)
		}
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return err.Error()
}
