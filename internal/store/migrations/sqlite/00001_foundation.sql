-- +goose Up
-- Every table with a row_hash column is audited: each write to it goes
-- through package audit, which stores the row's content hash and appends a
-- hash-chained event vouching for it in the same transaction.

CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    op           TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    content      TEXT,
    row_hash     TEXT NOT NULL,
    field_hashes TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    roles      TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    disabled   BIGINT NOT NULL,
    row_hash   TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    row_hash    TEXT NOT NULL
);

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    row_hash        TEXT NOT NULL
);

CREATE TABLE organization_versions (
    id                     TEXT PRIMARY KEY,
    organization_id        TEXT NOT NULL REFERENCES organizations (id),
    version                BIGINT NOT NULL,
    status                 TEXT NOT NULL,
    organization_name      TEXT NOT NULL,
    country_name           TEXT NOT NULL,
    state_or_province_name TEXT NOT NULL,
    locality_name          TEXT NOT NULL,
    street_address         TEXT NOT NULL,
    postal_code            TEXT NOT NULL,
    registration_number    TEXT NOT NULL,
    sanctions_review       TEXT NOT NULL,
    based_on               BIGINT NOT NULL,
    diff                   TEXT NOT NULL,
    proposed_by            TEXT NOT NULL,
    proposed_at            TEXT NOT NULL,
    verified_at            TEXT,
    closed_at              TEXT,
    row_hash               TEXT NOT NULL,
    UNIQUE (organization_id, version)
);

CREATE TABLE organization_verifications (
    id              TEXT PRIMARY KEY,
    version_id      TEXT NOT NULL REFERENCES organization_versions (id),
    verifier_id     TEXT NOT NULL,
    verifier_name   TEXT NOT NULL,
    verifier_roles  TEXT NOT NULL,
    at              TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    row_hash        TEXT NOT NULL,
    UNIQUE (version_id, verifier_id)
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);

CREATE TABLE account_organizations (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    created_at      TEXT NOT NULL,
    row_hash        TEXT NOT NULL,
    UNIQUE (account_id, organization_id)
);

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    recipient_role  TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    ref_type        TEXT NOT NULL,
    ref_id          TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL,
    sent_at         TEXT,
    row_hash        TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ref ON outbox (ref_type, ref_id);

CREATE TABLE change_requests (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    target_table TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    value        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    decided_at   TEXT,
    row_hash     TEXT NOT NULL
);

CREATE TABLE change_request_approvals (
    id                TEXT PRIMARY KEY,
    change_request_id TEXT NOT NULL REFERENCES change_requests (id),
    approver_id       TEXT NOT NULL,
    approver_name     TEXT NOT NULL,
    at                TEXT NOT NULL,
    row_hash          TEXT NOT NULL,
    UNIQUE (change_request_id, approver_id)
);

CREATE TABLE issuers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    parent_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    cert_pem    TEXT NOT NULL,
    key_uri     TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);

-- +goose Down
DROP TABLE issuers;
DROP TABLE change_request_approvals;
DROP TABLE change_requests;
DROP TABLE outbox;
DROP TABLE contacts;
DROP TABLE account_organizations;
DROP TABLE accounts;
DROP TABLE organization_verifications;
DROP TABLE organization_versions;
DROP TABLE organizations;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE leases;
DROP TABLE audit_events;
DROP TABLE audit_head;
