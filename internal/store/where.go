package store

import "strings"

// Where collects the conditions of a query's WHERE clause, each with its
// argument, for list queries whose filters are optional. Conditions use
// "?" placeholders and are joined with AND.
type Where struct {
	conds []string
	args  []any
}

// Add appends a condition and its argument.
func (w *Where) Add(cond string, arg any) {
	w.conds, w.args = append(w.conds, cond), append(w.args, arg)
}

// AddN appends a condition with any number of arguments.
func (w *Where) AddN(cond string, args ...any) {
	w.conds, w.args = append(w.conds, cond), append(w.args, args...)
}

// Conditions returns the conditions joined with AND ("" when there are none).
func (w *Where) Conditions() string { return strings.Join(w.conds, " AND ") }

// Clause returns " WHERE …", or "" when there are no conditions.
func (w *Where) Clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + w.Conditions()
}

// Args returns the conditions' arguments, in order.
func (w *Where) Args() []any { return append([]any(nil), w.args...) }
