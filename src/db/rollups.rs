//! Usage rollups: hourly (UTC hours) and daily (days at UTC+08:00) sums per group, member, key,
//! account and model, upserted in the transaction that inserts the usage records themselves, so
//! the charts read a few rows per hour and can never drift from the records.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex, PoisonError};

use sqlx::QueryBuilder;

use super::usage::UsageRow;
use super::{Db, DbError, on_pool};

/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// The UTC offset of the daily table's days (Asia/Shanghai, the default group time zone).
pub const DAILY_OFFSET_MS: i64 = 8 * HOUR_MS;

/// The columns both tables share, in insert order.
macro_rules! rollup_columns {
    () => {
        "bucket_start, group_id, user_id, key_id, account_id, model, requests, errors, \
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, \
         ttfb_ms_sum, ttfb_ms_count, total_ms_sum"
    };
}

/// The sums of the metric columns, `x = x + <pre>x<post>`; the same clause for both tables.
macro_rules! sums {
    ($pre:literal, $post:literal) => {
        concat!(
            "requests = requests + ",
            $pre,
            "requests",
            $post,
            ", ",
            "errors = errors + ",
            $pre,
            "errors",
            $post,
            ", ",
            "input_tokens = input_tokens + ",
            $pre,
            "input_tokens",
            $post,
            ", ",
            "output_tokens = output_tokens + ",
            $pre,
            "output_tokens",
            $post,
            ", ",
            "cache_read_tokens = cache_read_tokens + ",
            $pre,
            "cache_read_tokens",
            $post,
            ", ",
            "cache_write_tokens = cache_write_tokens + ",
            $pre,
            "cache_write_tokens",
            $post,
            ", ",
            "cost_micros = cost_micros + ",
            $pre,
            "cost_micros",
            $post,
            ", ",
            "ttfb_ms_sum = ttfb_ms_sum + ",
            $pre,
            "ttfb_ms_sum",
            $post,
            ", ",
            "ttfb_ms_count = ttfb_ms_count + ",
            $pre,
            "ttfb_ms_count",
            $post,
            ", ",
            "total_ms_sum = total_ms_sum + ",
            $pre,
            "total_ms_sum",
            $post
        )
    };
}

/// SQLite's upsert tail.
const SQLITE_UPSERT: &str = concat!(
    " ON CONFLICT (bucket_start, group_id, user_id, key_id, account_id, model) DO UPDATE SET ",
    sums!("excluded.", "")
);
/// MySQL's upsert tail.
const MYSQL_UPSERT: &str = concat!(" ON DUPLICATE KEY UPDATE ", sums!("VALUES(", ")"));

/// The key of one rollup row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    /// Start of the bucket (ms).
    pub bucket_start: i64,
    /// Group.
    pub group_id: i64,
    /// Member.
    pub user_id: i64,
    /// Member key.
    pub key_id: i64,
    /// Serving account, 0 when none served.
    pub account_id: i64,
    /// Served model, else the requested one.
    pub model: String,
}

/// The sums of one rollup row (or of any set of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RollupSums {
    /// Requests.
    pub requests: i64,
    /// Requests answered with a status of 400 or more (499: the client went away).
    pub errors: i64,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache-read tokens.
    pub cache_read_tokens: i64,
    /// Cache-write tokens.
    pub cache_write_tokens: i64,
    /// Cost (micro-USD).
    pub cost_micros: i64,
    /// Sum of the times to first byte that were measured (ms).
    pub ttfb_ms_sum: i64,
    /// How many were measured.
    pub ttfb_ms_count: i64,
    /// Sum of the total times (ms).
    pub total_ms_sum: i64,
}

