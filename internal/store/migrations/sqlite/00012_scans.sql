-- +goose Up
-- Database-wide certificate scans (docs/architecture.md, "Scans"). A run
-- keeps its cursor (the last serial checked, in serial order) so a scan
-- that was stopped continues where it stopped. Findings are keyed by
-- (serial, lint, field), so a rerun tells new findings from known ones.
-- Neither table is audited: a scan is a reading of audited data, and what
-- is done about a finding (an incident, a revocation) is audited there.
CREATE TABLE scan_runs (
    id            TEXT PRIMARY KEY,
    params        TEXT NOT NULL,
    status        TEXT NOT NULL,
    cursor_serial TEXT NOT NULL,
    done_beyond   TEXT NOT NULL,
    checked       BIGINT NOT NULL,
    found         BIGINT NOT NULL,
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX scan_runs_status ON scan_runs (status);

CREATE TABLE scan_findings (
    id         TEXT PRIMARY KEY,
    serial     TEXT NOT NULL,
    lint       TEXT NOT NULL,
    field      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    message    TEXT NOT NULL,
    first_run  TEXT NOT NULL,
    last_run   TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE UNIQUE INDEX scan_findings_key ON scan_findings (serial, lint, field);

-- +goose Down
DROP INDEX scan_findings_key;
DROP TABLE scan_findings;
DROP INDEX scan_runs_status;
DROP TABLE scan_runs;
