package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// serve (which migrates, but does not create the audit key) on a database
// that vetca init never made refuses before writing anything: no schema
// is created, and the message says to run init. (README: a command that
// writes refuses, writing nothing, without the audit key.)
func TestServeOnAFreshDatabaseWritesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "fresh.db")
	cfg := app.Config{DB: dsn, KeyDir: filepath.Join(dir, "keys"), PublicURL: "http://pki.vetca-test.com"}
	_, err := app.Open(ctx, cfg, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Migrate: true, Write: true, Serve: true})
	if err == nil || !strings.Contains(err.Error(), "vetca init") {
		t.Fatalf("open for serve on a fresh database: %v", err)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(schema.Tables()); n != 0 {
		t.Fatalf("serve refused but left %d tables", n)
	}
}
