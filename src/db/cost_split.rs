//! The cost split's store: fixed costs per group and month, closed periods with their frozen
//! statement, and each group's time zone.

use super::{Db, DbError, InsertId, on_pool};

/// A fixed cost.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FixedRow {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// `YYYY-MM`.
    pub period: String,
    /// Name.
    pub name: String,
    /// Amount (micro-USD).
    pub amount_micros: i64,
    /// `equal`, `usage` or `weights`.
    pub split: String,
    /// JSON object of user id -> weight (micro-units).
    pub weights: Option<String>,
    /// Who entered it.
    pub created_by: i64,
    /// When (ms).
    pub created_at: i64,
}

/// A closed period.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodRow {
    /// When (ms).
    pub closed_at: i64,
    /// Who.
    pub closed_by: i64,
    /// The statement as JSON.
    pub snapshot: String,
}

/// A group's time zone (`None` when the group does not exist).
pub async fn time_zone(db: &Db, group_id: i64) -> Result<Option<String>, DbError> {
    let zone = on_pool!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT time_zone FROM carpool_groups WHERE id = ?")
            .bind(group_id).fetch_optional(pool).await?
    });
    Ok(zone)
}

/// Stores a fixed cost unless its period is closed (checked in the same statement, so a
/// concurrent close cannot slip between); returns its id, or `None` for a closed period.
pub async fn add_fixed(db: &Db, f: &FixedRow) -> Result<Option<i64>, DbError> {
    let (n, id) = on_pool!(db, pool => {
        let done = sqlx::query(
            "INSERT INTO cost_fixed (group_id, period, name, amount_micros, split, weights, \
             created_by, created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM carpool_groups g \
             WHERE g.id = ? AND NOT EXISTS (SELECT 1 FROM cost_periods p \
             WHERE p.group_id = ? AND p.period = ?)",
        )
        .bind(f.group_id).bind(&f.period).bind(&f.name).bind(f.amount_micros).bind(&f.split)
        .bind(&f.weights).bind(f.created_by).bind(f.created_at)
        .bind(f.group_id).bind(f.group_id).bind(&f.period)
        .execute(pool).await?;
        (done.rows_affected(), done.insert_id())
    });
    Ok((n == 1).then_some(id))
}

/// The fixed costs of a group's period, in the order they were entered.
pub async fn fixed_of(db: &Db, group_id: i64, period: &str) -> Result<Vec<FixedRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, FixedRow>(
            "SELECT id, group_id, period, name, amount_micros, split, weights, created_by, \
             created_at FROM cost_fixed WHERE group_id = ? AND period = ? ORDER BY id",
        )
        .bind(group_id).bind(period).fetch_all(pool).await?
    });
    Ok(rows)
}

/// One fixed cost of a group.
pub async fn find_fixed(db: &Db, group_id: i64, id: i64) -> Result<Option<FixedRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, FixedRow>(
            "SELECT id, group_id, period, name, amount_micros, split, weights, created_by, \
             created_at FROM cost_fixed WHERE group_id = ? AND id = ?",
        )
        .bind(group_id).bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Deletes a fixed cost unless its period is closed; `false` when nothing was deleted.
pub async fn delete_fixed(db: &Db, group_id: i64, id: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query(
            "DELETE FROM cost_fixed WHERE group_id = ? AND id = ? AND NOT EXISTS \
             (SELECT 1 FROM cost_periods p WHERE p.group_id = cost_fixed.group_id \
             AND p.period = cost_fixed.period)",
        )
        .bind(group_id).bind(id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// The closed period, if it is closed.
pub async fn period(db: &Db, group_id: i64, period: &str) -> Result<Option<PeriodRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, PeriodRow>(
            "SELECT closed_at, closed_by, snapshot FROM cost_periods \
             WHERE group_id = ? AND period = ?",
        )
        .bind(group_id).bind(period).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Closes a period with its statement; [`DbError::Conflict`] when it is already closed.
pub async fn close(db: &Db, group_id: i64, period: &str, row: &PeriodRow) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO cost_periods (group_id, period, closed_at, closed_by, snapshot) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(group_id).bind(period).bind(row.closed_at).bind(row.closed_by).bind(&row.snapshot)
        .execute(pool).await?;
    });
    Ok(())
}
