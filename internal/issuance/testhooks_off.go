//go:build !vetcatesthooks

package issuance

import "github.com/vetca/vetca/internal/lint"

// TestHooks returns the interruption hooks and extra lints of the test
// build. The shipped binary (built without the vetcatesthooks tag) has
// none.
func TestHooks() (Hooks, []lint.Option) { return Hooks{}, nil }
