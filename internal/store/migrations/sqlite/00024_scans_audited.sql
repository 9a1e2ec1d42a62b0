-- +goose Up
-- Scan runs and findings become audited tables. As working state they were
-- open to an insider with database access: a deleted finding kept a
-- certificate out of an incident opened by query.lint (and so out of its
-- bulk revocation), and a planted running run with a done list made the
-- next scan skip chosen certificates. Now each write is an authenticated
-- event and each read is checked against it, as for every other table.
-- The rows stored so far have no event to vouch for them, so they are
-- removed: they are re-derived by the next scan.
DELETE FROM scan_findings;
DELETE FROM scan_runs;
ALTER TABLE scan_runs ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE scan_findings ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE scan_findings DROP COLUMN row_hash;
ALTER TABLE scan_runs DROP COLUMN row_hash;
