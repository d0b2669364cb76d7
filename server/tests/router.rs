//! Router tests through `router(state)` + `oneshot`: operational endpoints, the server-rendered
//! pages, the language switch, static assets, and the first-run setup server function.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use aicarpool::db::users;
use axum::body::Body;
use common::*;
use http::{Request, StatusCode, header};

async fn fresh() -> (tempfile::TempDir, aicarpool::state::AppState, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_token(config_in(dir.path(), None)).await;
    let router = router_for(&state);
    (dir, state, router)
}

#[tokio::test]
async fn healthz_and_readyz_answer_and_readyz_fails_without_the_database() {
    let (_dir, state, router) = fresh().await;
    let res = send(&router, get("/healthz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
    assert!(text(res).await.contains(r#""status":"ok""#));

    let res = send(&router, get("/readyz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(res).await.contains(r#""database":"ok""#));

    state.db().close().await;
    let res = send(&router, get("/readyz")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = text(res).await;
    assert!(body.contains(r#""status":"unavailable""#), "{body}");
    // Liveness does not depend on the database.
    assert_eq!(
        send(&router, get("/healthz")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_given_request_id_is_kept() {
    let (_dir, _state, router) = fresh().await;
    let req = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // One too long, or with spaces, to be logged and stored is replaced by a made-up one.
    for given in ["r".repeat(129), "two words".to_owned()] {
        let req = Request::get("/healthz")
            .header("x-request-id", &given)
            .body(Body::empty())
            .unwrap();
        let res = send(&router, req).await;
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{given}: {id}");
    }
}

#[tokio::test]
async fn home_page_is_server_rendered_with_assets_and_the_setup_form() {
    let (_dir, _state, router) = fresh().await;
    let res = send(&router, get("/")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = text(res).await;
    assert!(html.contains(r#"<html lang="en""#), "English by default");
    assert!(html.contains("/pkg/aicarpool.css"), "stylesheet link");
    assert!(html.contains("/pkg/aicarpool.js"), "hydration script");
    assert!(
        html.contains(r#"id="setup-form""#),
        "setup form while no user exists"
    );
    assert!(html.contains(r#"name="token""#) && html.contains(r#"name="password_confirm""#));
    assert!(html.contains("Welcome to AiCarpool"));
    assert!(
        html.contains(r#"data-hydrated="false""#),
        "the hydration marker starts false"
    );
    assert!(!html.contains(TOKEN), "the token never reaches the page");
    // In place inside <main>, not streamed into a <template> that needs a script to show.
    let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
    assert!(
        main.contains(r#"id="setup-form""#),
        "works without JavaScript: {main}"
    );
}

#[tokio::test]
async fn language_follows_the_browser_then_the_remembered_choice() {
    let (_dir, _state, router) = fresh().await;
    let req = Request::get("/")
        .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9,en;q=0.8")
        .body(Body::empty())
        .unwrap();
    let html = text(send(&router, req).await).await;
    assert!(html.contains(r#"<html lang="zh-CN""#));
    assert!(html.contains("欢迎使用 AiCarpool 拼车"));

    let req = Request::get("/")
        .header(header::ACCEPT_LANGUAGE, "zh-CN")
        .header(header::COOKIE, "aicarpool_lang=en")
        .body(Body::empty())
        .unwrap();
    let html = text(send(&router, req).await).await;
    assert!(
        html.contains(r#"<html lang="en""#),
        "the cookie wins over the browser"
    );
}

#[tokio::test]
async fn the_language_switch_sets_a_cookie_and_only_redirects_within_the_site() {
    let (_dir, _state, router) = fresh().await;
    let res = send(&router, get("/lang/zh-CN?next=/status")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/status");
    let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("aicarpool_lang=zh-CN;") && cookie.contains("Max-Age=31536000"),
        "{cookie}"
    );

    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let res = send(&router, get(&format!("/lang/en?next={evil}"))).await;
        assert_eq!(res.headers()[header::LOCATION], "/", "{evil}");
    }
    let res = send(&router, get("/lang/fr")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text(res).await.contains("zh-CN or en"));
}

#[tokio::test]
async fn unknown_pages_are_404_in_the_readers_language() {
    let (_dir, _state, router) = fresh().await;
    let req = Request::get("/no/such/page")
        .header(header::ACCEPT_LANGUAGE, "zh")
        .body(Body::empty())
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(text(res).await.contains("页面不存在"));
}

#[tokio::test]
async fn built_assets_are_served_precompressed() {
    let (dir, _state, router) = fresh().await;
    let pkg = dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("aicarpool.css"), "body{}").unwrap();
    std::fs::write(pkg.join("aicarpool.css.br"), "brotli-bytes").unwrap();
    std::fs::write(pkg.join("aicarpool.css.gz"), "gzip-bytes").unwrap();

    let req = Request::get("/pkg/aicarpool.css")
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .body(Body::empty())
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/css");
    assert_eq!(text(res).await, "brotli-bytes");

    let req = Request::get("/pkg/aicarpool.css")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    assert_eq!(text(send(&router, req).await).await, "gzip-bytes");
    let res = send(&router, get("/pkg/aicarpool.css")).await;
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(text(res).await, "body{}");
}

#[tokio::test]
async fn setup_refuses_a_wrong_token_and_bad_fields_without_creating_anyone() {
    let (_dir, state, router) = fresh().await;
    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields("wrong", "ada@example.com", "long enough pw"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(text(res).await.contains("SetupTokenInvalid"));

    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, "not-an-email", "long enough pw"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = text(res).await;
    assert!(
        body.contains("Email") && body.contains("EmailInvalid"),
        "{body}"
    );

    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, "ada@example.com", "short"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let mut fields = setup_fields(TOKEN, "ada@example.com", "long enough pw");
    fields[4].1 = "different pw!!";
    let res = send(&router, form_post("/rpc/setup", &fields)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(res).await.contains("Mismatch"));

    assert_eq!(users::count(state.db()).await.unwrap(), 0);
    assert!(
        text(send(&router, get("/")).await)
            .await
            .contains(r#"id="setup-form""#)
    );
}

#[tokio::test]
async fn setup_with_the_token_creates_one_admin_and_the_form_is_gone_for_good() {
    let (_dir, state, router) = fresh().await;
    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, " Ada@Example.com ", "correct horse battery"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", text(res).await);

    let admin = users::find_by_email(state.db(), "ada@example.com")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(admin.role, "admin");
    assert_eq!(admin.name, "Ada Admin");
    assert!(admin.password_hash.starts_with("$argon2id$"));
    assert!(
        aicarpool::auth::verify_password("correct horse battery".into(), admin.password_hash)
            .await
            .unwrap()
    );

    // The token is spent: a second submission, even with it, is refused.
    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, "eve@example.com", "correct horse battery"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(users::count(state.db()).await.unwrap(), 1);

    let html = text(send(&router, get("/")).await).await;
    assert!(!html.contains(r#"id="setup-form""#), "form gone");
    assert!(
        html.contains(r#"id="instance-status""#)
            && html.contains("SQLite")
            && html.contains(aicarpool::VERSION)
    );

    // A restarted node (fresh gate, same database) keeps the form gone too.
    let restarted = state_with_token(state.config().clone()).await;
    let html = text(send(&router_for(&restarted), get("/")).await).await;
    assert!(!html.contains(r#"id="setup-form""#));
    let res = send(
        &router_for(&restarted),
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, "eve@example.com", "correct horse battery"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(users::count(restarted.db()).await.unwrap(), 1);
}

#[tokio::test]
async fn racing_setup_submissions_make_exactly_one_admin() {
    let (_dir, state, router) = fresh().await;
    let attempts = (0..8).map(|i| {
        let router = router.clone();
        async move {
            let email = format!("admin{i}@example.com");
            send(
                &router,
                form_post(
                    "/rpc/setup",
                    &setup_fields(TOKEN, &email, "correct horse battery"),
                ),
            )
            .await
            .status()
        }
    });
    let statuses = futures_join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(users::count(state.db()).await.unwrap(), 1);
}

/// Runs futures concurrently on the multi-threaded runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_plain_html_form_post_redirects_back_with_the_outcome() {
    let (_dir, state, router) = fresh().await;
    let plain = |fields: &[(&str, &str)]| {
        Request::post("/rpc/setup")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::HOST, "carpool.test")
            .header(header::REFERER, "http://carpool.test/?error=token")
            .body(Body::from(encode_form(fields)))
            .unwrap()
    };
    let res = send(
        &router,
        plain(&setup_fields(
            "wrong",
            "ada@example.com",
            "correct horse battery",
        )),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/?error=token");
    let html = text(send(&router, get("/?error=token")).await).await;
    assert!(
        html.contains("The setup token is wrong"),
        "the page explains the refusal"
    );

    let res = send(
        &router,
        plain(&setup_fields(
            TOKEN,
            "ada@example.com",
            "correct horse battery",
        )),
    )
    .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(users::count(state.db()).await.unwrap(), 1);
}

#[tokio::test]
async fn admin_create_from_the_cli_completes_setup() {
    let (_dir, state, router) = fresh().await;
    server::startup::create_admin(
        state.db(),
        "root@example.com",
        "correct horse battery",
        None,
    )
    .await
    .unwrap();
    let html = text(send(&router, get("/")).await).await;
    assert!(!html.contains(r#"id="setup-form""#));
    let res = send(
        &router,
        form_post(
            "/rpc/setup",
            &setup_fields(TOKEN, "eve@example.com", "correct horse battery"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let err = server::startup::create_admin(
        state.db(),
        "ROOT@example.com",
        "correct horse battery",
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn status_page_and_server_function_report_the_instance() {
    let (_dir, _state, router) = fresh().await;
    let html = text(send(&router, get("/status")).await).await;
    assert!(html.contains(r#"id="instance-status""#) && html.contains("SQLite"));
    assert!(html.contains("outbox log"), "mail transport shown");
    let res = send(
        &router,
        Request::post("/rpc/instance_status")
            .header("accept", "application/json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = text(res).await;
    assert!(
        body.contains(r#""setup_required":true"#) && body.contains(r#""database":"Sqlite""#),
        "{body}"
    );
}
