-- Sessions, carpool groups with members and roles, invitations (email and multi-use links),
-- and the mail outbox. (`groups` is a reserved word in MySQL 8, hence `carpool_groups`.)

CREATE TABLE sessions (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    revoked_at  BIGINT       NULL,
    user_agent  VARCHAR(255) NULL,
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE carpool_groups (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(100)  NOT NULL,
    description VARCHAR(1000) NOT NULL DEFAULT '',
    created_by  BIGINT        NOT NULL,
    created_at  BIGINT        NOT NULL,
    updated_at  BIGINT        NOT NULL,
    CONSTRAINT carpool_groups_creator_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE group_members (
    group_id  BIGINT      NOT NULL,
    user_id   BIGINT      NOT NULL,
    role      VARCHAR(16) NOT NULL,
    joined_at BIGINT      NOT NULL,
    PRIMARY KEY (group_id, user_id),
    KEY group_members_user (user_id),
    CONSTRAINT group_members_role CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT group_members_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT group_members_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE mail_outbox (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    to_address      VARCHAR(254) NOT NULL,
    subject         VARCHAR(512) NOT NULL,
    text_body       MEDIUMTEXT   NOT NULL,
    html_body       MEDIUMTEXT   NOT NULL,
    state           VARCHAR(16)  NOT NULL DEFAULT 'pending',
    attempts        INT          NOT NULL DEFAULT 0,
    next_attempt_at BIGINT       NOT NULL,
    last_error      VARCHAR(1024) NULL,
    created_at      BIGINT       NOT NULL,
    sent_at         BIGINT       NULL,
    KEY mail_outbox_due (state, next_attempt_at),
    CONSTRAINT mail_outbox_state CHECK (state IN ('pending', 'sent'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE invitations (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    group_id    BIGINT       NOT NULL,
    email       VARCHAR(254) NOT NULL,
    role        VARCHAR(16)  NOT NULL,
    token_hash  CHAR(64)     NOT NULL,
    invited_by  BIGINT       NOT NULL,
    mail_id     BIGINT       NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    accepted_at BIGINT       NULL,
    accepted_by BIGINT       NULL,
    revoked_at  BIGINT       NULL,
    CONSTRAINT invitations_token UNIQUE (token_hash),
    KEY invitations_group (group_id),
    CONSTRAINT invitations_role CHECK (role IN ('admin', 'member')),
    CONSTRAINT invitations_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT invitations_inviter_fk FOREIGN KEY (invited_by) REFERENCES users (id),
    CONSTRAINT invitations_mail_fk FOREIGN KEY (mail_id) REFERENCES mail_outbox (id) ON DELETE SET NULL,
    CONSTRAINT invitations_acceptor_fk FOREIGN KEY (accepted_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE invite_links (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    group_id    BIGINT      NOT NULL,
    role        VARCHAR(16) NOT NULL,
    token_hash  CHAR(64)    NOT NULL,
    max_uses    BIGINT      NULL,
    uses        BIGINT      NOT NULL DEFAULT 0,
    created_by  BIGINT      NOT NULL,
    created_at  BIGINT      NOT NULL,
    expires_at  BIGINT      NULL,
    revoked_at  BIGINT      NULL,
    CONSTRAINT invite_links_token UNIQUE (token_hash),
    KEY invite_links_group (group_id),
    CONSTRAINT invite_links_role CHECK (role IN ('admin', 'member')),
    CONSTRAINT invite_links_group_fk FOREIGN KEY (group_id) REFERENCES carpool_groups (id) ON DELETE CASCADE,
    CONSTRAINT invite_links_creator_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
