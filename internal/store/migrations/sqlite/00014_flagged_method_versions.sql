-- +goose Up
-- Domain validation method versions flagged as no longer to be relied on
-- (for example after a flaw was found in that version of a check). Audited:
-- a flag decides which certificates a scan reports. The id is the method
-- and version, so a version is flagged once.
CREATE TABLE flagged_method_versions (
    id         TEXT PRIMARY KEY,
    method     TEXT NOT NULL,
    version    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    flagged_by TEXT NOT NULL,
    flagged_at TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);

-- +goose Down
DROP TABLE flagged_method_versions;
