-- +goose Up
-- PostgreSQL numbers audit events from a sequence and seals the chain
-- afterwards; SQLite has one writer, which chains each event as it is
-- written (docs/architecture.md, "The audit trail"). Nothing to change.
SELECT 1;

-- +goose Down
SELECT 1;
