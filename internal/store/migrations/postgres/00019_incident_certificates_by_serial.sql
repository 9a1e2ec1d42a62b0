-- +goose Up
-- ACME Renewal Information (RFC 9773) asks, for one certificate, whether an
-- open incident must revoke it and by when: a lookup by serial across
-- incidents, which the (incident_id, serial) index cannot serve.
CREATE INDEX incident_certificates_by_serial ON incident_certificates (serial);

-- +goose Down
DROP INDEX incident_certificates_by_serial;
