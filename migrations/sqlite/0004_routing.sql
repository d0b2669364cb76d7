-- Smart routing: a strategy per group, per-account caps, model fallback chains per group,
-- and each attempt of a request kept in its usage record.

ALTER TABLE carpool_groups ADD COLUMN routing_strategy TEXT NOT NULL DEFAULT 'weighted';

ALTER TABLE upstream_accounts ADD COLUMN max_concurrency INTEGER NULL;
ALTER TABLE upstream_accounts ADD COLUMN rpm_limit INTEGER NULL;
ALTER TABLE upstream_accounts ADD COLUMN tpm_limit INTEGER NULL;

ALTER TABLE usage_records ADD COLUMN attempt_log TEXT NULL;

CREATE TABLE model_routes (
    group_id   INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    alias      TEXT    NOT NULL,
    models     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, alias)
);
