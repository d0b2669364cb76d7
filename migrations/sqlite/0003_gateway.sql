-- The chat proxy: upstream accounts (the shared AI services, keys encrypted), their bindings to
-- groups, member keys (SHA-256 only), and one usage record per proxied request.

CREATE TABLE upstream_accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    provider      TEXT    NOT NULL CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai_compatible')),
    base_url      TEXT    NOT NULL,
    api_key_enc   TEXT    NOT NULL,
    api_key_last4 TEXT    NOT NULL,
    models        TEXT    NOT NULL DEFAULT '[]',
    model_aliases TEXT    NOT NULL DEFAULT '{}',
    proxy_url_enc TEXT    NULL,
    proxy_display TEXT    NULL,
    weight        INTEGER NOT NULL DEFAULT 1,
    priority      INTEGER NOT NULL DEFAULT 0,
    group_id      INTEGER NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 1,
    last_error    TEXT    NULL,
    last_error_at INTEGER NULL,
    last_test_ms  INTEGER NULL,
    created_by    INTEGER NOT NULL REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX upstream_accounts_group ON upstream_accounts (group_id);

CREATE TABLE group_accounts (
    group_id   INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES upstream_accounts (id) ON DELETE CASCADE,
    priority   INTEGER NULL,
    weight     INTEGER NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_accounts_account ON group_accounts (account_id);

CREATE TABLE member_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id     INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    last4        TEXT    NOT NULL,
    models       TEXT    NULL,
    expires_at   INTEGER NULL,
    revoked_at   INTEGER NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NULL,
    CONSTRAINT member_keys_hash UNIQUE (key_hash)
);
CREATE INDEX member_keys_group_user ON member_keys (group_id, user_id);

CREATE TABLE usage_records (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at         INTEGER NOT NULL,
    request_id         TEXT    NOT NULL,
    key_id             INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    group_id           INTEGER NOT NULL,
    account_id         INTEGER NULL,
    provider           TEXT    NULL,
    endpoint           TEXT    NOT NULL,
    model_requested    TEXT    NOT NULL,
    model_served       TEXT    NULL,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    status             INTEGER NOT NULL,
    error_class        TEXT    NULL,
    streamed           INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    ttfb_ms            INTEGER NULL,
    total_ms           INTEGER NOT NULL
);
CREATE INDEX usage_records_group_time ON usage_records (group_id, created_at);
CREATE INDEX usage_records_user_time ON usage_records (user_id, created_at);
CREATE INDEX usage_records_key ON usage_records (key_id);
