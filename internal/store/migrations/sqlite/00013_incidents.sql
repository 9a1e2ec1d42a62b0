-- +goose Up
-- Incidents (docs/design.md, "Incidents keep the clocks from awareness").
-- Every table is audited: an incident, its frozen affected set and its
-- timeline are compliance evidence. Deadlines are computed once, from
-- aware_at, when the incident is opened; nothing updates them.
CREATE TABLE incidents (
    id                 TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    kind               TEXT NOT NULL,
    source             TEXT NOT NULL,
    br_trigger         TEXT NOT NULL,
    aware_at           TEXT NOT NULL,
    revocation_due     TEXT NOT NULL,
    initial_report_due TEXT NOT NULL,
    initial_report_at  TEXT,
    full_report_at     TEXT,
    last_update_at     TEXT,
    next_update        TEXT,
    status             TEXT NOT NULL,
    problem_report_id  TEXT NOT NULL,
    parent_id          TEXT NOT NULL,
    query              TEXT NOT NULL,
    affected           BIGINT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    row_hash           TEXT NOT NULL
);
CREATE INDEX incidents_created ON incidents (created_at, id);

-- The frozen affected set: one row per certificate, with its state when
-- the set was frozen, and the revocation that met the obligation.
CREATE TABLE incident_certificates (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    serial          TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    issuer_id       TEXT NOT NULL,
    cert_sha256     TEXT NOT NULL,
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    state_at_freeze TEXT NOT NULL,
    revocation_id   TEXT NOT NULL,
    revoked_at      TEXT,
    row_hash        TEXT NOT NULL
);
CREATE UNIQUE INDEX incident_certificates_serial ON incident_certificates (incident_id, serial);

-- An incident's timeline: opened, delay requests (with their
-- justification; they move no deadline), revocation runs, revocations,
-- notifications, reports, breaches.
CREATE TABLE incident_events (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    ref         TEXT NOT NULL,
    detail      TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

-- +goose Down
DROP TABLE incident_events;
DROP TABLE incident_certificates;
DROP TABLE incidents;
