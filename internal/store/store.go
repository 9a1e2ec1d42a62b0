// Package store is vetca's persistence layer: one DB type over SQLite
// (modernc.org/sqlite, WAL, the embedded default) and PostgreSQL (pgx/v5, the
// scale-out backend), with embedded goose migrations for each dialect.
//
// Domain code writes portable SQL with "?" placeholders; the store rebinds
// them for PostgreSQL. All columns use portable types (TEXT, BIGINT, BLOB/
// BYTEA), and times are stored as fixed-width UTC RFC 3339 text, so a row
// reads back byte-identical on both backends and its content hash (package
// audit) does not depend on the backend.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vetca/vetca/internal/apperr"
)

// Dialect is the SQL dialect of a backend.
type Dialect int

// The supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// DefaultDSN is the database used when neither --db nor VETCA_DB is given (README.md, Commands).
const DefaultDSN = "sqlite:vetca.db"

// DB is an open database of either dialect.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	dsn     string
	stmts   stmtCache

	auditedMu sync.Mutex
	audited   map[string]bool // loaded on first use, after migrations

	// SQLite group commit (groupcommit.go): writer is the semaphore of
	// this process's write transactions (a channel, so that a wait honours
	// ctx), waiting counts the callers queued on it, and group is the open
	// transaction that the next caller joins (guarded by writer).
	writer     chan struct{}
	waiting    atomic.Int32
	group      *txGroup
	commits    atomic.Int64 // durable commits made (see Commits)
	statements atomic.Int64 // statements run (see Statements)
}

// auditedTables returns the names of the audited tables.
func (db *DB) auditedTables(ctx context.Context) (map[string]bool, error) {
	db.auditedMu.Lock()
	defer db.auditedMu.Unlock()
	if db.audited != nil {
		return db.audited, nil
	}
	s, err := LoadSchema(ctx, db)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, name := range s.Tables() {
		if t, _ := s.Table(name); t.Audited() {
			m[name] = true
		}
	}
	db.audited = m
	return m, nil
}

// stmtCache keeps prepared statements by query text. database/sql keeps
// each statement prepared per connection and re-prepares it on a new one,
// and transactions use it through Tx.StmtContext, so the SQL is parsed
// once per connection instead of once per execution (re-parsing was the
// largest single cost of issuance on SQLite).
type stmtCache struct {
	mu        sync.Mutex
	m         map[string]*sql.Stmt
	preparing map[string]bool
	closed    bool
	// background counts the preparations Tx.stmt started in the
	// background; Close waits for them. One still running when the pool
	// closed could be opening a new connection, which on SQLite creates
	// the database's files again after whoever closed it removed them.
	background sync.WaitGroup
}

// maxCachedStmts bounds the cache; queries built with a variable shape
// beyond it are simply not cached.
const maxCachedStmts = 2000

func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmts.mu.Lock()
	st, ok := db.stmts.m[query]
	full := len(db.stmts.m) >= maxCachedStmts
	db.stmts.mu.Unlock()
	if ok {
		return st, nil
	}
	if full {
		return nil, nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	if db.stmts.closed {
		st.Close()
		return nil, nil
	}
	if db.stmts.m == nil {
		db.stmts.m = map[string]*sql.Stmt{}
	}
	if prev, ok := db.stmts.m[query]; ok {
		st.Close()
		return prev, nil
	}
	db.stmts.m[query] = st
	return st, nil
}

// Open opens a database from a DSN: "sqlite:PATH" or a PostgreSQL URL
// ("postgres://…" or "postgresql://…"). It does not migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	if strings.HasPrefix(dsn, "sqlite:") {
		return openSQLite(ctx, dsn)
	}
	return openPostgres(ctx, dsn)
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database: a
// "postgres://…" or "postgresql://…" URL.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// CheckDSN refuses what Open could not open whatever the database: a DSN
// of another scheme, or an SQLite one without a path.
func CheckDSN(dsn string) error {
	switch {
	case dsn == "sqlite:":
		return fmt.Errorf("database DSN %q: empty path", dsn)
	case strings.HasPrefix(dsn, "sqlite:"), IsPostgresDSN(dsn):
		return nil
	default:
		return fmt.Errorf("database DSN %q: must be sqlite:PATH or a postgres:// URL", redact(dsn))
	}
}

