//! Carpool groups and their members.

use super::BeginWrite;
use super::{Db, DbError, InsertId, on_pool};

/// A group with the caller's role and the member count.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GroupRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Members.
    pub member_count: i64,
}

/// A member with their user data.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberRow {
    /// User id.
    pub user_id: i64,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Joined (ms).
    pub joined_at: i64,
}

/// Creates a group with its creator as owner, in one transaction.
pub async fn create(
    db: &Db,
    name: &str,
    description: &str,
    owner_id: i64,
    now: i64,
) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let result = sqlx::query("INSERT INTO carpool_groups (name, description, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(name).bind(description).bind(owner_id).bind(now).bind(now)
            .execute(&mut *tx).await?;
        let id = result.insert_id();
        sqlx::query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)")
            .bind(id).bind(owner_id).bind(now)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// One group.
pub async fn find(db: &Db, id: i64) -> Result<Option<GroupRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, GroupRow>(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count \
             FROM carpool_groups g WHERE g.id = ?",
        )
        .bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// The groups a user belongs to, with their role, by name.
pub async fn list_for_user(db: &Db, user_id: i64) -> Result<Vec<(GroupRow, String)>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        description: String,
        created_at: i64,
        member_count: i64,
        role: String,
    }
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as::<_, Row>(
            "SELECT g.id, g.name, g.description, g.created_at, \
             (SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id) AS member_count, m.role \
             FROM carpool_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = ? ORDER BY g.name, g.id",
        )
        .bind(user_id).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                GroupRow {
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    created_at: r.created_at,
                    member_count: r.member_count,
                },
                r.role,
            )
        })
        .collect())
}

/// Renames or re-describes a group.
pub async fn update(
    db: &Db,
    id: i64,
    name: &str,
    description: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE carpool_groups SET name = ?, description = ?, updated_at = ? WHERE id = ?")
            .bind(name).bind(description).bind(now).bind(id)
            .execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Deletes a group; members, invitations and links go with it.
pub async fn delete(db: &Db, id: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        // Explicit deletes: SQLite only cascades with foreign keys on, and this keeps both
        // engines identical whatever their settings.
        for sql in [
            "DELETE FROM invitations WHERE group_id = ?",
            "DELETE FROM invite_links WHERE group_id = ?",
            "DELETE FROM group_members WHERE group_id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM carpool_groups WHERE id = ?").bind(id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        n
    });
    Ok(n == 1)
}

/// A user's role in a group, if they are a member.
pub async fn role_of(db: &Db, group_id: i64, user_id: i64) -> Result<Option<String>, DbError> {
    let role = on_pool!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT role FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id).bind(user_id).fetch_optional(pool).await?
    });
    Ok(role)
}

/// The members of a group, owners first.
pub async fn members(db: &Db, group_id: i64) -> Result<Vec<MemberRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, MemberRow>(
            "SELECT u.id AS user_id, u.email, u.name, m.role, m.joined_at FROM group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id = ? \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.name, u.id",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// Changes a member's role, unless that would leave the group without an owner. Returns
/// `Ok(false)` when the member does not exist, `Err(Conflict)` for the last owner.
pub async fn set_role(db: &Db, group_id: i64, user_id: i64, role: &str) -> Result<bool, DbError> {
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query("UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?")
            .bind(role).bind(group_id).bind(user_id).execute(&mut *tx).await?.rows_affected();
        let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = ? AND role = 'owner'")
            .bind(group_id).fetch_one(&mut *tx).await?;
        if owners == 0 {
            tx.rollback().await?;
            return Err(DbError::Conflict("last owner".to_owned()));
        }
        tx.commit().await?;
        n == 1
    });
    Ok(changed)
}

/// Removes a member (or lets one leave), unless they are the last owner.
pub async fn remove_member(db: &Db, group_id: i64, user_id: i64) -> Result<bool, DbError> {
    let removed = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id).bind(user_id).execute(&mut *tx).await?.rows_affected();
        let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = ? AND role = 'owner'")
            .bind(group_id).fetch_one(&mut *tx).await?;
        if owners == 0 {
            tx.rollback().await?;
            return Err(DbError::Conflict("last owner".to_owned()));
        }
        tx.commit().await?;
        n == 1
    });
    Ok(removed)
}

/// Makes `to` an owner and `from` an admin, in one transaction. `Ok(false)` when `to` is not
/// a member.
pub async fn transfer_ownership(
    db: &Db,
    group_id: i64,
    from: i64,
    to: i64,
) -> Result<bool, DbError> {
    let done = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query("UPDATE group_members SET role = 'owner' WHERE group_id = ? AND user_id = ?")
            .bind(group_id).bind(to).execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            tx.rollback().await?;
            false
        } else {
            sqlx::query("UPDATE group_members SET role = 'admin' WHERE group_id = ? AND user_id = ? AND user_id <> ?")
                .bind(group_id).bind(from).bind(to).execute(&mut *tx).await?;
            tx.commit().await?;
            true
        }
    });
    Ok(done)
}
