-- +goose Up
-- On PostgreSQL an event is signed before its transaction commits, so a
-- transaction that rolls back leaves a signed event behind in the server
-- (dead tuples, the write-ahead log, statement logs). The writing
-- transaction's id now goes into the signed event, and the sealer chains an
-- event only if the row holding it was written by that transaction: one
-- inserted afterwards, by anyone, carries another id. Events written before
-- have no id (empty), and SQLite's never need one: its events are chained
-- in the transaction that writes them.
ALTER TABLE audit_events ADD COLUMN xid TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN xid;
