-- +goose Up
-- The refresher also re-signs, each pass, the stored responses of serials
-- revoked lately that a crash left unre-signed after the revocation's
-- commit: it finds them from the revocations recorded since a day ago.
CREATE INDEX IF NOT EXISTS revocations_by_recorded ON revocations (recorded_at);

-- +goose Down
DROP INDEX IF EXISTS revocations_by_recorded;
