package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/store"
)

// serve --dev pointed at a real installation is refused before anything
// is recorded: the guard ran after RecordSettings(reconfigure), which had
// already replaced the installation's settings (its public URL) with the
// dev ones.
func TestDevGuardRefusesBeforeAnythingIsRecorded(t *testing.T) {
	dir := t.TempDir()
	common := []string{"--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys"), "--checkpoint-dir", filepath.Join(dir, "cp")}
	if code, _, stderr := runCLI(t, append([]string{"init", "--public-url", "https://ca.example.com", "--ca-organization", "Real CA Inc"}, common...)...); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	// a real installation: one organization (raw row; Counts only counts)
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO organizations (id, created_at, created_by, current_version, row_hash) VALUES ('org_x','2026-01-01T00:00:00Z','x',0,'x')`); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		var v string
		if err := db.SQL().QueryRowContext(ctx, `SELECT value FROM settings WHERE id = 'public_url'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := read()
	code, _, stderr := runCLI(t, append([]string{"serve", "--dev", "--listen", "127.0.0.1:18971"}, common...)...)
	if code == exitOK || !strings.Contains(stderr, "not a demo installation") {
		t.Fatalf("serve --dev: exit %d: %s", code, stderr)
	}
	if after := read(); after != before {
		t.Fatalf("refused serve --dev still rewrote the installation's public URL: %q -> %q", before, after)
	}
}