// uriPath escapes what an SQLite URI filename reads as more than a path:
// '?' begins its query, '#' its fragment, '%' an escape. Unescaped, a
// directory named "ca#2" opened (and created) another file.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if dir := filepath.Dir(path); dir != "." {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("database DSN %q: directory %s: %w", dsn, dir, err)
		}
	}
	q := url.Values{}
	// WAL lets readers run beside the single writer. synchronous(FULL)
	// fsyncs every commit: a success answer means the data is on disk
	// (docs/design.md §10). _txlock=immediate takes the write lock at BEGIN
	// so two writers queue on busy_timeout instead of failing mid-transaction.
	// temp_store(MEMORY) keeps temporary files in memory, among them the
	// savepoint journal that each group-commit caller fills (the originals
	// of the pages it changes, for its own rollback; never needed after a
	// crash): in a file that was a pwrite per page, inside the write lock.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(30000)", "foreign_keys(1)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+uriPath.Replace(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	// Keep every connection: database/sql keeps 2 idle by default, and a
	// new SQLite connection reads the schema and re-prepares every cached
	// statement (once the largest cost under concurrent load).
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: db, dialect: SQLite, dsn: dsn, writer: make(chan struct{}, 1)}, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(dsn), err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16) // a new connection costs a TLS-less handshake and re-prepared statements
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(dsn), err)
	}
	return &DB{sql: db, dialect: Postgres, dsn: dsn}, nil
}

// redact hides a password in a URL DSN. A DSN url.Parse refuses (a bad
// percent-escape, say) may hold a password nobody can find in it, so
// only its scheme is shown.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		scheme, _, _ := strings.Cut(dsn, ":")
		if len(scheme) > 20 || strings.ContainsAny(scheme, "/@ ") {
			scheme = "?"
		}
		return scheme + ":(unparseable DSN hidden)"
	}
	hidden := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			hidden = true
		}
	}
	// pgx also takes the password (and sslpassword, of the client key)
	// from the query.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// u.Query would drop the pair it cannot read, password or not.
		u.RawQuery = ""
		return u.String() + "?(unparseable query hidden)"
	}
	inQuery := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			inQuery = true
		}
	}
	if inQuery {
		u.RawQuery = q.Encode()
	}
	if !hidden && !inQuery {
		return dsn
	}
	return u.String()
}

// Close closes the database.
func (db *DB) Close() error {
	db.stmts.mu.Lock()
	db.stmts.closed = true
	db.stmts.mu.Unlock()
	// No preparation starts once closed is set; wait for those running.
	db.stmts.background.Wait()
	db.stmts.mu.Lock()
	for _, st := range db.stmts.m {
		st.Close()
	}
	db.stmts.m = nil
	db.stmts.mu.Unlock()
	return db.sql.Close()
}

// Dialect reports the backend's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// DSN returns the DSN the database was opened with, password redacted.
func (db *DB) DSN() string { return redact(db.dsn) }

// SQL exposes the underlying *sql.DB for migrations and benchmarks.
func (db *DB) SQL() *sql.DB { return db.sql }

// Querier is what both DB and Tx offer: portable queries with "?" placeholders.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// Exec runs a statement outside a transaction. On SQLite it joins the
// group commit (groupcommit.go) like any other write, rather than poll for
// the write lock beside it.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.writer != nil {
		var res sql.Result
		err := db.InTx(ctx, func(tx *Tx) error {
			var err error
			res, err = tx.Exec(ctx, query, args...)
			return err
		})
		return res, err
	}
	q := db.dialect.Rebind(query)
	db.statements.Add(1)
	if st, err := db.stmt(ctx, q); err != nil {
		return nil, err
	} else if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.sql.ExecContext(ctx, q, args...)
}

// Query runs a query outside a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := db.dialect.Rebind(query)
	db.statements.Add(1)
	if st, err := db.stmt(ctx, q); err != nil {
		return nil, err
	} else if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.sql.QueryContext(ctx, q, args...)
}

// QueryRow runs a single-row query outside a transaction.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := db.dialect.Rebind(query)
	db.statements.Add(1)
	if st, err := db.stmt(ctx, q); err == nil && st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.sql.QueryRowContext(ctx, q, args...)
}

// Tx is a transaction.
type Tx struct {
	tx      *sql.Tx
	db      *DB
	dialect Dialect
	// shared: the transaction holds other callers' writes too (SQLite
	// group commit), so no caller's cancellation may interrupt a statement
	// (SQLite would roll the whole transaction back).
	shared bool
	// memo: what this transaction learnt about its own reads and writes,
	// kept by the package that owns each key (see Remember).
	memo map[any]any
}

