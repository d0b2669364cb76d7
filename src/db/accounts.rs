//! Upstream accounts and their bindings to groups.

use super::{BeginWrite, Db, DbError, InsertId, on_pool};

/// An upstream account as stored (credentials still sealed).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Provider kind.
    pub provider: String,
    /// API root.
    pub base_url: String,
    /// Sealed API key.
    pub api_key_enc: String,
    /// Last 4 characters of the key.
    pub api_key_last4: String,
    /// JSON array of model names.
    pub models: String,
    /// JSON object alias -> model.
    pub model_aliases: String,
    /// Sealed proxy URL.
    pub proxy_url_enc: Option<String>,
    /// Proxy URL with the password masked.
    pub proxy_display: Option<String>,
    /// Weight.
    pub weight: i64,
    /// Priority.
    pub priority: i64,
    /// Dedicated group.
    pub group_id: Option<i64>,
    /// Enabled flag.
    pub enabled: bool,
    /// Last failure.
    pub last_error: Option<String>,
    /// When.
    pub last_error_at: Option<i64>,
    /// Last test latency.
    pub last_test_ms: Option<i64>,
    /// Requests in flight at once.
    pub max_concurrency: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Creator.
    pub created_by: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Updated (ms).
    pub updated_at: i64,
}

/// `SELECT` of every account column, followed by `$tail`.
macro_rules! select_accounts {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, provider, base_url, api_key_enc, api_key_last4, models, ",
            "model_aliases, proxy_url_enc, proxy_display, weight, priority, group_id, enabled, ",
            "last_error, last_error_at, last_test_ms, max_concurrency, rpm_limit, tpm_limit, ",
            "created_by, created_at, updated_at ",
            "FROM upstream_accounts ",
            $tail
        )
    };
}

/// Everything needed to store a new account.
#[derive(Clone, Debug)]
pub struct NewAccount<'a> {
    /// Name.
    pub name: &'a str,
    /// Provider kind.
    pub provider: &'a str,
    /// API root.
    pub base_url: &'a str,
    /// Sealed key.
    pub api_key_enc: &'a str,
    /// Key hint.
    pub api_key_last4: &'a str,
    /// Models JSON.
    pub models: &'a str,
    /// Aliases JSON.
    pub model_aliases: &'a str,
    /// Sealed proxy.
    pub proxy_url_enc: Option<&'a str>,
    /// Proxy shown.
    pub proxy_display: Option<&'a str>,
    /// Weight.
    pub weight: i64,
    /// Priority.
    pub priority: i64,
    /// Dedicated group.
    pub group_id: Option<i64>,
    /// Enabled.
    pub enabled: bool,
    /// Concurrency cap.
    pub max_concurrency: Option<i64>,
    /// Requests per minute cap.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute cap.
    pub tpm_limit: Option<i64>,
    /// Creator.
    pub created_by: i64,
}

/// Stores a new account; returns its id.
pub async fn create(db: &Db, a: &NewAccount<'_>, now: i64) -> Result<i64, DbError> {
    let id = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO upstream_accounts (name, provider, base_url, api_key_enc, api_key_last4, \
             models, model_aliases, proxy_url_enc, proxy_display, weight, priority, group_id, \
             enabled, max_concurrency, rpm_limit, tpm_limit, created_by, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.name).bind(a.provider).bind(a.base_url).bind(a.api_key_enc)
        .bind(a.api_key_last4).bind(a.models).bind(a.model_aliases).bind(a.proxy_url_enc)
        .bind(a.proxy_display).bind(a.weight).bind(a.priority).bind(a.group_id)
        .bind(a.enabled).bind(a.max_concurrency).bind(a.rpm_limit).bind(a.tpm_limit)
        .bind(a.created_by).bind(now).bind(now)
        .execute(pool).await?.insert_id()
    });
    Ok(id)
}

/// Replaces every editable column of an account (the service merges a patch first).
pub async fn update(db: &Db, id: i64, a: &NewAccount<'_>, now: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE upstream_accounts SET name = ?, base_url = ?, api_key_enc = ?, \
             api_key_last4 = ?, models = ?, model_aliases = ?, proxy_url_enc = ?, \
             proxy_display = ?, weight = ?, priority = ?, enabled = ?, max_concurrency = ?, \
             rpm_limit = ?, tpm_limit = ?, updated_at = ? WHERE id = ?",
        )
        .bind(a.name).bind(a.base_url).bind(a.api_key_enc).bind(a.api_key_last4)
        .bind(a.models).bind(a.model_aliases).bind(a.proxy_url_enc).bind(a.proxy_display)
        .bind(a.weight).bind(a.priority).bind(a.enabled).bind(a.max_concurrency)
        .bind(a.rpm_limit).bind(a.tpm_limit).bind(now).bind(id)
        .execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// One account.
