package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/store/storetest"
)

// A database migrated by a newer vetca is refused, by Migrate (init,
// serve) and CheckVersion (every other command), instead of being written
// and verified with a schema this binary does not know.
func TestNewerSchemaIsRefused(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := db.CheckVersion(ctx); err != nil {
		t.Fatalf("current schema refused: %v", err)
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckVersion(ctx); err == nil || !strings.Contains(err.Error(), "99999") {
		t.Fatalf("CheckVersion of a newer schema: %v", err)
	}
	if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Migrate of a newer schema: %v", err)
	}
}
