//! Email invitations and multi-use invite links. Tokens are stored only as SHA-256 hashes;
//! acceptance claims the invitation (or one use of the link) with a conditional update inside
//! the transaction that adds the membership, so each token works exactly as often as allowed.

use super::BeginWrite;
use super::outbox::{NewMail, enqueue};
use super::{Db, DbError, InsertId, on_pool};

/// An email invitation with its inviter and mail state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InvitationRow {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    pub role: String,
    /// Inviter's name.
    pub inviter_name: String,
    /// Outbox mail.
    pub mail_id: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Accepted (ms).
    pub accepted_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
}

/// An invite link.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InviteLinkRow {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Role on joining.
    pub role: String,
    /// Maximum uses.
    pub max_uses: Option<i64>,
    /// Uses so far.
    pub uses: i64,
    /// Creator's name.
    pub inviter_name: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
}

/// A new email invitation.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// Group.
    pub group_id: i64,
    /// Normalised address.
    pub email: String,
    /// Role.
    pub role: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Inviter.
    pub invited_by: i64,
    /// Expiry (ms).
    pub expires_at: i64,
}

/// Stores an invitation and its mail in one transaction; returns the invitation id.
/// An earlier pending invitation of the same address to the same group is revoked: the newest
/// link is the one that works.
pub async fn create_invitation(
    db: &Db,
    inv: &NewInvitation,
    mail: &NewMail,
    now: i64,
) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE invitations SET revoked_at = ? WHERE group_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL")
            .bind(now).bind(inv.group_id).bind(&inv.email).execute(&mut *tx).await?;
        let mail_id = enqueue!(tx, mail, now);
        let result = sqlx::query(
            "INSERT INTO invitations (group_id, email, role, token_hash, invited_by, mail_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(inv.group_id).bind(&inv.email).bind(&inv.role).bind(&inv.token_hash)
        .bind(inv.invited_by).bind(mail_id).bind(now).bind(inv.expires_at)
        .execute(&mut *tx).await?;
        let id = result.insert_id();
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// The invitations of a group, newest first.
pub async fn list_invitations(db: &Db, group_id: i64) -> Result<Vec<InvitationRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, InvitationRow>(
            "SELECT i.id, i.group_id, i.email, i.role, u.name AS inviter_name, i.mail_id, i.created_at, \
             i.expires_at, i.accepted_at, i.revoked_at FROM invitations i JOIN users u ON u.id = i.invited_by \
             WHERE i.group_id = ? ORDER BY i.created_at DESC, i.id DESC",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// One invitation of a group.
pub async fn find_invitation(
    db: &Db,
    group_id: i64,
    id: i64,
) -> Result<Option<InvitationRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, InvitationRow>(
            "SELECT i.id, i.group_id, i.email, i.role, u.name AS inviter_name, i.mail_id, i.created_at, \
             i.expires_at, i.accepted_at, i.revoked_at FROM invitations i JOIN users u ON u.id = i.invited_by \
             WHERE i.group_id = ? AND i.id = ?",
        )
        .bind(group_id).bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// An invitation by token hash.
pub async fn invitation_by_token(
    db: &Db,
    token_hash: &str,
) -> Result<Option<InvitationRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, InvitationRow>(
            "SELECT i.id, i.group_id, i.email, i.role, u.name AS inviter_name, i.mail_id, i.created_at, \
             i.expires_at, i.accepted_at, i.revoked_at FROM invitations i JOIN users u ON u.id = i.invited_by \
             WHERE i.token_hash = ?",
        )
        .bind(token_hash).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Revokes a pending invitation; `false` when it was not pending.
pub async fn revoke_invitation(db: &Db, group_id: i64, id: i64, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE invitations SET revoked_at = ? WHERE group_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL")
            .bind(now).bind(group_id).bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Gives a pending invitation a new token, expiry and mail (the old link stops working).
pub async fn renew_invitation(
    db: &Db,
    group_id: i64,
    id: i64,
    token_hash: &str,
    expires_at: i64,
    mail: &NewMail,
    now: i64,
) -> Result<bool, DbError> {
    let renewed = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let mail_id = enqueue!(tx, mail, now);
        let n = sqlx::query(
            "UPDATE invitations SET token_hash = ?, expires_at = ?, mail_id = ? \
             WHERE group_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(token_hash).bind(expires_at).bind(mail_id).bind(group_id).bind(id)
        .execute(&mut *tx).await?.rows_affected();
        if n == 1 { tx.commit().await?; } else { tx.rollback().await?; }
        n == 1
    });
    Ok(renewed)
}

/// What accepting did.
#[derive(Debug, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// The user joined the group.
    Joined,
    /// The user already was a member; nothing changed.
    AlreadyMember,
    /// The invitation (or link) is no longer usable.
    NotUsable,
}

/// Accepts an email invitation for `user_id`: claims it (pending, unexpired) and adds the
/// membership in one transaction.
pub async fn accept_invitation(
    db: &Db,
    id: i64,
    group_id: i64,
    role: &str,
    user_id: i64,
    now: i64,
) -> Result<AcceptOutcome, DbError> {
    let outcome = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let member: Option<String> = sqlx::query_scalar("SELECT role FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id).bind(user_id).fetch_optional(&mut *tx).await?;
        if member.is_some() {
            tx.rollback().await?;
            AcceptOutcome::AlreadyMember
        } else {
            let claimed = sqlx::query(
                "UPDATE invitations SET accepted_at = ?, accepted_by = ? \
                 WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
            )
            .bind(now).bind(user_id).bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
            if claimed == 1 {
                sqlx::query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
                    .bind(group_id).bind(user_id).bind(role).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
                AcceptOutcome::Joined
            } else {
                tx.rollback().await?;
                AcceptOutcome::NotUsable
            }
        }
    });
    Ok(outcome)
}