// Remember keeps value under key for the rest of this transaction, for the
// package that owns key's type: what a transaction learnt about rows it
// holds (read under its lock, or written itself) need not be read again
// inside it. The memo dies with the Tx: a caller whose writes are rolled
// back (to its savepoint, in a SQLite group) loses its Tx, and its memo
// with it.
func (tx *Tx) Remember(key, value any) {
	if tx.memo == nil {
		tx.memo = map[any]any{}
	}
	tx.memo[key] = value
}

// Recall returns what Remember kept under key in this transaction.
func (tx *Tx) Recall(key any) (any, bool) {
	v, ok := tx.memo[key]
	return v, ok
}

// Forget drops what Remember kept under key.
func (tx *Tx) Forget(key any) { delete(tx.memo, key) }

// HoldsWhatItReads reports whether every row this transaction reads stays
// as read until it ends, so that a read needs no lock of its own: true for
// SQLite write transactions, which hold the database's one write lock from
// BEGIN (no other connection or process can commit meanwhile). Every
// SQLite write transaction is a group commit's shared one (inGroup).
func (tx *Tx) HoldsWhatItReads() bool { return tx.shared && tx.dialect == SQLite }

// ctx returns the context statements run under.
func (tx *Tx) ctx(ctx context.Context) context.Context {
	if tx.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the cached statement bound to the transaction, or nil. A
// transaction never prepares through the pool itself: that needs a second
// connection, and under load every pooled connection can be held by a
// transaction waiting for the SQLite write lock this one holds. An
// uncached query runs directly this time and is prepared in the background
// for the next.
func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	c := &tx.db.stmts
	c.mu.Lock()
	st, ok := c.m[q]
	if !ok && !c.closed && !c.preparing[q] && len(c.m) < maxCachedStmts {
		if c.preparing == nil {
			c.preparing = map[string]bool{}
		}
		c.preparing[q] = true
		c.background.Add(1)
		go func() {
			defer c.background.Done()
			// Bounded, so that Close, which waits for it, cannot hang on
			// a pool that never frees a connection.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = tx.db.stmt(ctx, q)
			c.mu.Lock()
			delete(c.preparing, q)
			c.mu.Unlock()
		}()
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return tx.tx.StmtContext(ctx, st)
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.ctx(ctx)
	q := tx.dialect.Rebind(query)
	tx.db.statements.Add(1)
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.ctx(ctx)
	q := tx.dialect.Rebind(query)
	tx.db.statements.Add(1)
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

// QueryRow runs a single-row query in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = tx.ctx(ctx)
	q := tx.dialect.Rebind(query)
	tx.db.statements.Add(1)
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// Dialect reports the transaction's dialect.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// ForUpdate returns " FOR UPDATE" on PostgreSQL and "" on SQLite, whose
// write transactions already hold the database lock.
func (tx *Tx) ForUpdate() string {
	if tx.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// InTx runs fn in a transaction and commits it if fn returns nil. A
// transaction that fails on a serialization conflict or deadlock
// (PostgreSQL) or on a busy database (SQLite) is retried a few times; fn must
// therefore have no side effects outside the transaction.
//
// On PostgreSQL a transaction that fails on a unique violation fn did not
// handle also runs once more. It lost a race: it checked that a row was
// not there (a user's name, a link, the next version number, a setting)
// while another transaction inserted it, and PostgreSQL raises the
// violation only once that one has committed. Run again, fn reads the
// winner's row and answers as it would have in turn (a 409 naming the
// field, or nothing to do) instead of failing with a server error. A
// violation fn turns into its own error is not retried.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	const attempts = 5
	var err error
	ranAgain := false
	for i := 0; i < attempts; i++ {
		err = db.inTxOnce(ctx, fn)
		if err != nil && !ranAgain && db.dialect == Postgres && IsUniqueViolation(err) {
			ranAgain = true
			err = db.inTxOnce(ctx, fn)
		}
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10*(i+1)) * time.Millisecond):
		}
	}
	return err
}

// commitTimeout bounds a commit that no longer follows its caller's
// context (inTxOnce): far above any commit's time, it only ends one whose
// connection was lost.
const commitTimeout = time.Minute

