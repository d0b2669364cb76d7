-- Budgets: limits per key, member, group or account; admin price overrides; each group's
-- time zone for calendar windows.

ALTER TABLE carpool_groups ADD COLUMN time_zone VARCHAR(64) NOT NULL DEFAULT 'Asia/Shanghai';

CREATE TABLE usage_limits (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    group_id   BIGINT      NOT NULL,
    scope      VARCHAR(16) NOT NULL,
    target_id  BIGINT      NULL,
    metric     VARCHAR(16) NOT NULL,
    period     VARCHAR(16) NOT NULL,
    cap        BIGINT      NOT NULL,
    warn_at    VARCHAR(200) NOT NULL DEFAULT '[80,100]',
    created_by BIGINT      NOT NULL,
    created_at BIGINT      NOT NULL,
    updated_at BIGINT      NOT NULL,
    KEY usage_limits_group (group_id),
    CONSTRAINT usage_limits_scope CHECK (scope IN ('key', 'member', 'group', 'account')),
    CONSTRAINT usage_limits_metric CHECK (metric IN ('requests', 'tokens', 'cost')),
    CONSTRAINT usage_limits_period CHECK (period IN ('minute', 'day', 'month', 'total')),
    CONSTRAINT usage_limits_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT usage_limits_creator_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE model_prices (
    model       VARCHAR(200) NOT NULL PRIMARY KEY,
    input       BIGINT       NOT NULL,
    output      BIGINT       NOT NULL,
    cache_read  BIGINT       NOT NULL,
    cache_write BIGINT       NOT NULL,
    updated_by  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    CONSTRAINT model_prices_user_fk FOREIGN KEY (updated_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
