-- Usage rollups and the monthly cost split. Rollups are upserted in the same transaction as the
-- usage records they summarise: hourly buckets (UTC hours, the source of truth for every chart)
-- and daily buckets (days at UTC+08:00, Asia/Shanghai, the default group time zone). A request
-- that no account served is rolled up under account_id 0; model is the served model, else the
-- requested one. Fixed costs and closed periods (with the frozen statement) per group and month.

CREATE TABLE usage_hourly (
    bucket_start       BIGINT       NOT NULL,
    group_id           BIGINT       NOT NULL,
    user_id            BIGINT       NOT NULL,
    key_id             BIGINT       NOT NULL,
    account_id         BIGINT       NOT NULL,
    model              VARCHAR(200) NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    input_tokens       BIGINT       NOT NULL DEFAULT 0,
    output_tokens      BIGINT       NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT       NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT       NOT NULL DEFAULT 0,
    cost_micros        BIGINT       NOT NULL DEFAULT 0,
    ttfb_ms_sum        BIGINT       NOT NULL DEFAULT 0,
    ttfb_ms_count      BIGINT       NOT NULL DEFAULT 0,
    total_ms_sum       BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, group_id, user_id, key_id, account_id, model),
    KEY usage_hourly_group (group_id, bucket_start),
    KEY usage_hourly_user (user_id, bucket_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE usage_daily (
    bucket_start       BIGINT       NOT NULL,
    group_id           BIGINT       NOT NULL,
    user_id            BIGINT       NOT NULL,
    key_id             BIGINT       NOT NULL,
    account_id         BIGINT       NOT NULL,
    model              VARCHAR(200) NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    input_tokens       BIGINT       NOT NULL DEFAULT 0,
    output_tokens      BIGINT       NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT       NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT       NOT NULL DEFAULT 0,
    cost_micros        BIGINT       NOT NULL DEFAULT 0,
    ttfb_ms_sum        BIGINT       NOT NULL DEFAULT 0,
    ttfb_ms_count      BIGINT       NOT NULL DEFAULT 0,
    total_ms_sum       BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, group_id, user_id, key_id, account_id, model),
    KEY usage_daily_group (group_id, bucket_start),
    KEY usage_daily_user (user_id, bucket_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Records written before this migration are rolled up once here.
INSERT INTO usage_hourly (bucket_start, group_id, user_id, key_id, account_id, model, requests,
    errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
    ttfb_ms_sum, ttfb_ms_count, total_ms_sum)
SELECT (created_at DIV 3600000) * 3600000, group_id, user_id, key_id, COALESCE(account_id, 0),
    COALESCE(model_served, model_requested) COLLATE utf8mb4_bin, COUNT(*),
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(COALESCE(ttfb_ms, 0)),
    COUNT(ttfb_ms), SUM(total_ms)
FROM usage_records GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO usage_daily (bucket_start, group_id, user_id, key_id, account_id, model, requests,
    errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
    ttfb_ms_sum, ttfb_ms_count, total_ms_sum)
SELECT ((created_at + 28800000) DIV 86400000) * 86400000 - 28800000, group_id, user_id, key_id,
    COALESCE(account_id, 0), COALESCE(model_served, model_requested) COLLATE utf8mb4_bin, COUNT(*),
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(COALESCE(ttfb_ms, 0)),
    COUNT(ttfb_ms), SUM(total_ms)
FROM usage_records GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TABLE cost_fixed (
    id            BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    group_id      BIGINT        NOT NULL,
    period        CHAR(7)       NOT NULL,
    name          VARCHAR(100)  NOT NULL,
    amount_micros BIGINT        NOT NULL,
    split         VARCHAR(16)   NOT NULL,
    weights       TEXT          NULL,
    created_by    BIGINT        NOT NULL,
    created_at    BIGINT        NOT NULL,
    KEY cost_fixed_group_period (group_id, period),
    CONSTRAINT cost_fixed_split CHECK (split IN ('equal', 'usage', 'weights')),
    CONSTRAINT cost_fixed_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT cost_fixed_creator_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE cost_periods (
    group_id  BIGINT   NOT NULL,
    period    CHAR(7)  NOT NULL,
    closed_at BIGINT   NOT NULL,
    closed_by BIGINT   NOT NULL,
    snapshot  LONGTEXT NOT NULL,
    PRIMARY KEY (group_id, period),
    CONSTRAINT cost_periods_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT cost_periods_closer_fk FOREIGN KEY (closed_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
