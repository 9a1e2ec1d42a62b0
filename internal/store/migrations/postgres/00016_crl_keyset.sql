-- +goose Up
-- A shard's CRL is built from its revocations read in serial order, a batch
-- at a time (keyset pagination: WHERE crl_url = ? AND serial > ? [AND
-- not_after >= ?] ORDER BY serial LIMIT n), so that a shard of any size is
-- streamed, never held. The index covers every column the build reads, so
-- the read is one ordered pass over the index, not a table lookup per
-- entry in serial (random) order.
CREATE INDEX revocations_crl_serial ON revocations (crl_url, serial, not_after, revoked_at, reason_code);

-- +goose Down
DROP INDEX revocations_crl_serial;
