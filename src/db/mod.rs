//! The store: one connection pool for SQLite or MySQL, migrations for each, and the queries,
//! grouped by domain (`users`, …). SQL that both engines accept is written once and run through
//! [`on_pool!`]; where the dialects differ, each engine gets its own statement.

pub mod accounts;
pub mod cost_split;
pub mod groups;
pub mod invites;
pub mod keys;
pub mod limit_alerts;
pub mod limits;
pub mod outbox;
pub mod rollups;
pub mod routing;
pub mod sessions;
pub mod settings;
pub mod usage;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::api::DbBackend;
use crate::config::{DatabaseConfig, sqlite_path};

/// Migrations for the embedded SQLite database.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// Migrations for MySQL / MariaDB, with the same version numbers as SQLite's.
static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// How long a request waits for a pooled connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint refused the write (a duplicate email, say).
    #[error("conflict with an existing record ({0})")]
    Conflict(String),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Query(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    /// The one place where constraint violations become [`DbError::Conflict`].
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                DbError::Unavailable(err.to_string())
            }
            _ => DbError::Query(err),
        }
    }
}

/// A pool for the configured engine.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite (the embedded default).
    Sqlite(SqlitePool),
    /// MySQL or MariaDB.
    Mysql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, for SQL both engines accept.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Mysql($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Creates a missing database file readable by its owner only (it holds password hashes and
/// sessions); SQLite gives its `-wal` and `-shm` files the same mode. An existing file, and
/// an in-memory or read-only database, are left as they are.
fn create_private_file(url: &str, path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path.as_os_str().to_string_lossy();
    if name.is_empty()
        || name.starts_with(':')
        || url.contains("mode=memory")
        || url.contains("mode=ro")
    {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Db {
    /// Opens a pool. An SQLite file and its directory are created when missing; SQLite runs in
    /// WAL mode with foreign keys on and a busy timeout, so concurrent writers wait, not fail.
    pub async fn connect(config: &DatabaseConfig) -> Result<Db, DbError> {
        let url = config.url.expose();
        match config.backend {
            DbBackend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                create_private_file(url, &path).map_err(|e| {
                    DbError::Unavailable(format!("cannot create {}: {e}", path.display()))
                })?;
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Db::Sqlite(pool))
            }
            DbBackend::Mysql => {
                let pool = MySqlPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await?;
                Ok(Db::Mysql(pool))
            }
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> DbBackend {
        match self {
            Db::Sqlite(_) => DbBackend::Sqlite,
            Db::Mysql(_) => DbBackend::Mysql,
        }
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        // The table does not exist before the first run: then nothing has been applied.
        let applied: Vec<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
                .fetch_all(pool)
                .await
                .unwrap_or_default()
        });
        let migrator = match self {
            Db::Sqlite(pool) => {
                SQLITE_MIGRATOR.run(pool).await?;
                &SQLITE_MIGRATOR
            }
            Db::Mysql(pool) => {
                MYSQL_MIGRATOR.run(pool).await?;
                &MYSQL_MIGRATOR
            }
        };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Checks that the database answers, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every connection (at shutdown, after in-flight work has finished).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing
/// with "database is locked" when a read lock cannot be upgraded; MySQL locks rows as it goes.
pub(crate) trait BeginWrite {
    /// The engine.
    type Database: sqlx::Database;
    /// Begins the transaction.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>,
    > + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>,
    > + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for MySqlPool {
    type Database = sqlx::MySql;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::MySql>, sqlx::Error>,
    > + Send {
        self.begin()
    }
}

/// The id of the row an `INSERT` created, whichever engine ran it.
pub(crate) trait InsertId {
    /// The generated id.
    fn insert_id(&self) -> i64;
}

impl InsertId for sqlx::sqlite::SqliteQueryResult {
    fn insert_id(&self) -> i64 {
        self.last_insert_rowid()
    }
}

impl InsertId for sqlx::mysql::MySqlQueryResult {
    fn insert_id(&self) -> i64 {
        i64::try_from(self.last_insert_id()).unwrap_or(i64::MAX)
    }
}

/// Milliseconds since the Unix epoch: the unit of every timestamp column.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
