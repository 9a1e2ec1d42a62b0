-- +goose Up
-- Every audit event is signed with the installation's audit key, which is
-- kept outside the database (docs/design.md, "The audit trail"). key_id
-- names the key (hex SHA-256 of its SubjectPublicKeyInfo) and sig is the
-- base64 signature over the event's digest. Events written before this
-- migration have neither and are reported by `vetca audit verify`.
ALTER TABLE audit_events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN sig TEXT NOT NULL DEFAULT '';

-- Integrity-checked reads look up each row's latest row event (not notes).
CREATE INDEX audit_events_vouch ON audit_events (entity_type, entity_id, seq) WHERE op <> 'note';

-- Signed checkpoints of the chain head. A row needs no audit event: its
-- signature under the audit key authenticates it. Copies also go to a
-- directory outside the database.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    at        TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP INDEX audit_events_vouch;
ALTER TABLE audit_events DROP COLUMN sig;
ALTER TABLE audit_events DROP COLUMN key_id;
