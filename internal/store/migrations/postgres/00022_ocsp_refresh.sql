-- +goose Up
-- The certificate's expiry, kept with its cached OCSP responses: the
-- refresher re-signs them ahead of time only until then (BR §4.9.10), and
-- removes them once they are due after it; a request after expiry is
-- signed on demand. NULL for a serial with no certificate (in flight or
-- abandoned) and for a response stored before this column, until it is
-- signed again.
ALTER TABLE ocsp_responses ADD COLUMN not_after TEXT;
-- The refresher also re-signs, each pass, the stored responses of serials
-- revoked lately that were signed before the revocation was recorded (a
-- re-sign after the commit cut short by a crash): it finds them from the
-- revocations recorded since a day ago.
CREATE INDEX revocations_by_recorded ON revocations (recorded_at);

-- +goose Down
DROP INDEX revocations_by_recorded;
ALTER TABLE ocsp_responses DROP COLUMN not_after;
