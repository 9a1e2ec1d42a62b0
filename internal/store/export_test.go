package store

// Queued is how many callers wait for the write semaphore (SQLite).
func (db *DB) Queued() int32 { return db.waiting.Load() }

// GroupCommits is how many group commits the database made (SQLite).
func (db *DB) GroupCommits() int64 { return db.Commits() }

// Preparing is how many statements are being prepared in the background.
func (db *DB) Preparing() int {
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	return len(db.stmts.preparing)
}
