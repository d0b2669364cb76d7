//! Login sessions: one row per issued token, so logout and password changes revoke for real.

use super::{Db, DbError, on_pool};

/// A row of `sessions`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    /// Random id (in the token's `sid` claim).
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Expiry (ms).
    pub expires_at: i64,
    /// When it was revoked (ms), if it was.
    pub revoked_at: Option<i64>,
}

/// Records a new session.
pub async fn create(
    db: &Db,
    id: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
    user_agent: Option<&str>,
) -> Result<(), DbError> {
    let agent = user_agent.map(|a| a.chars().take(255).collect::<String>());
    on_pool!(db, pool => {
        sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, user_agent) VALUES (?, ?, ?, ?, NULL, ?)")
            .bind(id).bind(user_id).bind(now).bind(expires_at).bind(agent)
            .execute(pool).await?;
    });
    Ok(())
}

/// Finds a session by id.
pub async fn find(db: &Db, id: &str) -> Result<Option<SessionRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, SessionRow>("SELECT id, user_id, expires_at, revoked_at FROM sessions WHERE id = ?")
            .bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Revokes one session.
pub async fn revoke(db: &Db, id: &str, now: i64) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now).bind(id).execute(pool).await?;
    });
    Ok(())
}

/// Revokes every session of a user (password change).
pub async fn revoke_all_for_user(db: &Db, user_id: i64, now: i64) -> Result<u64, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now).bind(user_id).execute(pool).await?.rows_affected()
    });
    Ok(n)
}
