package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/store"
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

// Replicas of a new release that start together on one PostgreSQL
// database (README.md, "Run in production") each migrate it: every one
// starts, rather than all but one failing on a table, column or goose
// version row another one made in the meantime. (A race: several rounds,
// each on a fresh schema.)
func TestConcurrentMigrationsAllSucceed(t *testing.T) {
	for round := 0; round < 3; round++ {
		migrateTogether(t, storetest.PostgresDSN(t), 6)
	}
}

// migrateTogether migrates dsn from n connection pools at once.
func migrateTogether(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	errs := make(chan error, n)
	for _, db := range dbs {
		go func() {
			_, err := db.Migrate(ctx)
			errs <- err
		}()
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Errorf("a replica's migration failed: %v", err)
		}
	}
	if err := dbs[0].CheckVersion(ctx); err != nil {
		t.Fatal(err)
	}
}
