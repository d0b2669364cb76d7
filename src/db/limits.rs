//! Usage limits and model price overrides.

use super::{Db, DbError, InsertId, on_pool};

/// A stored limit.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LimitRow {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// `key`, `member`, `group`, `account`.
    pub scope: String,
    /// Target.
    pub target_id: Option<i64>,
    /// `requests`, `tokens`, `cost`.
    pub metric: String,
    /// `minute`, `day`, `month`, `total`.
    pub period: String,
    /// Cap (micro-USD for cost).
    pub cap: i64,
    /// JSON array of percentages.
    pub warn_at: String,
    /// Last change (ms).
    pub updated_at: i64,
}

/// Every limit (the gateway's catalog).
pub async fn list_all(db: &Db) -> Result<Vec<LimitRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, LimitRow>(
            "SELECT id, group_id, scope, target_id, metric, period, cap, warn_at, updated_at \
             FROM usage_limits ORDER BY id",
        )
        .fetch_all(pool).await?
    });
    Ok(rows)
}

/// A group's limits.
pub async fn list(db: &Db, group_id: i64) -> Result<Vec<LimitRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, LimitRow>(
            "SELECT id, group_id, scope, target_id, metric, period, cap, warn_at, updated_at \
             FROM usage_limits WHERE group_id = ? ORDER BY id",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// One limit.
pub async fn find(db: &Db, id: i64) -> Result<Option<LimitRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, LimitRow>(
            "SELECT id, group_id, scope, target_id, metric, period, cap, warn_at, updated_at \
             FROM usage_limits WHERE id = ?",
        )
        .bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Stores a limit; returns its id.
pub async fn create(db: &Db, row: &LimitRow, created_by: i64, now: i64) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO usage_limits (group_id, scope, target_id, metric, period, cap, warn_at, \
             created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.group_id).bind(&row.scope).bind(row.target_id).bind(&row.metric)
        .bind(&row.period).bind(row.cap).bind(&row.warn_at).bind(created_by).bind(now).bind(now)
        .execute(pool).await?.insert_id()
    });
    Ok(id)
}

/// Changes a limit's cap and thresholds.
pub async fn update(db: &Db, id: i64, cap: i64, warn_at: &str, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE usage_limits SET cap = ?, warn_at = ?, updated_at = ? WHERE id = ?")
            .bind(cap).bind(warn_at).bind(now).bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Deletes a limit.
pub async fn delete(db: &Db, id: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("DELETE FROM usage_limits WHERE id = ?").bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Every group's time zone.
pub async fn time_zones(db: &Db) -> Result<Vec<(i64, String)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as("SELECT id, time_zone FROM carpool_groups").fetch_all(pool).await?
    });
    Ok(rows)
}

/// Sets a group's time zone.
pub async fn set_time_zone(db: &Db, group_id: i64, zone: &str, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE carpool_groups SET time_zone = ?, updated_at = ? WHERE id = ?")
            .bind(zone).bind(now).bind(group_id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// A price override.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PriceRow {
    /// Model.
    pub model: String,
    /// Input.
    pub input: i64,
    /// Output.
    pub output: i64,
    /// Cache read.
    pub cache_read: i64,
    /// Cache write.
    pub cache_write: i64,
}

/// Every price override.
pub async fn prices(db: &Db) -> Result<Vec<PriceRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, PriceRow>(
            "SELECT model, input, output, cache_read, cache_write FROM model_prices ORDER BY model",
        )
        .fetch_all(pool).await?
    });
    Ok(rows)
}

/// Sets a price override.
pub async fn set_price(db: &Db, p: &PriceRow, by: i64, now: i64) -> Result<(), DbError> {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query(
                "INSERT INTO model_prices (model, input, output, cache_read, cache_write, updated_by, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET input = excluded.input, \
                 output = excluded.output, cache_read = excluded.cache_read, \
                 cache_write = excluded.cache_write, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
            )
            .bind(&p.model).bind(p.input).bind(p.output).bind(p.cache_read).bind(p.cache_write)
            .bind(by).bind(now).execute(pool).await?;
        }
        Db::Mysql(pool) => {
            sqlx::query(
                "INSERT INTO model_prices (model, input, output, cache_read, cache_write, updated_by, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE input = VALUES(input), \
                 output = VALUES(output), cache_read = VALUES(cache_read), \
                 cache_write = VALUES(cache_write), updated_by = VALUES(updated_by), \
                 updated_at = VALUES(updated_at)",
            )
            .bind(&p.model).bind(p.input).bind(p.output).bind(p.cache_read).bind(p.cache_write)
            .bind(by).bind(now).execute(pool).await?;
        }
    }
    Ok(())
}

/// Removes a price override.
pub async fn delete_price(db: &Db, model: &str) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("DELETE FROM model_prices WHERE model = ?").bind(model).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// The budget part of the configuration fingerprint.
pub async fn fingerprint(db: &Db) -> Result<[i64; 4], DbError> {
    let row: (i64, i64, i64, i64) = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM usage_limits), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM usage_limits), \
             (SELECT COUNT(*) FROM model_prices), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM model_prices)",
        )
        .fetch_one(pool).await?
    });
    Ok([row.0, row.1, row.2, row.3])
}
