//! Budget warnings: which thresholds of which limit were crossed in which window (one row each,
//! unique, so a warning is raised once however many nodes check), the mails announcing them
//! stored in the same transaction, and the usage sums per member, key and account that the
//! checker compares with the limits.

use sqlx::QueryBuilder;

use super::outbox::{NewMail, enqueue};
use super::rollups::HOUR_MS;
use super::{BeginWrite, Db, DbError, on_pool};

/// A threshold crossed in a window.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRow {
    /// The limit.
    pub limit_id: i64,
    /// Start of the window (ms; 0 for a `total` limit).
    pub window_start: i64,
    /// The threshold, in percent of the cap.
    pub threshold: i64,
    /// Usage when it was noticed (the limit's unit).
    pub used: i64,
    /// The cap then.
    pub cap: i64,
    /// When it was noticed (ms).
    pub created_at: i64,
}

/// A limit's window whose usage crossed thresholds.
#[derive(Clone, Debug)]
pub struct Crossing {
    /// The limit.
    pub limit_id: i64,
    /// Its group.
    pub group_id: i64,
    /// Start of the window.
    pub window_start: i64,
    /// Every threshold the usage has reached, highest first.
    pub thresholds: Vec<i64>,
    /// The usage.
    pub used: i64,
    /// The cap.
    pub cap: i64,
}

/// Records the thresholds of a crossing and, when this call is the one that recorded the
/// highest of them, stores `mails` in the same transaction. Returns whether it did: `false`
/// when another checker (another node) recorded it first, or when the limit no longer exists.
/// Lower thresholds still missing are recorded without mail (the highest one's mail says more).
pub async fn raise(
    db: &Db,
    crossing: &Crossing,
    mails: &[NewMail],
    now: i64,
) -> Result<bool, DbError> {
    // Two nodes inserting the same rows at once can deadlock on MySQL's unique-key locks; the
    // loser's transaction is rolled back whole, so trying again simply finds the rows there.
    let mut attempt = 0;
    loop {
        match try_raise(db, crossing, mails, now).await {
            Err(sqlx::Error::Database(e))
                if attempt < 5 && e.code().as_deref() == Some("40001") =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
            }
            result => return Ok(result?),
        }
    }
}

async fn try_raise(
    db: &Db,
    crossing: &Crossing,
    mails: &[NewMail],
    now: i64,
) -> Result<bool, sqlx::Error> {
    // The row is copied from the limit itself, so a deleted limit records (and mails) nothing.
    let insert = match db {
        Db::Sqlite(_) => {
            "INSERT INTO limit_alerts (limit_id, group_id, window_start, threshold, used, cap, created_at) \
             SELECT id, group_id, ?, ?, ?, ?, ? FROM usage_limits WHERE id = ? AND group_id = ? \
             ON CONFLICT (limit_id, window_start, threshold) DO NOTHING"
        }
        Db::Mysql(_) => {
            "INSERT IGNORE INTO limit_alerts (limit_id, group_id, window_start, threshold, used, cap, created_at) \
             SELECT id, group_id, ?, ?, ?, ?, ? FROM usage_limits WHERE id = ? AND group_id = ?"
        }
    };
    let raised = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let mut highest = None;
        for threshold in &crossing.thresholds {
            let n = sqlx::query(insert)
                .bind(crossing.window_start).bind(threshold).bind(crossing.used)
                .bind(crossing.cap).bind(now).bind(crossing.limit_id).bind(crossing.group_id)
                .execute(&mut *tx).await?.rows_affected();
            highest.get_or_insert(n == 1);
        }
        let raised = highest.unwrap_or(false);
        if raised {
            for mail in mails {
                enqueue!(tx, mail, now);
            }
        }
        tx.commit().await?;
        raised
    });
    Ok(raised)
}

/// The thresholds recorded for a group's windows that start at one of `starts`.
pub async fn in_windows(db: &Db, group_id: i64, starts: &[i64]) -> Result<Vec<AlertRow>, DbError> {
    if starts.is_empty() {
        return Ok(Vec::new());
    }
    let rows = on_pool!(db, pool => {
        let mut q = QueryBuilder::new(
            "SELECT limit_id, window_start, threshold, used, cap, created_at FROM limit_alerts \
             WHERE group_id = ",
        );
        q.push_bind(group_id).push(" AND window_start IN (");
        let mut list = q.separated(", ");
        for start in starts {
            list.push_bind(*start);
        }
        q.push(") ORDER BY limit_id, threshold");
        q.build_query_as::<AlertRow>().fetch_all(pool).await?
    });
    Ok(rows)
}

/// A group's usage of one member key through one account, in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TargetSums {
    /// The member.
    pub user_id: i64,
    /// The key.
    pub key_id: i64,
    /// The account that served (0: none).
    pub account_id: i64,
    /// Requests sent to an account (not token counting): what key, member and group request
    /// limits count.
    pub requests: i64,
    /// Of those, the ones `account_id` counts against its account's request limits: served
    /// there (a stream that died later included), or still there when the client or the
    /// server ended the request. A request whose last attempt failed there gave its hold back.
    pub account_requests: i64,
    /// Tokens of every kind.
    pub tokens: i64,
    /// Cost (micro-USD).
    pub cost_micros: i64,
}

