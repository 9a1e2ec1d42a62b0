package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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
	p, v, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	return db.newerThan(p, v)
}

// schemaVersion returns the migrations of db's dialect and the version its
// schema is at.
func (db *DB) schemaVersion(ctx context.Context) (*goose.Provider, int64, error) {
	p, err := db.migrations()
	if err != nil {
		return nil, 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	return p, v, nil
}

// CheckUpToDate refuses a schema older than this vetca's: a command that
// does not migrate would otherwise fail on the first column added since,
// with an SQL error that names neither the cause nor the remedy.
func (db *DB) CheckUpToDate(ctx context.Context) error {
	p, v, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if newest := newestVersion(p); v < newest {
		return fmt.Errorf("database %s has schema version %d, older than this vetca's %d: migrate it first with this vetca's `vetca init` (or `vetca serve`), with the installation's key directory", db.DSN(), v, newest)
	}
	return nil
}

func newestVersion(p *goose.Provider) int64 {
	var newest int64
	for _, s := range p.ListSources() {
		newest = max(newest, s.Version)
	}
	return newest
}

func (db *DB) newerThan(p *goose.Provider, v int64) error {
	if newest := newestVersion(p); v > newest {
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
	var opts []goose.ProviderOption
	if db.dialect == Postgres {
		opts = append(opts, goose.WithSessionLocker(pgMigrationLock{}))
	}
	p, err := goose.NewProvider(dialect, db.sql, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// pgMigrationLock makes the processes that migrate one PostgreSQL schema
// at once (replicas of a new release starting together, an init beside a
// serve) take turns: each waits for the one before it and then finds its
// migrations applied, instead of failing on a table, a column or a goose
// version row the other made. The lock is the schema's own, so that
// installations (and scratch schemas) on one server do not wait on each
// other.
type pgMigrationLock struct{}

const pgMigrationLockKey = `hashtextextended('vetca.migrate.' || coalesce(current_schema(), ''), 0)`

func (pgMigrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+pgMigrationLockKey+`)`); err != nil {
		return fmt.Errorf("wait for other migrations of this schema: %w", err)
	}
	return nil
}

func (pgMigrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+pgMigrationLockKey+`)`); err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	return nil
}

var _ lock.SessionLocker = pgMigrationLock{}
