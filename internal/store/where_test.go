package store

import (
	"reflect"
	"testing"
)

func TestWhere(t *testing.T) {
	var w Where
	if w.Clause() != "" || len(w.Args()) != 0 {
		t.Fatalf("empty Where gave %q %v", w.Clause(), w.Args())
	}
	w.Add("a = ?", 1)
	w.Add("b < ?", "x")
	if got := w.Clause(); got != " WHERE a = ? AND b < ?" {
		t.Errorf("Clause = %q", got)
	}
	if got := w.Args(); !reflect.DeepEqual(got, []any{1, "x"}) {
		t.Errorf("Args = %v", got)
	}
}
