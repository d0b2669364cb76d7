//! Distributed mode's Redis connection against a real Redis server: readiness reports it, the
//! status page names it, and a dead Redis stops the start with one clear line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use aicarpool::mail::Mailer;
use aicarpool::secret::Secret;
use aicarpool::setup::SetupGate;
use aicarpool::state::AppState;
use common::*;
use http::StatusCode;

fn redis_url() -> String {
    std::env::var("AICARPOOL_TEST_REDIS_URL")
        .expect("AICARPOOL_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts Redis")
}

#[tokio::test]
async fn readiness_and_status_include_redis() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), None);
    let db = server::startup::open_database(&config).await.unwrap();
    let redis = aicarpool::redis::connect(&Secret::new(redis_url()))
        .await
        .unwrap();
    let mailer = Mailer::from_config(&config).unwrap();
    let state = AppState::new(config, db, mailer, Some(redis), SetupGate::closed());
    let router = router_for(&state);
    let (s, body) = call(&router, get("/readyz")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["redis"], "ok");
    assert_eq!(
        state.status().await.unwrap().counters,
        aicarpool::api::CounterBackend::Redis
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_start_up_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = aicarpool::redis::connect(&Secret::new(format!("redis://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(!err.to_string().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aicarpool"))
        .current_dir(dir.path())
        .env("REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .env("PORT", "0")
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("aicarpool: REDIS_URL: cannot connect to Redis"),
        "{stderr}"
    );
}