impl RollupSums {
    /// Adds another set of sums.
    pub fn add(&mut self, o: &RollupSums) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cache_write_tokens += o.cache_write_tokens;
        self.cost_micros += o.cost_micros;
        self.ttfb_ms_sum += o.ttfb_ms_sum;
        self.ttfb_ms_count += o.ttfb_ms_count;
        self.total_ms_sum += o.total_ms_sum;
    }

    fn of(r: &UsageRow) -> RollupSums {
        RollupSums {
            requests: 1,
            errors: i64::from(r.status >= 400),
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cost_micros: r.cost_micros,
            ttfb_ms_sum: r.ttfb_ms.unwrap_or(0),
            ttfb_ms_count: i64::from(r.ttfb_ms.is_some()),
            total_ms_sum: r.total_ms,
        }
    }
}

/// Start of the UTC hour of `ms`.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Start of the day of `ms` at a UTC offset (ms), as ms since the epoch.
pub fn day_of(ms: i64, offset_ms: i64) -> i64 {
    (ms + offset_ms).div_euclid(DAY_MS) * DAY_MS - offset_ms
}

/// Sums a batch of records into hourly and daily rows, in key order (so concurrent writers
/// lock rows in the same order and cannot deadlock each other).
pub type Folded = BTreeMap<RollupKey, RollupSums>;

/// Folds records into (hourly, daily) rollup rows.
pub fn fold(rows: &[UsageRow]) -> (Folded, Folded) {
    let (mut hourly, mut daily) = (Folded::new(), Folded::new());
    for r in rows {
        let sums = RollupSums::of(r);
        let mut key = RollupKey {
            bucket_start: hour_of(r.created_at),
            group_id: r.group_id,
            user_id: r.user_id,
            key_id: r.key_id,
            account_id: r.account_id.unwrap_or(0),
            model: r
                .model_served
                .clone()
                .unwrap_or_else(|| r.model_requested.clone()),
        };
        hourly.entry(key.clone()).or_default().add(&sums);
        key.bucket_start = day_of(r.created_at, DAILY_OFFSET_MS);
        daily.entry(key).or_default().add(&sums);
    }
    (hourly, daily)
}

/// Rows per statement: a batch is cut into chunks of these sizes, largest first, so a table
/// has at most nine statement texts, each prepared once per connection and then cached. A
/// statement per batch size meant a new text for nearly every batch, and SQLite spent more
/// parsing it than inserting the rows (callgrind, 2026-11-27: 24 000 of 40 000 instructions
/// per record).
const CHUNKS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// `rows` in the chunks of [`CHUNKS`].
fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let n = CHUNKS.iter().copied().find(|&c| c <= rows.len())?;
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

/// The statement `head (?, …), … tail` for `rows` rows of `columns` values, built once per
/// shape and kept for the life of the process (at most 9 sizes of 3 statements per engine).
fn values_sql(head: &'static str, columns: usize, rows: usize, tail: &'static str) -> &'static str {
    type Texts = HashMap<(&'static str, usize, &'static str), &'static str>;
    static TEXTS: LazyLock<Mutex<Texts>> = LazyLock::new(Mutex::default);
    let mut texts = TEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    texts.entry((head, rows, tail)).or_insert_with(|| {
        let row = format!("({})", vec!["?"; columns].join(", "));
        let mut sql = String::from(head);
        sql.push_str(&vec![row; rows].join(", "));
        sql.push_str(tail);
        Box::leak(sql.into_boxed_str())
    })
}

/// The heads of the rollup tables' `INSERT`s, up to `VALUES`.
const HOURLY_HEAD: &str = concat!("INSERT INTO usage_hourly (", rollup_columns!(), ") VALUES ");
const DAILY_HEAD: &str = concat!("INSERT INTO usage_daily (", rollup_columns!(), ") VALUES ");

/// Values a rollup row binds.
const ROLLUP_COLUMNS: usize = 16;

