-- +goose Up
-- audit_events_vouch repeated the columns of audit_events_entity, so every
-- event paid for a second index insert; integrity-checked reads find a
-- row's latest event through audit_events_entity, skipping notes. (On
-- PostgreSQL the chain head row stays: it is the sealed head the Sealer
-- keeps, docs/architecture.md, "The audit trail".)
DROP INDEX audit_events_vouch;

-- +goose Down
CREATE INDEX audit_events_vouch ON audit_events (entity_type, entity_id, seq) WHERE op <> 'note';
