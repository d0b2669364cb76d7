-- Sessions, carpool groups with members and roles, invitations (email and multi-use links),
-- and the mail outbox.

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NULL,
    user_agent  TEXT    NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE carpool_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    to_address      TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);

CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    email       TEXT    NOT NULL COLLATE NOCASE,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT    NOT NULL,
    invited_by  INTEGER NOT NULL REFERENCES users (id),
    mail_id     INTEGER NULL REFERENCES mail_outbox (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER NULL,
    accepted_by INTEGER NULL REFERENCES users (id),
    revoked_at  INTEGER NULL,
    CONSTRAINT invitations_token UNIQUE (token_hash)
);
CREATE INDEX invitations_group ON invitations (group_id);

CREATE TABLE invite_links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    INTEGER NOT NULL REFERENCES carpool_groups (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT    NOT NULL,
    max_uses    INTEGER NULL,
    uses        INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NULL,
    revoked_at  INTEGER NULL,
    CONSTRAINT invite_links_token UNIQUE (token_hash)
);
CREATE INDEX invite_links_group ON invite_links (group_id);
