//! Instance-wide settings kept on the one-row `instance` table: the USD->CNY display rate.

use super::{Db, DbError, on_pool};

/// The display rate as stored: ten-thousandths of CNY per USD, who set it and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RateRow {
    /// Ten-thousandths of CNY per USD; `None` until an administrator sets one.
    pub cny_per_usd_e4: Option<i64>,
    /// Who set it.
    pub cny_per_usd_updated_by: Option<i64>,
    /// When (ms).
    pub cny_per_usd_updated_at: Option<i64>,
}

/// The stored rate (all `None` while the configured default applies).
pub async fn rate(db: &Db) -> Result<RateRow, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, RateRow>(
            "SELECT cny_per_usd_e4, cny_per_usd_updated_by, cny_per_usd_updated_at \
             FROM instance WHERE id = 1",
        )
        .fetch_optional(pool)
        .await?
    });
    Ok(row.unwrap_or(RateRow {
        cny_per_usd_e4: None,
        cny_per_usd_updated_by: None,
        cny_per_usd_updated_at: None,
    }))
}

/// Sets the rate, or with `None` goes back to the configured default.
pub async fn set_rate(db: &Db, rate: Option<i64>, by: i64, now: i64) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE instance SET cny_per_usd_e4 = ?, cny_per_usd_updated_by = ?, \
             cny_per_usd_updated_at = ? WHERE id = 1",
        )
        .bind(rate)
        .bind(by)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}
