-- +goose Up
-- The certificate's expiry, kept with its cached OCSP responses: the
-- refresher re-signs them ahead of time only until then (BR §4.9.10), and
-- removes them once they are due after it; a request after expiry is
-- signed on demand. NULL for a serial with no certificate (in flight or
-- abandoned) and for a response stored before this column, until it is
-- signed again.
ALTER TABLE ocsp_responses ADD COLUMN not_after TEXT;

-- +goose Down
ALTER TABLE ocsp_responses DROP COLUMN not_after;
