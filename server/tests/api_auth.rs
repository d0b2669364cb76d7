//! Accounts and sessions over the JSON API: register, login (same answer for unknown email
//! and wrong password, throttling with Retry-After), me, logout that really ends the session,
//! password change that ends every session, the HttpOnly cookie and the cross-site check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode, header};
use serde_json::json;

async fn ready() -> (tempfile::TempDir, aicarpool::state::AppState, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_token(config_in(dir.path(), None)).await;
    user_with_session(&state, "root@example.com", true).await;
    let router = router_for(&state);
    (dir, state, router)
}

fn register(email: &str, password: &str) -> Request<Body> {
    api(
        "POST",
        "/api/auth/register",
        None,
        Some(json!({"email": email, "password": password, "name": "Ada"})),
    )
}

fn login(email: &str, password: &str) -> Request<Body> {
    api(
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
}

#[tokio::test]
async fn register_then_login_and_me() {
    let (_dir, _state, router) = ready().await;
    let res = send(&router, register("Ada@Example.com", "long enough pw")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("aicarpool_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http instance");
    let body: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "user");
    assert!(body["user"].get("password_hash").is_none());

    let (s, b) = call(&router, register("ada@example.com", "another password")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = call(&router, register("not-an-email", "long enough pw")).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let (s, b) = call(&router, register("bob@example.com", "short")).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (s, b) = call(
        &router,
        api(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": "x@example.com"})),
        ),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a missing field is explained: {b}"
    );
    let bad_json = Request::post("/api/auth/register")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (s, b) = call(&router, bad_json).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{b}"
    );
    let no_type = Request::post("/api/auth/login")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        call(&router, no_type).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let (s, b) = call(&router, login("ADA@example.com", "long enough pw")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = b["token"].as_str().unwrap();
    let (s, me) = call(&router, api("GET", "/api/auth/me", Some(token), None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["groups"], json!([]));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let (_dir, _state, router) = ready().await;
    call(&router, register("ada@example.com", "long enough pw")).await;
    let wrong = call(&router, login("ada@example.com", "wrong password")).await;
    let unknown = call(&router, login("nobody@example.com", "wrong password")).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_with_retry_after() {
    let (_dir, _state, router) = ready().await;
    call(&router, register("ada@example.com", "long enough pw")).await;
    for _ in 0..5 {
        assert_eq!(
            call(&router, login("ada@example.com", "wrong password"))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let res = send(&router, login("ada@example.com", "long enough pw")).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another account from the same client is not blocked yet (per-client cap is higher).
    call(&router, register("bob@example.com", "long enough pw")).await;
    assert_eq!(
        call(&router, login("bob@example.com", "long enough pw"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_client_address() {
    let (_dir, _state, router) = ready().await;
    for i in 0..20 {
        assert_eq!(
            call(
                &router,
                login(&format!("u{i}@example.com"), "wrong password")
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (s, b) = call(&router, login("u99@example.com", "wrong password")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
}

#[tokio::test]
async fn logout_ends_the_session_for_real() {
    let (_dir, _state, router) = ready().await;
    let (_, b) = call(&router, register("ada@example.com", "long enough pw")).await;
    let token = b["token"].as_str().unwrap().to_owned();
    let (_, other) = call(&router, login("ada@example.com", "long enough pw")).await;
    let other = other["token"].as_str().unwrap().to_owned();
    let res = send(&router, api("POST", "/api/auth/logout", Some(&token), None)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        call(&router, api("GET", "/api/auth/me", Some(&token), None))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&router, api("GET", "/api/auth/me", Some(&other), None))
            .await
            .0,
        StatusCode::OK,
        "other sessions live on"
    );
    for bad in ["", "garbage", "a.b.c"] {
        assert_eq!(
            call(&router, api("GET", "/api/auth/me", Some(bad), None))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_password_change_ends_every_session_and_needs_the_current_password() {
    let (_dir, _state, router) = ready().await;
    let (_, a) = call(&router, register("ada@example.com", "long enough pw")).await;
    let a = a["token"].as_str().unwrap().to_owned();
    let (_, b) = call(&router, login("ada@example.com", "long enough pw")).await;
    let b = b["token"].as_str().unwrap().to_owned();
    let body = |current: &str| {
        Some(json!({"current_password": current, "new_password": "a brand new password"}))
    };
    let (s, err) = call(
        &router,
        api("POST", "/api/auth/password", Some(&a), body("not it")),
    )
    .await;
    assert_eq!(
        (s, err["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"))
    );
    let (s, fresh) = call(
        &router,
        api(
            "POST",
            "/api/auth/password",
            Some(&a),
            body("long enough pw"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for old in [&a, &b] {
        assert_eq!(
            call(&router, api("GET", "/api/auth/me", Some(old), None))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        call(
            &router,
            api("GET", "/api/auth/me", fresh["token"].as_str(), None)
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&router, login("ada@example.com", "long enough pw"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&router, login("ada@example.com", "a brand new password"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_session_cookie_works_and_cross_site_changes_are_refused() {
    let (_dir, _state, router) = ready().await;
    let res = send(&router, register("ada@example.com", "long enough pw")).await;
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_cookie = |method: &str, uri: &str, origin: Option<&str>| {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &cookie)
            .header(header::HOST, "localhost:3000");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.header("content-type", "application/json")
            .body(Body::from(json!({"name": "Cookie Group"}).to_string()))
            .unwrap()
    };
    assert_eq!(
        call(&router, with_cookie("GET", "/api/auth/me", None))
            .await
            .0,
        StatusCode::OK
    );
    let (s, b) = call(
        &router,
        with_cookie("POST", "/api/groups", Some("https://evil.example")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(
        call(&router, with_cookie("POST", "/api/groups", None))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "no Origin, no change"
    );
    assert_eq!(
        call(
            &router,
            with_cookie("POST", "/api/groups", Some("http://localhost:3000"))
        )
        .await
        .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn registration_waits_for_the_first_run_setup() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_token(config_in(dir.path(), None)).await;
    let router = router_for(&state);
    let (s, b) = call(&router, register("early@example.com", "long enough pw")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(
        text(send(&router, get("/")).await)
            .await
            .contains(r#"id="setup-form""#),
        "the setup form is still there"
    );
}

#[tokio::test]
async fn unknown_api_paths_answer_json() {
    let (_dir, _state, router) = ready().await;
    let (s, b) = call(&router, api("GET", "/api/nope", None, None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "not_found");
    let (s, b) = call(&router, api("GET", "/api/groups/abc", Some("x"), None)).await;
    assert!(s.is_client_error(), "{s} {b}");
}
