-- Usage rollups and the monthly cost split. Rollups are upserted in the same transaction as the
-- usage records they summarise: hourly buckets (UTC hours, the source of truth for every chart)
-- and daily buckets (days at UTC+08:00, Asia/Shanghai, the default group time zone). A request
-- that no account served is rolled up under account_id 0; model is the served model, else the
-- requested one. Fixed costs and closed periods (with the frozen statement) per group and month.

CREATE TABLE usage_hourly (
    bucket_start       INTEGER NOT NULL,
    group_id           INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    key_id             INTEGER NOT NULL,
    account_id         INTEGER NOT NULL,
    model              TEXT    NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    errors             INTEGER NOT NULL DEFAULT 0,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    ttfb_ms_sum        INTEGER NOT NULL DEFAULT 0,
    ttfb_ms_count      INTEGER NOT NULL DEFAULT 0,
    total_ms_sum       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, group_id, user_id, key_id, account_id, model)
);
CREATE INDEX usage_hourly_group ON usage_hourly (group_id, bucket_start);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, bucket_start);

CREATE TABLE usage_daily (
    bucket_start       INTEGER NOT NULL,
    group_id           INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    key_id             INTEGER NOT NULL,
    account_id         INTEGER NOT NULL,
    model              TEXT    NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    errors             INTEGER NOT NULL DEFAULT 0,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    ttfb_ms_sum        INTEGER NOT NULL DEFAULT 0,
    ttfb_ms_count      INTEGER NOT NULL DEFAULT 0,
    total_ms_sum       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, group_id, user_id, key_id, account_id, model)
);
CREATE INDEX usage_daily_group ON usage_daily (group_id, bucket_start);
CREATE INDEX usage_daily_user ON usage_daily (user_id, bucket_start);

-- Records written before this migration are rolled up once here.
INSERT INTO usage_hourly (bucket_start, group_id, user_id, key_id, account_id, model, requests,
    errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
    ttfb_ms_sum, ttfb_ms_count, total_ms_sum)
SELECT (created_at / 3600000) * 3600000, group_id, user_id, key_id, COALESCE(account_id, 0),
    COALESCE(model_served, model_requested), COUNT(*),
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(COALESCE(ttfb_ms, 0)),
    COUNT(ttfb_ms), SUM(total_ms)
FROM usage_records GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO usage_daily (bucket_start, group_id, user_id, key_id, account_id, model, requests,
    errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
    ttfb_ms_sum, ttfb_ms_count, total_ms_sum)
SELECT ((created_at + 28800000) / 86400000) * 86400000 - 28800000, group_id, user_id, key_id,
    COALESCE(account_id, 0), COALESCE(model_served, model_requested), COUNT(*),
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(COALESCE(ttfb_ms, 0)),
    COUNT(ttfb_ms), SUM(total_ms)
FROM usage_records GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TABLE cost_fixed (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id      INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    period        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    amount_micros INTEGER NOT NULL,
    split         TEXT    NOT NULL CHECK (split IN ('equal', 'usage', 'weights')),
    weights       TEXT    NULL,
    created_by    INTEGER NOT NULL REFERENCES users (id),
    created_at    INTEGER NOT NULL
);
CREATE INDEX cost_fixed_group_period ON cost_fixed (group_id, period);

CREATE TABLE cost_periods (
    group_id  INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    period    TEXT    NOT NULL,
    closed_at INTEGER NOT NULL,
    closed_by INTEGER NOT NULL REFERENCES users (id),
    snapshot  TEXT    NOT NULL,
    PRIMARY KEY (group_id, period)
);
