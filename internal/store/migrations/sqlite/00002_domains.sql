-- +goose Up
-- Domain control validation (BR §3.2.2.4), its evidence (every attempt,
-- with per-perspective answers and the BR §3.2.2.9 quorum), and what each
-- certificate relied on: the validations behind each SAN and the CAA check
-- of each SAN at issuance (BR §3.2.2.8). Every table is audited (id and
-- row_hash); JSON columns hold the full evidence as TEXT.

CREATE TABLE domain_validations (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    domain           TEXT NOT NULL,
    method           TEXT NOT NULL,
    method_section   TEXT NOT NULL,
    method_version   TEXT NOT NULL,
    random_value     TEXT NOT NULL,
    record_name      TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    validated_at     TEXT,
    valid_attempt_id TEXT NOT NULL,
    row_hash         TEXT NOT NULL
);
CREATE INDEX domain_validations_account ON domain_validations (account_id, status);
CREATE INDEX domain_validations_method ON domain_validations (method, method_version, validated_at);

CREATE TABLE domain_validation_attempts (
    id             TEXT PRIMARY KEY,
    validation_id  TEXT NOT NULL REFERENCES domain_validations (id),
    number         BIGINT NOT NULL,
    account_id     TEXT NOT NULL,
    domain         TEXT NOT NULL,
    method         TEXT NOT NULL,
    method_section TEXT NOT NULL,
    method_version TEXT NOT NULL,
    queried_name   TEXT NOT NULL,
    answer         TEXT NOT NULL,
    resolver       TEXT NOT NULL,
    attempted_at   TEXT NOT NULL,
    primary_status TEXT NOT NULL,
    status         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    quorum         TEXT NOT NULL,
    evidence       TEXT NOT NULL,
    corroboration  TEXT NOT NULL,
    performed_by   TEXT NOT NULL,
    row_hash       TEXT NOT NULL
);
CREATE UNIQUE INDEX domain_validation_attempts_validation ON domain_validation_attempts (validation_id, number);

CREATE TABLE certificate_domain_validations (
    id             TEXT PRIMARY KEY,
    serial         TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    dns_name       TEXT NOT NULL,
    validation_id  TEXT NOT NULL REFERENCES domain_validations (id),
    attempt_id     TEXT NOT NULL,
    domain         TEXT NOT NULL,
    method         TEXT NOT NULL,
    method_section TEXT NOT NULL,
    method_version TEXT NOT NULL,
    validated_at   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    row_hash       TEXT NOT NULL,
    UNIQUE (serial, dns_name)
);
CREATE INDEX certificate_domain_validations_validation ON certificate_domain_validations (validation_id);

CREATE TABLE caa_checks (
    id            TEXT PRIMARY KEY,
    serial        TEXT NOT NULL,
    order_id      TEXT NOT NULL,
    dns_name      TEXT NOT NULL,
    permitted     BIGINT NOT NULL,
    relevant_name TEXT NOT NULL,
    reason        TEXT NOT NULL,
    checked_at    TEXT NOT NULL,
    issue_before  TEXT,
    quorum        TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    row_hash      TEXT NOT NULL
);
CREATE INDEX caa_checks_serial ON caa_checks (serial);
CREATE INDEX caa_checks_order ON caa_checks (order_id);

-- +goose Down
DROP TABLE caa_checks;
DROP TABLE certificate_domain_validations;
DROP TABLE domain_validation_attempts;
DROP TABLE domain_validations;
