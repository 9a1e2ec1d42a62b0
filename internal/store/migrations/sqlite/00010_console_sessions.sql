-- +goose Up
-- Console sessions (docs/architecture.md, "Console sign-in and sessions").
-- A session row grants access, so it is audited like an API token: every
-- write goes through package audit, and a row inserted or edited by SQL
-- signs nobody in. Only the SHA-256 of the session id (the cookie value)
-- is stored, never the id itself.
CREATE TABLE console_sessions (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    token_id    TEXT NOT NULL REFERENCES api_tokens (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    row_hash    TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_token ON console_sessions (token_id);

-- When each session was last used, for the idle timeout. Deliberately not
-- audited (no row_hash): it changes at most once a minute per session, and
-- a forged or edited value cannot sign anyone in, because using a session
-- takes the session id, which the database does not hold.
CREATE TABLE console_session_activity (
    session_id TEXT PRIMARY KEY REFERENCES console_sessions (id),
    last_seen  TEXT NOT NULL
);

-- +goose Down
DROP TABLE console_session_activity;
DROP TABLE console_sessions;
