-- +goose Up
-- A certificate is replaced at most once (RFC 9773 §5, alreadyReplaced):
-- newOrder and finalize look up the orders that name it in replaces.
CREATE INDEX acme_orders_by_replaces ON acme_orders (replaces) WHERE replaces <> '';

-- +goose Down
DROP INDEX acme_orders_by_replaces;
