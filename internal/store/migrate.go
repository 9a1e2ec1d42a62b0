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
// migrations of the database's dialect. It is idempotent.
func (db *DB) Migrate(ctx context.Context) (MigrationResult, error) {
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
		return MigrationResult{}, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, db.sql, sub)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: %w", err)
	}
	from, err := p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("read schema version: %w", err)
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
