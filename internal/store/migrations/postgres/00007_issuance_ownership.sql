-- +goose Up
-- Each issuance intent records the replica that owns it. Recovery resolves
-- only intents whose owner is gone (its lease expired, or it is known to
-- have exited), never one another replica is signing right now.
ALTER TABLE issuance_intents ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- An order is signed at most once: at most one intent per order is live
-- (pending or issued), on any number of replicas, whatever the isolation
-- level. An abandoned intent (its serial answered as revoked) allows a new
-- one.
CREATE UNIQUE INDEX issuance_intents_one_live ON issuance_intents (order_id) WHERE status IN ('pending', 'issued');

-- +goose Down
DROP INDEX issuance_intents_one_live;
ALTER TABLE issuance_intents DROP COLUMN owner;