/// A new invite link.
#[derive(Clone, Debug)]
pub struct NewInviteLink {
    /// Group.
    pub group_id: i64,
    /// Role.
    pub role: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Maximum uses.
    pub max_uses: Option<i64>,
    /// Creator.
    pub created_by: i64,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
}

/// Stores an invite link; returns its id.
pub async fn create_link(db: &Db, link: &NewInviteLink, now: i64) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO invite_links (group_id, role, token_hash, max_uses, uses, created_by, created_at, expires_at) \
             VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
        )
        .bind(link.group_id).bind(&link.role).bind(&link.token_hash).bind(link.max_uses)
        .bind(link.created_by).bind(now).bind(link.expires_at)
        .execute(pool).await?.insert_id()
    });
    Ok(id)
}

/// The links of a group, newest first.
pub async fn list_links(db: &Db, group_id: i64) -> Result<Vec<InviteLinkRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, InviteLinkRow>(
            "SELECT l.id, l.group_id, l.role, l.max_uses, l.uses, u.name AS inviter_name, l.created_at, l.expires_at, l.revoked_at \
             FROM invite_links l JOIN users u ON u.id = l.created_by WHERE l.group_id = ? ORDER BY l.created_at DESC, l.id DESC",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// A link by token hash.
pub async fn link_by_token(db: &Db, token_hash: &str) -> Result<Option<InviteLinkRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, InviteLinkRow>(
            "SELECT l.id, l.group_id, l.role, l.max_uses, l.uses, u.name AS inviter_name, l.created_at, l.expires_at, l.revoked_at \
             FROM invite_links l JOIN users u ON u.id = l.created_by WHERE l.token_hash = ?",
        )
        .bind(token_hash).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Revokes a link; `false` when it was already revoked or does not exist.
pub async fn revoke_link(db: &Db, group_id: i64, id: i64, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE invite_links SET revoked_at = ? WHERE group_id = ? AND id = ? AND revoked_at IS NULL")
            .bind(now).bind(group_id).bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Uses a link for `user_id`: claims one use (not revoked, unexpired, under its cap) and adds
/// the membership in one transaction.
pub async fn accept_link(
    db: &Db,
    id: i64,
    group_id: i64,
    role: &str,
    user_id: i64,
    now: i64,
) -> Result<AcceptOutcome, DbError> {
    let outcome = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let member: Option<String> = sqlx::query_scalar("SELECT role FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id).bind(user_id).fetch_optional(&mut *tx).await?;
        if member.is_some() {
            tx.rollback().await?;
            AcceptOutcome::AlreadyMember
        } else {
            let claimed = sqlx::query(
                "UPDATE invite_links SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL \
                 AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > ?)",
            )
            .bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
            if claimed == 1 {
                sqlx::query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
                    .bind(group_id).bind(user_id).bind(role).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
                AcceptOutcome::Joined
            } else {
                tx.rollback().await?;
                AcceptOutcome::NotUsable
            }
        }
    });
    Ok(outcome)
}
