-- +goose Up
-- A shard's CRL is built from its revocations read in serial order, a batch
-- at a time (keyset pagination: WHERE crl_url = ? AND serial > ? ORDER BY
-- serial LIMIT n), so that a shard of any size is streamed, never held.
CREATE INDEX revocations_crl_serial ON revocations (crl_url, serial);

-- +goose Down
DROP INDEX revocations_crl_serial;
