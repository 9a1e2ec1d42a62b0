package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// MigrationResult says what Migrate did.
type MigrationResult struct {
	From, To int64
	Applied  int
}

// Migrate brings the schema to the newest version with the embedded goose
// migrations of the database's dialect. It is idempotent. A database whose
// schema is newer than this binary's migrations is refused (CheckVersion).
func (db *DB) Migrate(ctx context.Context) (MigrationResult, error) {
	p, err := db.migrations()
	if err != nil {
		return MigrationResult{}, err
	}
	from, err := p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("read schema version: %w", err)
	}
	if err := db.newerThan(p, from); err != nil {
		return MigrationResult{}, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrate %s: %w", db.dialect, err)
	}
	to, err := p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("read schema version: %w", err)
	}
	return MigrationResult{From: from, To: to, Applied: len(res)}, nil
}

// CheckVersion refuses a database migrated by a newer vetca: this binary
// does not know its schema, so it could neither write nor verify it
// correctly (an older binary run after an upgrade).
func (db *DB) CheckVersion(ctx context.Context) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	return db.newerThan(p, v)
}

func (db *DB) newerThan(p *goose.Provider, v int64) error {
	var newest int64
	for _, s := range p.ListSources() {
		newest = max(newest, s.Version)
	}
	if v > newest {
		return fmt.Errorf("database %s has schema version %d, newer than this vetca's %d: it was migrated by a newer vetca; run that version", db.DSN(), v, newest)
	}
	return nil
}

func (db *DB) migrations() (*goose.Provider, error) {
	var dir string
	var dialect goose.Dialect
	switch db.dialect {
	case SQLite:
		dir, dialect = "migrations/sqlite", goose.DialectSQLite3
	case Postgres:
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, db.sql, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
