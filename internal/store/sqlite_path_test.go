package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vetca/vetca/internal/store"
)

// An SQLite path is a path, whatever characters it holds: the driver's
// DSN is a URI, in which '?' begins the query and '#' the fragment, and
// '%' an escape, so a directory named "ca#2" or "a?b" opened another file
// (or failed). Each must open exactly the file named.
func TestSQLitePathWithURICharacters(t *testing.T) {
	for _, name := range []string{"ca#2", "a?b", "50%25", "sp ace"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "vetca.db")
		db, err := store.Open(context.Background(), "sqlite:"+path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("%s: migrate: %v", name, err)
		}
		db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the database is not at %s: %v", name, path, err)
		}
	}
}
