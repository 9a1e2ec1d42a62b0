-- +goose Up
-- Revocations (BR §4.9, §7.2.2), published CRL shards (BR §4.9.7, §7.2)
-- and pre-signed OCSP responses (BR §4.9.9).

CREATE TABLE revocations (
    id           TEXT PRIMARY KEY,
    serial       TEXT NOT NULL UNIQUE,
    issuer_id    TEXT NOT NULL,
    shard        BIGINT NOT NULL,
    crl_url      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    reason_code  BIGINT NOT NULL,
    revoked_at   TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    source       TEXT NOT NULL,
    br_trigger   TEXT NOT NULL,
    evidence     TEXT NOT NULL,
    evidence_at  TEXT NOT NULL,
    deadline     TEXT,
    not_after    TEXT NOT NULL,
    row_hash     TEXT NOT NULL
);
CREATE INDEX revocations_url ON revocations (crl_url, not_after);
CREATE INDEX revocations_recorded ON revocations (crl_url, recorded_at);

-- One audited row per published CRL URL: what was published and its hash.
-- A certificate's CRL is named by the exact URL in its CRL distribution
-- point (BR §7.2.2.1), so shards are keyed by URL.
CREATE TABLE crl_shards (
    id           TEXT PRIMARY KEY,
    issuer_id    TEXT NOT NULL,
    shard        BIGINT NOT NULL,
    url          TEXT NOT NULL UNIQUE,
    number       BIGINT NOT NULL,
    this_update  TEXT NOT NULL,
    next_update  TEXT NOT NULL,
    entries      BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    published_at TEXT NOT NULL,
    row_hash     TEXT NOT NULL
);

-- The CRL bytes (signed, and vouched for by crl_shards.sha256).
CREATE TABLE crl_files (
    url         TEXT PRIMARY KEY,
    number      BIGINT NOT NULL,
    der         TEXT NOT NULL
);

-- Pre-signed OCSP responses, derived from certificates and revocations and
-- re-signed on the BR §4.9.9 schedule; batches are logged in the audit trail.
CREATE TABLE ocsp_responses (
    serial      TEXT NOT NULL,
    hash_alg    TEXT NOT NULL,
    issuer_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    der         TEXT NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    PRIMARY KEY (serial, hash_alg)
);
CREATE INDEX ocsp_responses_due ON ocsp_responses (next_update);

-- Instance settings that commands share, such as the public URL the
-- serving process puts into certificates.
CREATE TABLE settings (
    id         TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE ocsp_responses;
DROP TABLE crl_files;
DROP TABLE crl_shards;
DROP TABLE revocations;
