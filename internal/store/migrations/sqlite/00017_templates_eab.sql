-- +goose Up
-- Foundations for ACME with External Account Binding (docs/design.md,
-- "Templates and EAB keys"). All three tables are audited.
--
-- A template says what an account may be issued without a person placing
-- each order: names, key types and a maximum validity, for one of its
-- organizations. template_hash is the SHA-256 of everything it allows,
-- including the organization's verified version and that version's row
-- hash; approvals bind to it, and any change voids them. editor_ids are
-- the staff users who created or changed it (none may approve it).
CREATE TABLE templates (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    organization_id       TEXT NOT NULL REFERENCES organizations (id),
    organization_version  BIGINT NOT NULL,
    organization_row_hash TEXT NOT NULL,
    dns_names             TEXT NOT NULL,
    key_types             TEXT NOT NULL,
    max_validity_days     BIGINT NOT NULL,
    status                TEXT NOT NULL,
    template_hash         TEXT NOT NULL,
    created_by            TEXT NOT NULL,
    created_by_id         TEXT NOT NULL,
    editor_ids            TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    disabled_at           TEXT,
    disabled_by           TEXT NOT NULL,
    disable_reason        TEXT NOT NULL,
    row_hash              TEXT NOT NULL
);
CREATE INDEX templates_account ON templates (account_id, created_at, id);
CREATE INDEX templates_organization ON templates (organization_id);
CREATE INDEX templates_created ON templates (created_at, id);

-- One verifier's approval of one template hash. A partial unique index
-- allows one live approval per approver per template, so concurrent
-- approvals by one person count once.
CREATE TABLE template_approvals (
    id            TEXT PRIMARY KEY,
    template_id   TEXT NOT NULL REFERENCES templates (id),
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    at            TEXT NOT NULL,
    voided_at     TEXT,
    void_reason   TEXT NOT NULL,
    row_hash      TEXT NOT NULL
);
CREATE INDEX template_approvals_template ON template_approvals (template_id);
CREATE UNIQUE INDEX template_approvals_live ON template_approvals (template_id, approver_id) WHERE voided_at IS NULL;

-- External Account Binding keys (RFC 8555 §7.3.4). The id is the key id
-- (kid). The HMAC key itself is never stored: it is derived from the
-- installation's EAB secret (a file in the key directory) and the kid, and
-- only its SHA-256 is kept here, with the id of the secret it came from.
-- A key binds one ACME account, once: the partial unique index also keeps
-- one ACME account from being bound by two keys.
CREATE TABLE eab_keys (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    created_by            TEXT NOT NULL,
    created_by_id         TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    hmac_sha256           TEXT NOT NULL,
    secret_id             TEXT NOT NULL,
    bound_acme_account_id TEXT NOT NULL,
    bound_at              TEXT,
    revoked_at            TEXT,
    revoked_by            TEXT NOT NULL,
    row_hash              TEXT NOT NULL
);
CREATE INDEX eab_keys_account ON eab_keys (account_id, created_at, id);
CREATE UNIQUE INDEX eab_keys_bound_acme_account ON eab_keys (bound_acme_account_id) WHERE bound_acme_account_id <> '';

-- +goose Down
DROP TABLE eab_keys;
DROP TABLE template_approvals;
DROP TABLE templates;
