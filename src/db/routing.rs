//! Routing settings of groups: the strategy, and model fallback chains (an alias naming an
//! ordered list of models, possibly across providers).

use super::{Db, DbError, on_pool};

/// A fallback chain.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RouteRow {
    /// Group.
    pub group_id: i64,
    /// The name clients use.
    pub alias: String,
    /// JSON array of model names, tried in order.
    pub models: String,
}

/// Every group's strategy.
pub async fn strategies(db: &Db) -> Result<Vec<(i64, String)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as("SELECT id, routing_strategy FROM carpool_groups").fetch_all(pool).await?
    });
    Ok(rows)
}

/// One group's strategy.
pub async fn strategy(db: &Db, group_id: i64) -> Result<Option<String>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT routing_strategy FROM carpool_groups WHERE id = ?")
            .bind(group_id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Sets a group's strategy.
pub async fn set_strategy(
    db: &Db,
    group_id: i64,
    strategy: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE carpool_groups SET routing_strategy = ?, updated_at = ? WHERE id = ?")
            .bind(strategy).bind(now).bind(group_id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Every fallback chain.
pub async fn routes(db: &Db) -> Result<Vec<RouteRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, RouteRow>("SELECT group_id, alias, models FROM model_routes ORDER BY group_id, alias")
            .fetch_all(pool).await?
    });
    Ok(rows)
}

/// A group's fallback chains.
pub async fn routes_of_group(db: &Db, group_id: i64) -> Result<Vec<RouteRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, RouteRow>(
            "SELECT group_id, alias, models FROM model_routes WHERE group_id = ? ORDER BY alias",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// Creates or replaces a chain.
pub async fn set_route(
    db: &Db,
    group_id: i64,
    alias: &str,
    models: &str,
    now: i64,
) -> Result<(), DbError> {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query(
                "INSERT INTO model_routes (group_id, alias, models, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (group_id, alias) DO UPDATE SET models = excluded.models, \
                 updated_at = excluded.updated_at",
            )
            .bind(group_id).bind(alias).bind(models).bind(now)
            .execute(pool).await?;
        }
        Db::Mysql(pool) => {
            sqlx::query(
                "INSERT INTO model_routes (group_id, alias, models, updated_at) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE models = VALUES(models), updated_at = VALUES(updated_at)",
            )
            .bind(group_id).bind(alias).bind(models).bind(now)
            .execute(pool).await?;
        }
    }
    Ok(())
}

/// Deletes a chain.
pub async fn delete_route(db: &Db, group_id: i64, alias: &str) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("DELETE FROM model_routes WHERE group_id = ? AND alias = ?")
            .bind(group_id).bind(alias).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}