/// A group's usage per member, key and account from `from` until `to` (ms): tokens and cost
/// from the hourly rollups when `from` starts an hour (the rollups are written with the
/// records, in one transaction), else from the records; requests (when `requests` is asked
/// for) from the records that were sent to an account (`attempts > 0`), as the live counters
/// count them: a request refused before that (a malformed body, an unknown model, a budget)
/// is recorded too but used no budget, and `count_tokens` is under no limit.
pub async fn sums(
    db: &Db,
    group_id: i64,
    from: i64,
    to: i64,
    requests: bool,
) -> Result<Vec<TargetSums>, DbError> {
    let tokens = "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens";
    let mut out: Vec<TargetSums> = on_pool!(db, pool => {
        let mut q = QueryBuilder::new("SELECT user_id, key_id, ");
        if from % HOUR_MS == 0 {
            q.push("account_id, 0 AS requests, 0 AS account_requests, CAST(SUM(").push(tokens);
            q.push(") AS SIGNED) AS tokens, CAST(SUM(cost_micros) AS SIGNED) AS cost_micros ");
            q.push("FROM usage_hourly WHERE group_id = ").push_bind(group_id);
            q.push(" AND bucket_start >= ").push_bind(from);
            q.push(" AND bucket_start < ").push_bind(to);
        } else {
            q.push("COALESCE(account_id, 0) AS account_id, 0 AS requests, 0 AS account_requests, CAST(SUM(");
            q.push(tokens);
            q.push(") AS SIGNED) AS tokens, CAST(SUM(cost_micros) AS SIGNED) AS cost_micros ");
            q.push("FROM usage_records WHERE group_id = ").push_bind(group_id);
            q.push(" AND created_at >= ").push_bind(from);
            q.push(" AND created_at < ").push_bind(to);
        }
        q.push(" GROUP BY 1, 2, 3");
        q.build_query_as::<TargetSums>().persistent(false).fetch_all(pool).await?
    });
    if requests {
        let counted: Vec<TargetSums> = on_pool!(db, pool => {
            let mut q = QueryBuilder::new(
                "SELECT user_id, key_id, COALESCE(account_id, 0) AS account_id, \
                 CAST(COUNT(*) AS SIGNED) AS requests, \
                 CAST(SUM(CASE WHEN status < 400 OR status = 499 OR error_class = 'server_shutdown' \
                 THEN 1 ELSE 0 END) AS SIGNED) AS account_requests, 0 AS tokens, 0 AS cost_micros \
                 FROM usage_records WHERE group_id = ",
            );
            q.push_bind(group_id);
            q.push(" AND created_at >= ").push_bind(from);
            q.push(" AND created_at < ").push_bind(to);
            q.push(" AND attempts > 0 AND endpoint <> 'count_tokens' GROUP BY 1, 2, 3");
            q.build_query_as::<TargetSums>().persistent(false).fetch_all(pool).await?
        });
        for c in counted {
            match out.iter_mut().find(|s| {
                (s.user_id, s.key_id, s.account_id) == (c.user_id, c.key_id, c.account_id)
            }) {
                Some(s) => {
                    s.requests += c.requests;
                    s.account_requests += c.account_requests;
                }
                None => out.push(c),
            }
        }
    }
    Ok(out)
}

/// The groups with usage records newer than `after` (a record id), and the newest id.
pub async fn active_groups(db: &Db, after: i64) -> Result<(Vec<i64>, i64), DbError> {
    let rows: Vec<(i64, i64)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT group_id, MAX(id) FROM usage_records WHERE id > ? GROUP BY group_id",
        )
        .bind(after).fetch_all(pool).await?
    });
    let newest = rows.iter().map(|(_, id)| *id).max().unwrap_or(after);
    Ok((rows.into_iter().map(|(g, _)| g).collect(), newest))
}

/// The id of the newest usage record (0 when there is none).
pub async fn newest_record(db: &Db) -> Result<i64, DbError> {
    let id: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT MAX(id) FROM usage_records").fetch_one(pool).await?
    });
    Ok(id.unwrap_or(0))
}

/// Someone a group's budget warning goes to.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Recipient {
    /// User id.
    pub user_id: i64,
    /// Address.
    pub email: String,
    /// Name.
    pub name: String,
    /// `en` or `zh-CN`.
    pub locale: String,
    /// Role in the group.
    pub role: String,
}

/// A group's members with their language, owners and admins first.
pub async fn members(db: &Db, group_id: i64) -> Result<Vec<Recipient>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, Recipient>(
            "SELECT u.id AS user_id, u.email, u.name, u.locale, m.role FROM group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id = ? \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.name, u.id",
        )
        .bind(group_id).fetch_all(pool).await?
    });
    Ok(rows)
}

/// The member a key belongs to.
pub async fn key_owner(db: &Db, key_id: i64) -> Result<Option<i64>, DbError> {
    let owner = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT user_id FROM member_keys WHERE id = ?")
            .bind(key_id).fetch_optional(pool).await?
    });
    Ok(owner)
}
