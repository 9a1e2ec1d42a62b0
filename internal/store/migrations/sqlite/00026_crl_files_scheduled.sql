-- +goose Up
-- The thisUpdate of each CRL URL's latest regularly scheduled CRL. An
-- expired certificate's entry stays until it has appeared on a regularly
-- scheduled CRL beyond the certificate's validity period (BR §7.2.2); a
-- CRL published early because of a revocation does not count. Empty until
-- the URL's next scheduled CRL: until then every entry is listed. Not
-- audited: the publisher never takes it later than the audited thisUpdate
-- of the URL's current CRL (crl_shards).
ALTER TABLE crl_files ADD COLUMN scheduled TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE crl_files DROP COLUMN scheduled;