func (db *DB) inTxOnce(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.writer != nil {
		return db.inGroup(ctx, fn)
	}
	// The transaction ends with the caller's context until fn has
	// returned; from then on its commit runs to its end. A commit cut off
	// mid-way (a client giving up on its request) may still take effect on
	// the server while the caller is told it failed, and skips what the
	// caller does once committed (re-signing a revocation's OCSP answers).
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	detach := context.AfterFunc(ctx, cancel)
	stx, err := db.sql.BeginTx(tctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{tx: stx, db: db, dialect: db.dialect}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if !detach() { // the caller's context ended first: the transaction is rolled back
		return fmt.Errorf("commit: %w", ctx.Err())
	}
	// Detached, the commit keeps a bound of its own: a connection lost
	// mid-commit must not hold the caller and its pooled connection until
	// TCP gives up.
	hung := time.AfterFunc(commitTimeout, cancel)
	defer hung.Stop()
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.commits.Add(1)
	return nil
}

// ReadTx runs fn in a read-only transaction, so that every statement of
// fn reads one snapshot: REPEATABLE READ on PostgreSQL; on SQLite a
// deferred transaction, whose first read fixes the snapshot and which takes
// no write lock (writers go on beside it). The transaction is rolled back
// at the end, so nothing fn writes is kept: it is for reads.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	stx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	return fn(&Tx{tx: stx, db: db, dialect: db.dialect})
}

// PreferIndexOrder asks the planner, for the rest of the transaction, to
// return rows in an ORDER BY that an index provides by reading that index
// rather than by sorting. Keyset pagination over a table that just grew
// (a bulk revocation: its statistics still describe the small table) would
// otherwise be planned as "read every matching row, then sort", once per
// page. On PostgreSQL it is SET LOCAL enable_sort = off; SQLite already
// prefers an index that gives the order.
func (tx *Tx) PreferIndexOrder(ctx context.Context) error {
	if tx.dialect != Postgres {
		return nil
	}
	if _, err := tx.tx.ExecContext(ctx, `SET LOCAL enable_sort = off`); err != nil {
		return fmt.Errorf("prefer index order: %w", err)
	}
	return nil
}

// LockName holds, until the transaction ends, a lock on name that every
// transaction of the database takes in turn, on any replica: on PostgreSQL
// a transaction-scoped advisory lock on the name's hash; SQLite's write
// transaction already excludes every other. Two transactions that must
// see each other's writes about one thing (a key, a certificate being
// replaced) take the same name.
func (tx *Tx) LockName(ctx context.Context, name string) error {
	if tx.dialect != Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, name); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// Commits is how many write transactions this DB has committed (on
// SQLite, group commits: several callers' transactions may share one).
// Each is a durable write (an fsync); tests count them per operation.
func (db *DB) Commits() int64 { return db.commits.Load() }

// Statements reports how many statements callers have run through db
// (Exec, Query and QueryRow, in and outside transactions; not BEGIN,
// COMMIT or savepoints), for tests and benchmarks that count round trips.
func (db *DB) Statements() int64 { return db.statements.Load() }

// ErrConcurrentUpdate is returned by a write to a row that the transaction
// had read without locking it and that another transaction changed since
// (package audit detects it as it locks the row to write it): the write
// would be decided from what the row was, and undo the other's change. InTx
// runs such a transaction again, from a fresh read; a caller gets this 409
// only if every attempt lost the same way.
var ErrConcurrentUpdate = apperr.Conflict(apperr.CodeConcurrentUpdate, apperr.NoField, "another request changed the same record at the same moment; send the request again")

func retryable(err error) bool {
	if errors.Is(err, errGroupAborted) || errors.Is(err, ErrConcurrentUpdate) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsNoSuchColumn reports whether err is PostgreSQL's error for a column
// the relation does not have (a system column such as xmin, read from a
// view put in a table's place).
func IsNoSuchColumn(err error, column string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42703" && strings.Contains(pgErr.Message, column)
}

// Rebind turns "?" placeholders into the dialect's form. Question marks
// inside single-quoted literals are left alone.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TimeFormat is how every time is stored: fixed-width UTC, whole seconds,
// so text order is time order on both backends.
const TimeFormat = "2006-01-02T15:04:05Z"

// TimeStorable reports whether t's year, in UTC, is one TimeFormat holds
// (0000-9999): another would be written as text that never parses back.
func TimeStorable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// ClampTime brings t, in UTC, into the years TimeFormat holds: a bound
// compared with stored times as text selects, clamped, what it would have
// ("10000-…" sorts before "2026-…"), since every stored time lies within
// them.
func ClampTime(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case t.Year() > 9999:
		return time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	case t.Year() < 0:
		return time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// FormatTime renders t in TimeFormat (UTC, truncated to the second).
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(TimeFormat) }

// ParseTime parses a stored time.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	// time.Parse accepts a fractional second the layout does not name
	// ("…:05.9Z", "…:05,9Z"): only vetca's own form is a stored time.
	if FormatTime(t) != s {
		return time.Time{}, fmt.Errorf("stored time %q is not in the form %s", s, TimeFormat)
	}
	return t, nil
}
