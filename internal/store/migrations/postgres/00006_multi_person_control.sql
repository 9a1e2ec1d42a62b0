-- +goose Up
-- No one person completes a dual control (docs/design.md, "Multi-person
-- control"). Approvers must differ from the requester and from every staff
-- user who acted for the requester, so each such act records who did it,
-- by user id: who issued a subscriber token, who created an account, who
-- linked an organization to it, and which token (and which staff user)
-- placed an order.
ALTER TABLE api_tokens ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN created_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE account_organizations ADD COLUMN linked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN requested_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN token_id TEXT NOT NULL DEFAULT '';

-- One live approval per approver and order: concurrent approvals by the
-- same verifier cannot both count. (A voided approval may be followed by
-- a new one for the new snapshot.)
CREATE UNIQUE INDEX order_approvals_live ON order_approvals (order_id, approver_id) WHERE voided_at IS NULL;

-- A staff user created, or a role granted, through the API stays inactive
-- until a second admin approves it (BR §5.2.2). pending_roles holds the
-- roles awaiting approval, pending_by the admin who asked for them.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE users ADD COLUMN pending_roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN pending_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN pending_by;
ALTER TABLE users DROP COLUMN pending_roles;
ALTER TABLE users DROP COLUMN status;
DROP INDEX order_approvals_live;
ALTER TABLE orders DROP COLUMN token_id;
ALTER TABLE orders DROP COLUMN requested_by_id;
ALTER TABLE account_organizations DROP COLUMN linked_by;
ALTER TABLE accounts DROP COLUMN created_by_id;
ALTER TABLE api_tokens DROP COLUMN issued_by;
