//! Usage records: one per proxied request, written in batches together with their rollups
//! ([`super::rollups`]), and read back a page at a time for export.

use sqlx::QueryBuilder;

use super::{Db, DbError, on_pool};

/// One proxied request.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageRow {
    /// When it started (ms).
    pub created_at: i64,
    /// The request id (also in the `x-request-id` response header).
    pub request_id: String,
    /// Member key.
    pub key_id: i64,
    /// Member.
    pub user_id: i64,
    /// Group.
    pub group_id: i64,
    /// The account that served (or last tried).
    pub account_id: Option<i64>,
    /// Its provider.
    pub provider: Option<String>,
    /// `chat_completions`, `messages`, `count_tokens`, `responses`.
    pub endpoint: String,
    /// The model the client asked for.
    pub model_requested: String,
    /// The upstream model that answered.
    pub model_served: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: i64,
    /// Cost (micro-USD).
    pub cost_micros: i64,
    /// HTTP status sent to the client (499 when the client went away).
    pub status: i64,
    /// Failure class, when it failed.
    pub error_class: Option<String>,
    /// Streamed.
    pub streamed: bool,
    /// Upstream attempts.
    pub attempts: i64,
    /// Time to the first byte sent to the client (ms).
    pub ttfb_ms: Option<i64>,
    /// Total time (ms).
    pub total_ms: i64,
    /// Each attempt (JSON array of `{account_id, outcome, status?, ms?}`), and accounts
    /// skipped with the reason.
    pub attempt_log: Option<String>,
}

/// The `INSERT` of usage records up to `VALUES`, and how many columns a row binds.
pub(crate) const INSERT_HEAD: &str = "INSERT INTO usage_records (created_at, request_id, \
     key_id, user_id, group_id, account_id, provider, endpoint, model_requested, model_served, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, status, \
     error_class, streamed, attempts, ttfb_ms, total_ms, attempt_log) VALUES ";
pub(crate) const INSERT_COLUMNS: usize = 22;

/// Binds the [`INSERT_COLUMNS`] values of record `$r` to query `$q`, for either engine.
macro_rules! bind_record {
    ($q:expr, $r:expr) => {{
        let r = $r;
        $q.bind(r.created_at)
            .bind(&r.request_id)
            .bind(r.key_id)
            .bind(r.user_id)
            .bind(r.group_id)
            .bind(r.account_id)
            .bind(&r.provider)
            .bind(&r.endpoint)
            .bind(&r.model_requested)
            .bind(&r.model_served)
            .bind(r.input_tokens)
            .bind(r.output_tokens)
            .bind(r.cache_read_tokens)
            .bind(r.cache_write_tokens)
            .bind(r.cost_micros)
            .bind(r.status)
            .bind(&r.error_class)
            .bind(r.streamed)
            .bind(r.attempts)
            .bind(r.ttfb_ms)
            .bind(r.total_ms)
            .bind(&r.attempt_log)
    }};
}
pub(crate) use bind_record;

/// Inserts a batch in one statement, with its hourly and daily rollups, in one transaction:
/// either the records and their sums are stored, or neither (the writer then retries).
pub async fn insert_batch(db: &Db, rows: &[UsageRow]) -> Result<(), DbError> {
    super::rollups::insert_with_rollups(db, rows).await
}

/// Which records [`list`] and [`count_matching`] select.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordFilter {
    /// Only this group.
    pub group_id: Option<i64>,
    /// Only this member.
    pub user_id: Option<i64>,
    /// From this time (ms, inclusive).
    pub from: i64,
    /// Until this time (ms, exclusive).
    pub to: i64,
}

fn push_filter<DB: sqlx::Database>(q: &mut QueryBuilder<DB>, f: &RecordFilter)
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.push(" WHERE created_at >= ").push_bind(f.from);
    q.push(" AND created_at < ").push_bind(f.to);
    if let Some(group_id) = f.group_id {
        q.push(" AND group_id = ").push_bind(group_id);
    }
    if let Some(user_id) = f.user_id {
        q.push(" AND user_id = ").push_bind(user_id);
    }
}

/// Records matching a filter in the order they were written, a page at a time.
pub async fn list(
    db: &Db,
    filter: &RecordFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<UsageRow>, DbError> {
    let rows = on_pool!(db, pool => {
        let mut q = QueryBuilder::new(
            "SELECT created_at, request_id, key_id, user_id, group_id, account_id, provider, \
             endpoint, model_requested, model_served, input_tokens, output_tokens, \
             cache_read_tokens, cache_write_tokens, cost_micros, status, error_class, streamed, \
             attempts, ttfb_ms, total_ms, attempt_log FROM usage_records",
        );
        push_filter(&mut q, filter);
        // By id: rows written while someone pages through land after the last page, never inside.
        q.push(" ORDER BY id LIMIT ").push_bind(limit);
        q.push(" OFFSET ").push_bind(offset);
        q.build_query_as::<UsageRow>().fetch_all(pool).await?
    });
    Ok(rows)
}

/// How many records match a filter.
pub async fn count_matching(db: &Db, filter: &RecordFilter) -> Result<i64, DbError> {
    let n: i64 = on_pool!(db, pool => {
        let mut q = QueryBuilder::new("SELECT COUNT(*) FROM usage_records");
        push_filter(&mut q, filter);
        q.build_query_scalar().fetch_one(pool).await?
    });
    Ok(n)
}

/// The most recent records of a group (newest first), for tests and the usage pages.
pub async fn recent(db: &Db, group_id: i64, limit: i64) -> Result<Vec<UsageRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, UsageRow>(
            "SELECT created_at, request_id, key_id, user_id, group_id, account_id, provider, \
             endpoint, model_requested, model_served, input_tokens, output_tokens, \
             cache_read_tokens, cache_write_tokens, cost_micros, status, error_class, streamed, \
             attempts, ttfb_ms, total_ms, attempt_log FROM usage_records WHERE group_id = ? \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(group_id).bind(limit).fetch_all(pool).await?
    });
    Ok(rows)
}

/// How many records exist (all groups).
pub async fn count(db: &Db) -> Result<i64, DbError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM usage_records").fetch_one(pool).await?
    });
    Ok(n)
}
