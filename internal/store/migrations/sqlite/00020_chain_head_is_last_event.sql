-- +goose Up
-- Every audited write used to touch two B-trees beyond its own row and
-- event: the chain head row and a partial index that repeats the columns
-- of audit_events_entity. On SQLite each touched page is a WAL frame (two
-- writes) at commit, so both are gone (docs/architecture.md, "The audit
-- trail"):
--
-- * the chain head is the last event, which the writer reads inside its
--   write transaction (SQLite has one writer); the head row is emptied so
--   that nothing reads a stale one;
-- * integrity-checked reads find a row's latest event through
--   audit_events_entity, skipping notes.
DROP INDEX audit_events_vouch;
DELETE FROM audit_head;

-- +goose Down
CREATE INDEX audit_events_vouch ON audit_events (entity_type, entity_id, seq) WHERE op <> 'note';
INSERT INTO audit_head (id, seq, hash)
    SELECT 1, COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '') FROM audit_events;
