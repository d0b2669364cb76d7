-- The chat proxy: upstream accounts (the shared AI services, keys encrypted), their bindings to
-- groups, member keys (SHA-256 only), and one usage record per proxied request.

CREATE TABLE upstream_accounts (
    id            BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(100)  NOT NULL,
    provider      VARCHAR(32)   NOT NULL,
    base_url      VARCHAR(512)  NOT NULL,
    api_key_enc   TEXT          NOT NULL,
    api_key_last4 VARCHAR(8)    NOT NULL,
    models        TEXT          NOT NULL,
    model_aliases TEXT          NOT NULL,
    proxy_url_enc TEXT          NULL,
    proxy_display VARCHAR(512)  NULL,
    weight        INT           NOT NULL DEFAULT 1,
    priority      INT           NOT NULL DEFAULT 0,
    group_id      BIGINT        NULL,
    enabled       TINYINT       NOT NULL DEFAULT 1,
    last_error    VARCHAR(1000) NULL,
    last_error_at BIGINT        NULL,
    last_test_ms  BIGINT        NULL,
    created_by    BIGINT        NOT NULL,
    created_at    BIGINT        NOT NULL,
    updated_at    BIGINT        NOT NULL,
    KEY upstream_accounts_group (group_id),
    CONSTRAINT upstream_accounts_provider CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai_compatible')),
    CONSTRAINT upstream_accounts_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT upstream_accounts_creator_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE group_accounts (
    group_id   BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    priority   INT    NULL,
    weight     INT    NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, account_id),
    KEY group_accounts_account (account_id),
    CONSTRAINT group_accounts_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT group_accounts_account_fk FOREIGN KEY (account_id) REFERENCES upstream_accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE member_keys (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    group_id     BIGINT       NOT NULL,
    user_id      BIGINT       NOT NULL,
    name         VARCHAR(100) NOT NULL,
    key_hash     CHAR(64)     NOT NULL,
    prefix       VARCHAR(16)  NOT NULL,
    last4        VARCHAR(8)   NOT NULL,
    models       TEXT         NULL,
    expires_at   BIGINT       NULL,
    revoked_at   BIGINT       NULL,
    created_at   BIGINT       NOT NULL,
    last_used_at BIGINT       NULL,
    CONSTRAINT member_keys_hash UNIQUE (key_hash),
    KEY member_keys_group_user (group_id, user_id),
    CONSTRAINT member_keys_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT member_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE usage_records (
    id                 BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    created_at         BIGINT       NOT NULL,
    request_id         VARCHAR(64)  NOT NULL,
    key_id             BIGINT       NOT NULL,
    user_id            BIGINT       NOT NULL,
    group_id           BIGINT       NOT NULL,
    account_id         BIGINT       NULL,
    provider           VARCHAR(32)  NULL,
    endpoint           VARCHAR(64)  NOT NULL,
    model_requested    VARCHAR(200) NOT NULL,
    model_served       VARCHAR(200) NULL,
    input_tokens       BIGINT       NOT NULL DEFAULT 0,
    output_tokens      BIGINT       NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT       NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT       NOT NULL DEFAULT 0,
    cost_micros        BIGINT       NOT NULL DEFAULT 0,
    status             INT          NOT NULL,
    error_class        VARCHAR(64)  NULL,
    streamed           TINYINT      NOT NULL DEFAULT 0,
    attempts           INT          NOT NULL DEFAULT 0,
    ttfb_ms            BIGINT       NULL,
    total_ms           BIGINT       NOT NULL,
    KEY usage_records_group_time (group_id, created_at),
    KEY usage_records_user_time (user_id, created_at),
    KEY usage_records_key (key_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