pub async fn find(db: &Db, id: i64) -> Result<Option<AccountRow>, DbError> {
    let sql = select_accounts!("WHERE id = ?");
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, AccountRow>(sql).bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Every account, by id.
pub async fn list_all(db: &Db) -> Result<Vec<AccountRow>, DbError> {
    let sql = select_accounts!("ORDER BY id");
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, AccountRow>(sql).fetch_all(pool).await?
    });
    Ok(rows)
}

/// Accounts dedicated to the groups `user_id` owns or administers.
pub async fn list_dedicated(db: &Db, user_id: i64) -> Result<Vec<AccountRow>, DbError> {
    let sql = select_accounts!(
        "WHERE group_id IN (SELECT group_id FROM group_members \
         WHERE user_id = ? AND role IN ('owner', 'admin')) ORDER BY id"
    );
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, AccountRow>(sql).bind(user_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// Deletes an account, in one transaction with the groups' limits on it (bindings go with it
/// by their foreign key).
pub async fn delete(db: &Db, id: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query("DELETE FROM usage_limits WHERE scope = 'account' AND target_id = ?")
            .bind(id).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM upstream_accounts WHERE id = ?")
            .bind(id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        n
    });
    Ok(n == 1)
}

/// Records the outcome of a connection test or a failed request.
pub async fn record_health(
    db: &Db,
    id: i64,
    error: Option<&str>,
    latency_ms: Option<i64>,
    now: i64,
) -> Result<(), DbError> {
    on_pool!(db, pool => {
        match error {
            Some(error) => sqlx::query(
                "UPDATE upstream_accounts SET last_error = ?, last_error_at = ? WHERE id = ?",
            )
            .bind(error).bind(now).bind(id).execute(pool).await?,
            None => sqlx::query(
                "UPDATE upstream_accounts SET last_error = NULL, last_test_ms = ? WHERE id = ?",
            )
            .bind(latency_ms).bind(id).execute(pool).await?,
        };
    });
    Ok(())
}

/// A group-account binding.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BindingRow {
    /// Group.
    pub group_id: i64,
    /// Account.
    pub account_id: i64,
    /// Priority override.
    pub priority: Option<i64>,
    /// Weight override.
    pub weight: Option<i64>,
}

/// Binds an account to a group, or updates the binding's priority and weight.
pub async fn bind(
    db: &Db,
    group_id: i64,
    account_id: i64,
    priority: Option<i64>,
    weight: Option<i64>,
    now: i64,
) -> Result<(), DbError> {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query(
                "INSERT INTO group_accounts (group_id, account_id, priority, weight, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, account_id) DO UPDATE SET \
                 priority = excluded.priority, weight = excluded.weight, updated_at = excluded.updated_at",
            )
            .bind(group_id)
            .bind(account_id)
            .bind(priority)
            .bind(weight)
            .bind(now)
            .execute(pool)
            .await?;
        }
        Db::Mysql(pool) => {
            sqlx::query(
                "INSERT INTO group_accounts (group_id, account_id, priority, weight, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                 priority = VALUES(priority), weight = VALUES(weight), updated_at = VALUES(updated_at)",
            )
            .bind(group_id)
            .bind(account_id)
            .bind(priority)
            .bind(weight)
            .bind(now)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// Removes a binding.
pub async fn unbind(db: &Db, group_id: i64, account_id: i64) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("DELETE FROM group_accounts WHERE group_id = ? AND account_id = ?")
            .bind(group_id).bind(account_id).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Every binding (the gateway's routing snapshot).
pub async fn list_bindings(db: &Db) -> Result<Vec<BindingRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, BindingRow>(
            "SELECT group_id, account_id, priority, weight FROM group_accounts \
             ORDER BY group_id, account_id",
        )
        .fetch_all(pool).await?
    });
    Ok(rows)
}

/// The bindings of one group.
pub async fn bindings_of_group(db: &Db, group_id: i64) -> Result<Vec<BindingRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, BindingRow>(
            "SELECT group_id, account_id, priority, weight FROM group_accounts \
             WHERE group_id = ? ORDER BY account_id",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// A fingerprint of the routing configuration (accounts and bindings) that changes whenever
/// any node changes it: the gateway reloads its snapshot when it differs from the last one.
pub async fn config_fingerprint(db: &Db) -> Result<[i64; 7], DbError> {
    let row: (i64, i64, i64, i64, i64, i64, i64) = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM upstream_accounts), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM upstream_accounts), \
             (SELECT COUNT(*) FROM group_accounts), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM group_accounts), \
             (SELECT COUNT(*) FROM model_routes), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM model_routes), \
             (SELECT COALESCE(MAX(updated_at), 0) FROM carpool_groups)",
        )
        .fetch_one(pool).await?
    });
    Ok([row.0, row.1, row.2, row.3, row.4, row.5, row.6])
}
