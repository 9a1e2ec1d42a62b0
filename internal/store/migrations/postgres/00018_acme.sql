-- +goose Up
-- The ACME server (RFC 8555; docs/design.md, "ACME"). Every table but
-- acme_nonces is audited.
--
-- An ACME account is a subscriber key bound, once, by an EAB key to one
-- vetca account. The key is kept as its JWK and its RFC 7638 thumbprint,
-- which is unique: one key, one ACME account.
CREATE TABLE acme_accounts (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    eab_kid        TEXT NOT NULL,
    jwk            TEXT NOT NULL,
    jwk_thumbprint TEXT NOT NULL UNIQUE,
    contact        TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    row_hash       TEXT NOT NULL
);
CREATE INDEX acme_accounts_account ON acme_accounts (account_id, created_at, id);

-- An ACME order: the names asked for, the template that covered them when
-- it was placed, and, once finalized, the vetca order it became (which
-- holds the snapshot, the intent and the certificate).
CREATE TABLE acme_orders (
    id                TEXT PRIMARY KEY,
    acme_account_id   TEXT NOT NULL REFERENCES acme_accounts (id),
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    template_id       TEXT NOT NULL,
    identifiers       TEXT NOT NULL,
    authorization_ids TEXT NOT NULL,
    validity_days     BIGINT NOT NULL,
    status            TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    serial            TEXT NOT NULL,
    error             TEXT NOT NULL,
    replaces          TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    row_hash          TEXT NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders (acme_account_id, created_at, id);
CREATE INDEX acme_orders_vetca_account ON acme_orders (account_id, created_at, id);

-- An authorization of one identifier for one order. validation_id is the
-- domain validation relied on: one reused when still reusable (BR §4.2.1),
-- or the one its challenge created.
CREATE TABLE acme_authorizations (
    id              TEXT PRIMARY KEY,
    acme_order_id   TEXT NOT NULL REFERENCES acme_orders (id),
    acme_account_id TEXT NOT NULL REFERENCES acme_accounts (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    identifier      TEXT NOT NULL,
    status          TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    validation_id   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    row_hash        TEXT NOT NULL
);
CREATE INDEX acme_authorizations_order ON acme_authorizations (acme_order_id);

-- A challenge of an authorization. Its token is the random value; the
-- evidence of its check is the domain validation validation_id.
CREATE TABLE acme_challenges (
    id               TEXT PRIMARY KEY,
    authorization_id TEXT NOT NULL REFERENCES acme_authorizations (id),
    acme_account_id  TEXT NOT NULL REFERENCES acme_accounts (id),
    type             TEXT NOT NULL,
    token            TEXT NOT NULL,
    status           TEXT NOT NULL,
    validation_id    TEXT NOT NULL,
    validated_at     TEXT,
    error            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    row_hash         TEXT NOT NULL
);
CREATE INDEX acme_challenges_authorization ON acme_challenges (authorization_id);

-- An order placed on a standing template's approval instead of per-order
-- approvals: the template and the template hash it was placed under.
-- Finalize checks again, under the order's lock, that this template is
-- still approved with this hash by independent verifiers and still
-- allows the order.
CREATE TABLE order_templates (
    id            TEXT PRIMARY KEY REFERENCES orders (id),
    template_id   TEXT NOT NULL REFERENCES templates (id),
    template_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    row_hash      TEXT NOT NULL
);
CREATE INDEX order_templates_template ON order_templates (template_id);

-- Nonces that were used (RFC 8555 §6.5). A nonce is not stored when it is
-- handed out: it carries its own expiry and a MAC, so every replica can
-- check it; its first use inserts it here, and a second use is refused as
-- a replay. Not audited: a row here can only refuse a request, never let
-- one through. Rows past their expiry are pruned.
CREATE TABLE acme_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX acme_nonces_expires ON acme_nonces (expires_at);

-- +goose Down
DROP TABLE acme_nonces;
DROP TABLE order_templates;
DROP TABLE acme_challenges;
DROP TABLE acme_authorizations;
DROP TABLE acme_orders;
DROP TABLE acme_accounts;
