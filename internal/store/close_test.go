package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vetca/vetca/internal/store"
)

// Close waits for the statements a transaction started preparing in the
// background. One still running after Close could open a new connection,
// which on SQLite creates the database's files again: a test's temporary
// directory then failed its cleanup with "directory not empty".
func TestCloseWaitsForBackgroundPreparation(t *testing.T) {
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		dir := t.TempDir()
		db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "vetca.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// The transaction holds the only connection, so the statement it
		// runs uncached is prepared in the background once it ends.
		db.SQL().SetMaxOpenConns(1)
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE settings SET value = value WHERE id = ?`, "close-test-"+string(rune('a'+i)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if n := db.Preparing(); n != 0 {
			t.Fatalf("run %d: %d statements still being prepared after Close", i, n)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}
