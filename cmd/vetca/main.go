// Command vetca is the one binary of the vetca CA platform: `vetca serve`
// runs every network face; the other subcommands operate on the same data
// (init, user, audit, ...). See README.md and `vetca help`.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/vetca/vetca/internal/apperr"
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
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee != errFindings {
			fmt.Fprintln(os.Stderr, "vetca:", describe(ee.err))
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "vetca:", describe(err))
	return exitFailure
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