/// Inserts records and their rollups in one transaction.
pub async fn insert_with_rollups(db: &Db, rows: &[UsageRow]) -> Result<(), DbError> {
    use super::usage::{INSERT_COLUMNS, INSERT_HEAD, bind_record};
    if rows.is_empty() {
        return Ok(());
    }
    let (hourly, daily) = fold(rows);
    let upsert = match db {
        Db::Sqlite(_) => SQLITE_UPSERT,
        Db::Mysql(_) => MYSQL_UPSERT,
    };
    on_pool!(db, pool => {
        use super::BeginWrite as _;
        let mut tx = pool.begin_write().await?;
        for chunk in chunks(rows) {
            let mut q = sqlx::query(values_sql(INSERT_HEAD, INSERT_COLUMNS, chunk.len(), ""));
            for r in chunk {
                q = bind_record!(q, r);
            }
            q.execute(&mut *tx).await?;
        }
        for (head, folded) in [(HOURLY_HEAD, &hourly), (DAILY_HEAD, &daily)] {
            let folded: Vec<_> = folded.iter().collect();
            for chunk in chunks(&folded) {
                let sql = values_sql(head, ROLLUP_COLUMNS, chunk.len(), upsert);
                let mut q = sqlx::query(sql);
                for (k, s) in chunk {
                    q = q.bind(k.bucket_start).bind(k.group_id).bind(k.user_id)
                        .bind(k.key_id).bind(k.account_id).bind(&k.model)
                        .bind(s.requests).bind(s.errors).bind(s.input_tokens)
                        .bind(s.output_tokens).bind(s.cache_read_tokens)
                        .bind(s.cache_write_tokens).bind(s.cost_micros)
                        .bind(s.ttfb_ms_sum).bind(s.ttfb_ms_count).bind(s.total_ms_sum);
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Where a report reads its sums from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Hourly rollups (UTC hours).
    Hourly,
    /// Daily rollups (days at [`DAILY_OFFSET_MS`]).
    Daily,
    /// The records themselves, summed into days at this UTC offset (ms): for time zones whose
    /// days do not start on a UTC hour.
    RecordDays(i64),
}

/// What the series of a report are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// One series.
    Total,
    /// Per member.
    Member,
    /// Per model.
    Model,
    /// Per account.
    Account,
    /// Per member key.
    Key,
    /// Per group.
    Group,
}

impl Dimension {
    /// The series expression over a rollup table.
    fn rollup_expr(self) -> &'static str {
        match self {
            Self::Total => "'all'",
            Self::Member => "CAST(user_id AS CHAR)",
            Self::Model => "model",
            Self::Account => "CAST(account_id AS CHAR)",
            Self::Key => "CAST(key_id AS CHAR)",
            Self::Group => "CAST(group_id AS CHAR)",
        }
    }

    /// The series expression over the records.
    fn record_expr(self) -> &'static str {
        match self {
            Self::Model => "COALESCE(model_served, model_requested)",
            Self::Account => "CAST(COALESCE(account_id, 0) AS CHAR)",
            other => other.rollup_expr(),
        }
    }
}

/// A report's selection.
#[derive(Clone, Copy, Debug)]
pub struct ReportQuery {
    /// Where from.
    pub source: Source,
    /// Series.
    pub dimension: Dimension,
    /// Buckets starting at or after (ms).
    pub from: i64,
    /// Buckets starting before (ms).
    pub to: i64,
    /// Only this group.
    pub group_id: Option<i64>,
    /// Only this member.
    pub user_id: Option<i64>,
}

/// One bucket of one series.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportRow {
    /// Bucket start (ms).
    pub bucket_start: i64,
    /// Series key.
    pub series: String,
    /// Sums.
    #[sqlx(flatten)]
    pub sums: RollupSums,
}

/// The sums of a rollup table (`MySQL` sums to `DECIMAL`, hence the casts).
const ROLLUP_SUMS: &str = "CAST(SUM(requests) AS SIGNED) AS requests, \
    CAST(SUM(errors) AS SIGNED) AS errors, CAST(SUM(input_tokens) AS SIGNED) AS input_tokens, \
    CAST(SUM(output_tokens) AS SIGNED) AS output_tokens, \
    CAST(SUM(cache_read_tokens) AS SIGNED) AS cache_read_tokens, \
    CAST(SUM(cache_write_tokens) AS SIGNED) AS cache_write_tokens, \
    CAST(SUM(cost_micros) AS SIGNED) AS cost_micros, \
    CAST(SUM(ttfb_ms_sum) AS SIGNED) AS ttfb_ms_sum, \
    CAST(SUM(ttfb_ms_count) AS SIGNED) AS ttfb_ms_count, \
    CAST(SUM(total_ms_sum) AS SIGNED) AS total_ms_sum";

/// The same sums over the records.
const RECORD_SUMS: &str = "CAST(COUNT(*) AS SIGNED) AS requests, \
    CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS SIGNED) AS errors, \
    CAST(SUM(input_tokens) AS SIGNED) AS input_tokens, \
    CAST(SUM(output_tokens) AS SIGNED) AS output_tokens, \
    CAST(SUM(cache_read_tokens) AS SIGNED) AS cache_read_tokens, \
    CAST(SUM(cache_write_tokens) AS SIGNED) AS cache_write_tokens, \
    CAST(SUM(cost_micros) AS SIGNED) AS cost_micros, \
    CAST(SUM(COALESCE(ttfb_ms, 0)) AS SIGNED) AS ttfb_ms_sum, \
    CAST(COUNT(ttfb_ms) AS SIGNED) AS ttfb_ms_count, \
    CAST(SUM(total_ms) AS SIGNED) AS total_ms_sum";

/// Sums per bucket and series.
pub async fn report(db: &Db, rq: &ReportQuery) -> Result<Vec<ReportRow>, DbError> {
    // Integer division is spelled differently by the two engines.
    let div = match db {
        Db::Sqlite(_) => " / ",
        Db::Mysql(_) => " DIV ",
    };
    let rows = on_pool!(db, pool => {
        let mut q = QueryBuilder::new("SELECT ");
        let time_column = match rq.source {
            Source::Hourly | Source::Daily => {
                q.push("bucket_start, ").push(rq.dimension.rollup_expr());
                q.push(" AS series, ").push(ROLLUP_SUMS);
                q.push(if rq.source == Source::Hourly {
                    " FROM usage_hourly"
                } else {
                    " FROM usage_daily"
                });
                "bucket_start"
            }
            Source::RecordDays(offset) => {
                q.push("((created_at + ").push_bind(offset).push(")").push(div);
                q.push(DAY_MS).push(") * ").push(DAY_MS).push(" - ").push_bind(offset);
                q.push(" AS bucket_start, ").push(rq.dimension.record_expr());
                q.push(" AS series, ").push(RECORD_SUMS).push(" FROM usage_records");
                "created_at"
            }
        };
        q.push(" WHERE ").push(time_column).push(" >= ").push_bind(rq.from);
        q.push(" AND ").push(time_column).push(" < ").push_bind(rq.to);
        if let Some(group_id) = rq.group_id {
            q.push(" AND group_id = ").push_bind(group_id);
        }
        if let Some(user_id) = rq.user_id {
            q.push(" AND user_id = ").push_bind(user_id);
        }
        q.push(" GROUP BY bucket_start, series ORDER BY bucket_start");
        q.build_query_as::<ReportRow>().fetch_all(pool).await?
    });
    Ok(rows)
}

/// Names of the members, accounts, keys or groups with these ids.
pub async fn labels(
    db: &Db,
    dimension: Dimension,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, DbError> {
    let table = match dimension {
        Dimension::Member => "users",
        Dimension::Account => "upstream_accounts",
        Dimension::Key => "member_keys",
        Dimension::Group => "carpool_groups",
        Dimension::Total | Dimension::Model => return Ok(Vec::new()),
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = on_pool!(db, pool => {
        let mut q = QueryBuilder::new("SELECT id, name FROM ");
        q.push(table).push(" WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        q.build_query_as::<(i64, String)>().fetch_all(pool).await?
    });
    Ok(rows)
}
