-- +goose Up
-- On PostgreSQL an event is signed before its transaction commits, so a
-- transaction that rolls back leaves a signed event behind in the server
-- (dead tuples, the write-ahead log, statement logs). The writing
-- transaction's id now goes into the signed event, and the sealer chains an
-- event only if the row holding it was written by that transaction (or the
-- transaction committed): one put back afterwards carries another id.
-- Events written before have no id (empty), and SQLite's never need one:
-- its events are chained in the transaction that writes them.
ALTER TABLE audit_events ADD COLUMN xid TEXT NOT NULL DEFAULT '';

-- Linking an event needs no key, so the chain head row is now signed with
-- the audit key whenever the sealer moves it: otherwise someone with write
-- access could link such an event themselves and move the head over it.
-- The head as this migration finds it has no signature; it stands on an
-- event without an id, the only unsigned head the sealer and verify
-- accept. Its hash column is renamed in the same transaction, so that a
-- sealer of the previous release still running during a rolling upgrade
-- stops, instead of chaining events with an id and moving the head
-- unsigned.
ALTER TABLE audit_head RENAME COLUMN hash TO head_hash;
ALTER TABLE audit_head ADD COLUMN sig TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_head DROP COLUMN sig;
ALTER TABLE audit_head RENAME COLUMN head_hash TO hash;
ALTER TABLE audit_events DROP COLUMN xid;
