-- Users and the instance's one-row state (first-run setup).
-- Timestamps are integer milliseconds since the Unix epoch in every table.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT    NOT NULL COLLATE NOCASE,
    name                TEXT    NOT NULL,
    password_hash       TEXT    NOT NULL,
    role                TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    locale              TEXT    NOT NULL DEFAULT 'en',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    CONSTRAINT users_email UNIQUE (email)
);

CREATE TABLE instance (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    setup_completed_at INTEGER NULL,
    created_at         INTEGER NOT NULL
);

INSERT INTO instance (id, setup_completed_at, created_at)
VALUES (1, NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
