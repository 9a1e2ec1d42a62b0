-- +goose Up
-- Orders, their approvals bound to a snapshot hash, issuance intents
-- recorded before any signature, and the certificate inventory.

CREATE TABLE orders (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    organization_version BIGINT NOT NULL,
    requested_by         TEXT NOT NULL,
    status               TEXT NOT NULL,
    dns_names            TEXT NOT NULL,
    csr_pem              TEXT NOT NULL,
    spki_sha256          TEXT NOT NULL,
    validity_days        BIGINT NOT NULL,
    issuer_id            TEXT NOT NULL,
    snapshot             TEXT NOT NULL,
    snapshot_hash        TEXT NOT NULL,
    serial               TEXT NOT NULL,
    failure              TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    row_hash             TEXT NOT NULL
);
CREATE INDEX orders_account ON orders (account_id, created_at);
CREATE INDEX orders_status ON orders (status);

CREATE TABLE order_approvals (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    snapshot_hash TEXT NOT NULL,
    at            TEXT NOT NULL,
    voided_at     TEXT,
    void_reason   TEXT NOT NULL,
    row_hash      TEXT NOT NULL
);
CREATE INDEX order_approvals_order ON order_approvals (order_id);

CREATE TABLE issuance_intents (
    id          TEXT PRIMARY KEY,
    serial      TEXT NOT NULL UNIQUE,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    issuer_id   TEXT NOT NULL REFERENCES issuers (id),
    tbs_sha256  TEXT NOT NULL,
    lint_cert   TEXT NOT NULL,
    shard       BIGINT NOT NULL,
    crl_url     TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolution  TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);
CREATE INDEX issuance_intents_status ON issuance_intents (status);

CREATE TABLE certificates (
    id                   TEXT PRIMARY KEY,
    serial               TEXT NOT NULL UNIQUE,
    order_id             TEXT NOT NULL REFERENCES orders (id),
    account_id           TEXT NOT NULL,
    organization_id      TEXT NOT NULL,
    organization_version BIGINT NOT NULL,
    issuer_id            TEXT NOT NULL REFERENCES issuers (id),
    profile              TEXT NOT NULL,
    subject              TEXT NOT NULL,
    dns_names            TEXT NOT NULL,
    spki_sha256          TEXT NOT NULL,
    cert_sha256          TEXT NOT NULL,
    shard                BIGINT NOT NULL,
    crl_url              TEXT NOT NULL,
    not_before           TEXT NOT NULL,
    not_after            TEXT NOT NULL,
    pem                  TEXT NOT NULL,
    status               TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    row_hash             TEXT NOT NULL
);
CREATE INDEX certificates_org ON certificates (organization_id);
CREATE INDEX certificates_account ON certificates (account_id);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_spki ON certificates (spki_sha256);

CREATE TABLE blocked_keys (
    id          TEXT PRIMARY KEY,
    spki_sha256 TEXT NOT NULL UNIQUE,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);

-- +goose Down
DROP TABLE blocked_keys;
DROP TABLE certificates;
DROP TABLE issuance_intents;
DROP TABLE order_approvals;
DROP TABLE orders;
