//! Member keys: stored as SHA-256 hex, never the key itself.

use super::{Db, DbError, InsertId, on_pool};

/// A key with its owner's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Owner.
    pub user_id: i64,
    /// Owner's display name.
    pub user_name: String,
    /// Name.
    pub name: String,
    /// SHA-256 hex of the key.
    pub key_hash: String,
    /// First characters.
    pub prefix: String,
    /// Last 4 characters.
    pub last4: String,
    /// JSON array of allowed models, or `NULL` for all.
    pub models: Option<String>,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Last used (ms).
    pub last_used_at: Option<i64>,
}

/// `SELECT` of a key joined with its owner, followed by `$tail`.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT k.id, k.group_id, k.user_id, u.name AS user_name, k.name, k.key_hash, ",
            "k.prefix, k.last4, k.models, k.expires_at, k.revoked_at, k.created_at, ",
            "k.last_used_at FROM member_keys k JOIN users u ON u.id = k.user_id ",
            $tail
        )
    };
}

/// A key to store.
#[derive(Clone, Debug)]
pub struct NewKey<'a> {
    /// Group.
    pub group_id: i64,
    /// Owner.
    pub user_id: i64,
    /// Name.
    pub name: &'a str,
    /// SHA-256 hex.
    pub key_hash: &'a str,
    /// First characters.
    pub prefix: &'a str,
    /// Last 4.
    pub last4: &'a str,
    /// Allowed models JSON.
    pub models: Option<&'a str>,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
}

/// Stores a key; returns its id.
pub async fn create(db: &Db, k: &NewKey<'_>, now: i64) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO member_keys (group_id, user_id, name, key_hash, prefix, last4, models, \
             expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.group_id).bind(k.user_id).bind(k.name).bind(k.key_hash).bind(k.prefix)
        .bind(k.last4).bind(k.models).bind(k.expires_at).bind(now)
        .execute(pool).await?.insert_id()
    });
    Ok(id)
}

/// One key by id.
pub async fn find(db: &Db, id: i64) -> Result<Option<KeyRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, KeyRow>(select_keys!("WHERE k.id = ?"))
            .bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// The key with this hash (the gateway's cache miss).
pub async fn find_by_hash(db: &Db, hash: &str) -> Result<Option<KeyRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, KeyRow>(select_keys!("WHERE k.key_hash = ?"))
            .bind(hash).fetch_optional(pool).await?
    });
    Ok(row)
}

/// A group's keys, or only one member's when `user_id` is given; newest first.
pub async fn list(db: &Db, group_id: i64, user_id: Option<i64>) -> Result<Vec<KeyRow>, DbError> {
    let rows = on_pool!(db, pool => {
        match user_id {
            Some(user_id) => sqlx::query_as::<_, KeyRow>(select_keys!(
                "WHERE k.group_id = ? AND k.user_id = ? ORDER BY k.id DESC"
            ))
            .bind(group_id).bind(user_id).fetch_all(pool).await?,
            None => sqlx::query_as::<_, KeyRow>(select_keys!(
                "WHERE k.group_id = ? ORDER BY k.id DESC"
            ))
            .bind(group_id).fetch_all(pool).await?,
        }
    });
    Ok(rows)
}

/// Revokes a key; `false` when it was already revoked or does not exist.
pub async fn revoke(db: &Db, id: i64, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE member_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now).bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Marks keys as used (batched by the usage writer).
pub async fn touch(db: &Db, ids: &[i64], now: i64) -> Result<(), DbError> {
    for id in ids {
        on_pool!(db, pool => {
            sqlx::query("UPDATE member_keys SET last_used_at = ? WHERE id = ?")
                .bind(now).bind(id).execute(pool).await?;
        });
    }
    Ok(())
}
