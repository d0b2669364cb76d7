-- Budget warnings: one row per limit, window and threshold crossed. The unique key makes the
-- warning go out once however many nodes check: the node whose insert succeeds queues the mails
-- in the same transaction. The pages show the rows of each limit's current window. Deleting a
-- limit deletes its rows.

CREATE TABLE limit_alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    limit_id     INTEGER NOT NULL REFERENCES usage_limits (id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL,
    threshold    INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    cap          INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    CONSTRAINT limit_alerts_once UNIQUE (limit_id, window_start, threshold)
);
CREATE INDEX limit_alerts_group ON limit_alerts (group_id, window_start);
