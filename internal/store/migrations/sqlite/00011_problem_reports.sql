-- +goose Up
-- The Certificate Problem Report desk (BR §4.9.5; docs/design.md, "Problem
-- reports"). Every table is audited: a case, its matches and its timeline
-- are compliance evidence. The private key of a key-compromise report is
-- never stored: only its SPKI SHA-256, and the certificates and CSR sent.
CREATE TABLE problem_reports (
    id                     TEXT PRIMARY KEY,
    reporter_email         TEXT NOT NULL,
    category               TEXT NOT NULL,
    description            TEXT NOT NULL,
    channel                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    received_at            TEXT NOT NULL,
    preliminary_report_due TEXT NOT NULL,
    preliminary_report_at  TEXT,
    revocation_due         TEXT,
    revoke_at              TEXT,
    br_trigger             TEXT NOT NULL,
    spki_sha256            TEXT NOT NULL,
    evidence               TEXT NOT NULL,
    decision               TEXT NOT NULL,
    decision_reason        TEXT NOT NULL,
    decided_by             TEXT NOT NULL,
    decided_at             TEXT,
    pending_by             TEXT NOT NULL,
    assigned_to            TEXT NOT NULL,
    merged_into            TEXT NOT NULL,
    closed_at              TEXT,
    close_reason           TEXT NOT NULL,
    row_hash               TEXT NOT NULL
);
CREATE INDEX problem_reports_received ON problem_reports (received_at, id);
CREATE INDEX problem_reports_status ON problem_reports (status);

-- The certificates and in-flight issuances a case is about, across all
-- accounts, and how each was found (serial, certificate, key, csr).
CREATE TABLE problem_report_matches (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL REFERENCES problem_reports (id),
    serial      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    matched_by  TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);
CREATE UNIQUE INDEX problem_report_matches_serial ON problem_report_matches (report_id, serial);
CREATE INDEX problem_report_matches_by_serial ON problem_report_matches (serial);

-- A case's timeline: received, matched, reports sent, decisions,
-- revocations, alarms, breaches, notes, assignments. Alarms and breaches
-- have ids derived from the obligation, so each is recorded once however
-- many replicas notice it.
CREATE TABLE problem_report_events (
    id         TEXT PRIMARY KEY,
    report_id  TEXT NOT NULL REFERENCES problem_reports (id),
    kind       TEXT NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    role       TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ref        TEXT NOT NULL,
    detail     TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);
CREATE INDEX problem_report_events_report ON problem_report_events (report_id, at);

-- Matching a reported key against issuances still in flight goes through
-- their orders' keys.
CREATE INDEX orders_spki ON orders (spki_sha256);
CREATE INDEX certificates_sha256 ON certificates (cert_sha256);

-- +goose Down
DROP INDEX certificates_sha256;
DROP INDEX orders_spki;
DROP TABLE problem_report_events;
DROP TABLE problem_report_matches;
DROP TABLE problem_reports;
