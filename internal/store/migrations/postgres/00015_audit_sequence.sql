-- +goose Up
-- Audit events take their sequence numbers from a sequence instead of the
-- chain head row, so that concurrent transactions do not queue behind one
-- row lock held through commit; the sealer chains them afterwards
-- (docs/architecture.md, "The audit trail").
CREATE SEQUENCE audit_seq MINVALUE 1;
SELECT setval('audit_seq', GREATEST((SELECT MAX(seq) FROM audit_events), 1), (SELECT MAX(seq) FROM audit_events) IS NOT NULL);

-- +goose Down
DROP SEQUENCE audit_seq;
