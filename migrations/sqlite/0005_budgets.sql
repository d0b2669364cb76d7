-- Budgets: limits per key, member, group or account; admin price overrides; each group's
-- time zone for calendar windows.

ALTER TABLE carpool_groups ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';

CREATE TABLE usage_limits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id   INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL CHECK (scope IN ('key', 'member', 'group', 'account')),
    target_id  INTEGER NULL,
    metric     TEXT    NOT NULL CHECK (metric IN ('requests', 'tokens', 'cost')),
    period     TEXT    NOT NULL CHECK (period IN ('minute', 'day', 'month', 'total')),
    cap        INTEGER NOT NULL,
    warn_at    TEXT    NOT NULL DEFAULT '[80,100]',
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX usage_limits_group ON usage_limits (group_id);

CREATE TABLE model_prices (
    model       TEXT    PRIMARY KEY,
    input       INTEGER NOT NULL,
    output      INTEGER NOT NULL,
    cache_read  INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    updated_by  INTEGER NOT NULL REFERENCES users (id),
    updated_at  INTEGER NOT NULL
);
