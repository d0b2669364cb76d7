-- Users and the instance's one-row state (first-run setup).
-- Timestamps are integer milliseconds since the Unix epoch in every table.

CREATE TABLE users (
    id                  BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email               VARCHAR(254) NOT NULL,
    name                VARCHAR(128) NOT NULL,
    password_hash       VARCHAR(255) NOT NULL,
    role                VARCHAR(16)  NOT NULL DEFAULT 'user',
    locale              VARCHAR(16)  NOT NULL DEFAULT 'en',
    created_at          BIGINT       NOT NULL,
    updated_at          BIGINT       NOT NULL,
    password_changed_at BIGINT       NOT NULL,
    CONSTRAINT users_email UNIQUE (email),
    CONSTRAINT users_role CHECK (role IN ('admin', 'user'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE instance (
    id                 BIGINT NOT NULL PRIMARY KEY,
    setup_completed_at BIGINT NULL,
    created_at         BIGINT NOT NULL,
    CONSTRAINT instance_singleton CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO instance (id, setup_completed_at, created_at)
VALUES (1, NULL, UNIX_TIMESTAMP() * 1000);
