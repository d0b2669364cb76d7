-- Budget warnings: one row per limit, window and threshold crossed. The unique key makes the
-- warning go out once however many nodes check: the node whose insert succeeds queues the mails
-- in the same transaction. The pages show the rows of each limit's current window. Deleting a
-- limit deletes its rows.

CREATE TABLE limit_alerts (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    limit_id     BIGINT NOT NULL,
    group_id     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    threshold    BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    cap          BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE KEY limit_alerts_once (limit_id, window_start, threshold),
    KEY limit_alerts_group (group_id, window_start),
    CONSTRAINT limit_alerts_limit_fk FOREIGN KEY (limit_id) REFERENCES usage_limits (id) ON DELETE CASCADE,
    CONSTRAINT limit_alerts_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
