-- Smart routing: a strategy per group, per-account caps, model fallback chains per group,
-- and each attempt of a request kept in its usage record.

ALTER TABLE carpool_groups ADD COLUMN routing_strategy VARCHAR(32) NOT NULL DEFAULT 'weighted';

ALTER TABLE upstream_accounts ADD COLUMN max_concurrency INT NULL;
ALTER TABLE upstream_accounts ADD COLUMN rpm_limit INT NULL;
ALTER TABLE upstream_accounts ADD COLUMN tpm_limit BIGINT NULL;

ALTER TABLE usage_records ADD COLUMN attempt_log TEXT NULL;

CREATE TABLE model_routes (
    group_id   BIGINT       NOT NULL,
    alias      VARCHAR(200) NOT NULL,
    models     TEXT         NOT NULL,
    updated_at BIGINT       NOT NULL,
    PRIMARY KEY (group_id, alias),
    CONSTRAINT model_routes_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
