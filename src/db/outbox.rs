//! The mail outbox: every mail is stored before it is sent, so an SMTP outage delays mail but
//! never loses it. The sender in `crate::outbox` works through due rows.

use super::{Db, DbError, on_pool};

/// A row of `mail_outbox`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    /// Id.
    pub id: i64,
    /// Recipient.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body.
    pub html_body: String,
    /// `pending` or `sent`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt (ms).
    pub next_attempt_at: i64,
    /// Last failure.
    pub last_error: Option<String>,
    /// When it was sent (ms).
    pub sent_at: Option<i64>,
}

/// A mail to store.
#[derive(Clone, Debug)]
pub struct NewMail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Stores a mail inside the caller's transaction (so it exists exactly when what it announces
/// does) and returns its id.
macro_rules! enqueue {
    ($conn:expr, $mail:expr, $now:expr) => {{
        let result = sqlx::query(
            "INSERT INTO mail_outbox (to_address, subject, text_body, html_body, state, attempts, next_attempt_at, created_at) \
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        )
        .bind(&$mail.to)
        .bind(&$mail.subject)
        .bind(&$mail.text)
        .bind(&$mail.html)
        .bind($now)
        .bind($now)
        .execute(&mut *$conn)
        .await?;
        $crate::db::InsertId::insert_id(&result)
    }};
}
pub(crate) use enqueue;

/// Up to `limit` pending mails due at `now`, oldest first.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, OutboxRow>(
            "SELECT id, to_address, subject, text_body, html_body, state, attempts, next_attempt_at, last_error, sent_at \
             FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        )
        .bind(now).bind(limit).fetch_all(pool).await?
    });
    Ok(rows)
}

/// The earliest next attempt of any pending mail.
pub async fn next_due_at(db: &Db) -> Result<Option<i64>, DbError> {
    let at: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM mail_outbox WHERE state = 'pending'")
            .fetch_one(pool).await?
    });
    Ok(at)
}

/// Finds one mail.
pub async fn find(db: &Db, id: i64) -> Result<Option<OutboxRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, OutboxRow>(
            "SELECT id, to_address, subject, text_body, html_body, state, attempts, next_attempt_at, last_error, sent_at \
             FROM mail_outbox WHERE id = ?",
        )
        .bind(id).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Marks a mail sent.
pub async fn mark_sent(db: &Db, id: i64, now: i64) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE mail_outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 'pending'")
            .bind(now).bind(id).execute(pool).await?;
    });
    Ok(())
}

/// Records a failed attempt and when to try again.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    error: &str,
    next_attempt_at: i64,
) -> Result<(), DbError> {
    let error: String = error.chars().take(1000).collect();
    on_pool!(db, pool => {
        sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND state = 'pending'")
            .bind(error).bind(next_attempt_at).bind(id).execute(pool).await?;
    });
    Ok(())
}

/// Claims a due mail for one sender by pushing its next attempt past the send (a lease), so
/// two nodes never send the same mail at once. `false` when another sender got it first.
pub async fn claim(
    db: &Db,
    id: i64,
    seen_next_attempt_at: i64,
    lease_until: i64,
) -> Result<bool, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE mail_outbox SET next_attempt_at = ? WHERE id = ? AND state = 'pending' AND next_attempt_at = ?")
            .bind(lease_until).bind(id).bind(seen_next_attempt_at).execute(pool).await?.rows_affected()
    });
    Ok(n == 1)
}
