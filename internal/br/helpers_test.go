package br

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// utc parses an RFC 3339 instant or fails the test.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v.UTC()
}

// wantAppErr checks that err is an *apperr.Error of the given kind, field and
// code.
func wantAppErr(t *testing.T, err error, kind apperr.Kind, field string, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error on %q, got nil", code, field)
	}
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("want *apperr.Error, got %T: %v", err, err)
	}
	if e.Kind != kind || e.Field != field || e.Code != code {
		t.Fatalf("got kind=%d field=%q code=%q (%v); want kind=%d field=%q code=%q",
			e.Kind, e.Field, e.Code, err, kind, field, code)
	}
}
