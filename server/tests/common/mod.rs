//! Test support: configurations on temp dirs, states with a known setup token, fresh MariaDB
//! databases on the server the test command started, and request helpers.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support module"
)]

pub mod budgets;
pub mod gateway;
pub mod members;
pub mod misbehaving;
pub mod mock_client;
pub mod pages;
pub mod proxies;
pub mod routing;
pub mod smtp;
pub mod upstream;

use std::path::Path;

use aicarpool::config::{Config, Settings};
use aicarpool::mail::Mailer;
use aicarpool::setup::SetupGate;
use aicarpool::state::AppState;
use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use tower::ServiceExt;

/// The setup token of states built by [`state_with_token`].
pub const TOKEN: &str = "test-setup-token-0123456789abcdef";

/// A validated config whose data (and SQLite file) live in `dir`.
pub fn config_in(dir: &Path, database_url: Option<String>) -> Config {
    let settings = Settings {
        data_dir: Some(dir.display().to_string()),
        database_url,
        host: Some("127.0.0.1".into()),
        port: Some("0".into()),
        site_root: Some(dir.join("site").display().to_string()),
        ..Settings::default()
    };
    let mut config = Config::from_settings(&settings).expect("valid test config");
    config.resolve_secrets().expect("secrets");
    config
}

/// A state on a fresh database with the setup gate open on [`TOKEN`].
pub async fn state_with_token(config: Config) -> AppState {
    let db = server::startup::open_database(&config)
        .await
        .expect("database");
    let mailer = Mailer::from_config(&config).expect("mailer");
    AppState::new(config, db, mailer, None, SetupGate::with_token(TOKEN))
}

/// The router over `state`, serving assets from the config's site root.
pub fn router_for(state: &AppState) -> Router {
    let options = server::leptos_options(&state.config().site_root, state.config().listen);
    server::router(state.clone(), options)
}

/// What the binary serves over `state`: the router and the proxy's direct lane.
pub fn site_for(state: &AppState) -> server::Site {
    let options = server::leptos_options(&state.config().site_root, state.config().listen);
    server::site(state.clone(), options)
}

/// Sends one request through the router.
pub async fn send(router: &Router, request: Request<Body>) -> Response<Body> {
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router")
}

/// `POST path` with `key`, request id `id` and JSON `body`, through the router in-process
/// (the lane the binary's serving loop does not use for the proxy's POST endpoints).
pub async fn through_router(
    router: &Router,
    path: &str,
    key: &str,
    id: &str,
    body: &serde_json::Value,
) -> Response<Body> {
    send(
        router,
        Request::post(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("x-request-id", id)
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

/// Reads a whole body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A GET request.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// A form POST (what `ActionForm` sends once hydrated, asking for JSON back).
pub fn form_post(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Body::from(encode_form(fields)))
        .expect("request")
}

/// URL-encodes form fields.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The setup form's fields.
pub fn setup_fields<'a>(
    token: &'a str,
    email: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("email", email),
        ("name", "Ada Admin"),
        ("password", password),
        ("password_confirm", password),
    ]
}

/// A URL to a brand-new, empty database on the MariaDB server of the test command.
///
/// Fails (never skips) when `AICARPOOL_TEST_MYSQL_URL` is unset: a silently skipped database
/// test would hide a broken CI set-up. `scripts/test.sh` starts the server and sets it.
pub async fn fresh_mysql_database() -> String {
    use sqlx::Connection;
    let base = std::env::var("AICARPOOL_TEST_MYSQL_URL").expect(
        "AICARPOOL_TEST_MYSQL_URL is not set: run the tests through scripts/test.sh, which starts MariaDB",
    );
    let name = format!("acp_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::MySqlConnection::connect(&base)
        .await
        .expect("connect to the test MariaDB");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let (server, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{server}/{name}")
}

/// A JSON API request, authenticated with a bearer token when one is given.
pub fn api(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(Body::from(json.to_string()))
            .expect("request"),
        None => builder.body(Body::empty()).expect("request"),
    }
}

/// Sends a request and returns the status and the JSON body (`Null` when empty).
pub async fn call(
    router: &Router,
    request: Request<Body>,
) -> (http::StatusCode, serde_json::Value) {
    let response = send(router, request).await;
    let status = response.status();
    let body = text(response).await;
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
    };
    (status, json)
}

/// A password hash computed once per test binary, so creating users costs no argon2 time.
pub async fn shared_hash() -> String {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async {
        aicarpool::auth::hash_password("correct horse battery".into())
            .await
            .expect("hash")
    })
    .await
    .clone()
}

/// Creates a user directly in the store (after completing setup) and opens a session; returns
/// (user id, bearer token).
pub async fn user_with_session(state: &AppState, email: &str, system_admin: bool) -> (i64, String) {
    use aicarpool::db::users::{self, NewUser, SystemRole};
    let new = NewUser {
        email: email.into(),
        name: email.split('@').next().unwrap_or("x").into(),
        password_hash: shared_hash().await,
        role: if system_admin {
            SystemRole::Admin
        } else {
            SystemRole::User
        },
        locale: "en".into(),
    };
    let id = if system_admin {
        users::create_admin(state.db(), &new).await
    } else {
        users::create_user(state.db(), &new).await
    }
    .expect("user");
    let token = aicarpool::identity::open_session(state, id, None)
        .await
        .expect("session");
    (id, token)
}
