//! Migrations: both folders carry the same versions, apply cleanly and idempotently to SQLite
//! and to a real MariaDB server, and produce the same tables and columns.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeSet;

use aicarpool::api::DbBackend;
use aicarpool::config::DatabaseConfig;
use aicarpool::db::Db;
use aicarpool::secret::Secret;

/// (table, column, nullable) for every user table.
type Schema = BTreeSet<(String, String, bool)>;

fn versions(dir: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/");
    let mut names: Vec<String> = std::fs::read_dir(format!("{root}{dir}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_databases_have_the_same_migration_files() {
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        versions("mysql"),
        "same version numbers and names in migrations/sqlite and migrations/mysql"
    );
}

async fn sqlite_schema(db: &Db) -> Schema {
    let Db::Sqlite(pool) = db else {
        panic!("not sqlite")
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info(?)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
        for (column, notnull, pk) in rows {
            schema.insert((table.clone(), column, notnull == 0 && pk == 0));
        }
    }
    schema
}

async fn mysql_schema(db: &Db) -> Schema {
    let Db::Mysql(pool) = db else {
        panic!("not mysql")
    };
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(is_nullable AS CHAR) \
         FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(t, c, n)| (t, c, n == "YES"))
        .collect()
}

async fn applied(db: &Db) -> Vec<i64> {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Mysql(pool) => sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    }
}

#[tokio::test]
async fn sqlite_and_mariadb_schemas_match() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&DatabaseConfig {
        backend: DbBackend::Sqlite,
        url: Secret::new(format!("sqlite://{}/nested/test.db", dir.path().display())),
    })
    .await
    .unwrap();
    let mysql = Db::connect(&DatabaseConfig {
        backend: DbBackend::Mysql,
        url: Secret::new(common::fresh_mysql_database().await),
    })
    .await
    .unwrap();

    let expected = versions("sqlite").len();
    assert_eq!(sqlite.migrate().await.unwrap(), expected);
    assert_eq!(mysql.migrate().await.unwrap(), expected);
    // Idempotent: a second run (the next start) applies nothing.
    assert_eq!(sqlite.migrate().await.unwrap(), 0);
    assert_eq!(mysql.migrate().await.unwrap(), 0);
    assert_eq!(applied(&sqlite).await, applied(&mysql).await);

    let (s, m) = (sqlite_schema(&sqlite).await, mysql_schema(&mysql).await);
    assert!(
        s.iter()
            .any(|(t, c, _)| t == "users" && c == "password_hash"),
        "{s:?}"
    );
    let only_sqlite: Vec<_> = s.difference(&m).collect();
    let only_mysql: Vec<_> = m.difference(&s).collect();
    assert!(
        only_sqlite.is_empty() && only_mysql.is_empty(),
        "only in SQLite: {only_sqlite:?}\nonly in MySQL: {only_mysql:?}"
    );

    sqlite.ping().await.unwrap();
    mysql.ping().await.unwrap();
}

#[tokio::test]
async fn the_store_behaves_the_same_on_mariadb() {
    use aicarpool::db::users::{self, NewUser, SystemRole};
    let db = Db::connect(&DatabaseConfig {
        backend: DbBackend::Mysql,
        url: Secret::new(common::fresh_mysql_database().await),
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    assert!(!users::setup_completed(&db).await.unwrap());
    let user = |email: &str| NewUser {
        email: email.into(),
        name: "Ada".into(),
        password_hash: "$argon2id$x".into(),
        role: SystemRole::Admin,
        locale: "zh-CN".into(),
    };
    // Racing first-admin creations on MariaDB: exactly one wins.
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            let u = user(&format!("a{i}@example.com"));
            tokio::spawn(async move { users::create_first_admin(&db, &u).await })
        })
        .collect();
    let mut created = 0;
    for h in handles {
        if h.await.unwrap().unwrap().is_some() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(users::count(&db).await.unwrap(), 1);
    assert!(users::setup_completed(&db).await.unwrap());

    let id = users::create_admin(&db, &user("root@example.com"))
        .await
        .unwrap();
    assert!(id > 0);
    let err = users::create_admin(&db, &user("root@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, aicarpool::db::DbError::Conflict(_)),
        "{err:?}"
    );
    let found = users::find_by_email(&db, "root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.locale.as_str()), (id, "zh-CN"));
}
