//! Users and the first-run setup state.

use serde::{Deserialize, Serialize};

use super::BeginWrite;
use super::{Db, DbError, now_ms, on_pool};

/// A user's system-wide role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemRole {
    /// Runs the instance: system accounts, every group.
    Admin,
    /// Everyone else; group roles come from memberships.
    User,
}

impl SystemRole {
    /// The value stored in `users.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

/// A row of `users`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Normalised (lower-case) email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `admin` or `user`.
    pub role: String,
    /// Preferred language tag for mails.
    pub locale: String,
    /// Currency amounts are shown in: `USD` or `CNY`.
    pub currency: String,
    /// Creation time (ms).
    pub created_at: i64,
}

/// What is needed to create a user; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// System role.
    pub role: SystemRole,
    /// Language tag.
    pub locale: String,
}

/// Inserts a user inside a transaction and returns its id.
macro_rules! insert_user {
    ($conn:expr, $user:expr, $now:expr) => {{
        let result = sqlx::query(
            "INSERT INTO users (email, name, password_hash, role, locale, created_at, updated_at, \
             password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&$user.email)
        .bind(&$user.name)
        .bind(&$user.password_hash)
        .bind($user.role.as_str())
        .bind(&$user.locale)
        .bind($now)
        .bind($now)
        .bind($now)
        .execute(&mut *$conn)
        .await?;
        $crate::db::InsertId::insert_id(&result)
    }};
}

/// Number of users.
pub async fn count(db: &Db) -> Result<i64, DbError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?
    });
    Ok(n)
}

/// True once the first admin exists (through the setup form or `admin create`).
pub async fn setup_completed(db: &Db) -> Result<bool, DbError> {
    let completed: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT setup_completed_at FROM instance WHERE id = 1")
            .fetch_optional(pool)
            .await?
            .flatten()
    });
    Ok(completed.is_some())
}

/// Finds a user by normalised email.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, DbError> {
    let sql = "SELECT id, email, name, password_hash, role, locale, currency, created_at FROM users WHERE email = ?";
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, UserRow>(sql).bind(email).fetch_optional(pool).await?
    });
    Ok(row)
}

/// Creates the first administrator, atomically: the instance row is claimed with a conditional
/// update inside the transaction, so of two racing submissions exactly one creates a user and
/// the other gets `Ok(None)`. Also `Ok(None)` once any user exists.
pub async fn create_first_admin(db: &Db, user: &NewUser) -> Result<Option<i64>, DbError> {
    let now = now_ms();
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE instance SET setup_completed_at = ? WHERE id = 1 AND setup_completed_at IS NULL",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await?;
        if claimed != 1 || existing != 0 {
            tx.rollback().await?;
            None
        } else {
            let id = insert_user!(tx, user, now);
            tx.commit().await?;
            Some(id)
        }
    });
    Ok(id)
}

/// Creates a system administrator from the command line and marks the setup as done.
/// A taken email is [`DbError::Conflict`].
pub async fn create_admin(db: &Db, user: &NewUser) -> Result<i64, DbError> {
    let now = now_ms();
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let id = insert_user!(tx, user, now);
        sqlx::query(
            "UPDATE instance SET setup_completed_at = ? WHERE id = 1 AND setup_completed_at IS NULL",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// Finds a user by id.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<UserRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, password_hash, role, locale, currency, created_at FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row)
}

/// Registers a normal user; a taken email is [`DbError::Conflict`].
pub async fn create_user(db: &Db, user: &NewUser) -> Result<i64, DbError> {
    let now = now_ms();
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let id = insert_user!(tx, user, now);
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// Changes name and language.
pub async fn update_profile(db: &Db, id: i64, name: &str, locale: &str) -> Result<(), DbError> {
    let now = now_ms();
    on_pool!(db, pool => {
        sqlx::query("UPDATE users SET name = ?, locale = ?, updated_at = ? WHERE id = ?")
            .bind(name).bind(locale).bind(now).bind(id)
            .execute(pool).await?;
    });
    Ok(())
}

/// Changes the currency amounts are shown in (`USD` or `CNY`).
pub async fn set_currency(db: &Db, id: i64, currency: &str) -> Result<(), DbError> {
    let now = now_ms();
    on_pool!(db, pool => {
        sqlx::query("UPDATE users SET currency = ?, updated_at = ? WHERE id = ?")
            .bind(currency).bind(now).bind(id)
            .execute(pool).await?;
    });
    Ok(())
}

/// Replaces the password hash and revokes every session of the user, in one transaction.
pub async fn set_password(db: &Db, id: i64, password_hash: &str, now: i64) -> Result<(), DbError> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash).bind(now).bind(now).bind(id)
            .execute(&mut *tx).await?;
        sqlx::query("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now).bind(id)
            .execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(())
}
