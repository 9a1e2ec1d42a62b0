package audittest

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// NewRecorder returns a recorder for a migrated test database that writes
// with a fresh in-memory audit key.
func NewRecorder(t testing.TB, db *store.DB, clk clock.Clock) *audit.Recorder {
	t.Helper()
	schema, err := store.LoadSchema(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.NewRecorder(schema, clk, nil, key)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
