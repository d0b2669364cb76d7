//! Budget warnings through a real SMTP server (aiosmtpd on a free loopback port): crossing 80 %
//! of a limit mails the group's owners and admins and the member concerned once, crossing
//! 100 % once more; a new window (a 25-hour day in New York) re-arms the warnings; two
//! checkers racing on one database (SQLite and MariaDB) raise and send each warning once; a
//! deleted limit warns nobody.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aicarpool::config::{Config, Settings};
use aicarpool::db::usage::{UsageRow, insert_batch};
use aicarpool::limit_alerts::Checker;
use aicarpool::outbox::{RetryPolicy, run_once};
use aicarpool::state::AppState;
use aicarpool::timefmt::parse_rfc3339_ms;
use axum::Router;
use common::smtp::{SmtpServer, free_port};
use common::*;
use serde_json::{Value, json};

const APP_URL: &str = "https://carpool.example.com";

/// A group with an owner (Olivia), an admin who reads Chinese (Ada) and two members (Bob, who
/// has a key, and Carol).
struct Fixture {
    state: AppState,
    router: Router,
    group: i64,
    owner: String,
    ada: (i64, String),
    bob: (i64, String),
    bob_key: i64,
    carol: (i64, String),
    smtp: Option<SmtpServer>,
    _dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path, database_url: Option<String>, smtp: Option<u16>) -> Config {
    let settings = Settings {
        data_dir: Some(dir.display().to_string()),
        database_url,
        host: Some("127.0.0.1".into()),
        port: Some("0".into()),
        app_url: Some(APP_URL.into()),
        smtp_host: smtp.map(|_| "127.0.0.1".into()),
        smtp_port: smtp.map(|p| p.to_string()),
        smtp_security: smtp.map(|_| "plain".into()),
        smtp_from: Some("AiCarpool <noreply@carpool.example.com>".into()),
        site_root: Some(dir.join("site").display().to_string()),
        ..Settings::default()
    };
    let mut config = Config::from_settings(&settings).unwrap();
    config.resolve_secrets().unwrap();
    config
}

async fn ok(router: &Router, token: &str, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (status, body) = call(router, api(method, uri, Some(token), body)).await;
    assert!(status.is_success(), "{method} {uri}: {status} {body}");
    body
}

async fn join(
    router: &Router,
    state: &AppState,
    owner: &str,
    group: i64,
    email: &str,
    role: &str,
) -> (i64, String) {
    let (id, token) = user_with_session(state, email, false).await;
    let link = ok(
        router,
        owner,
        "POST",
        &format!("/api/groups/{group}/invite-links"),
        Some(json!({"role": role})),
    )
    .await;
    let link = link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    ok(
        router,
        &token,
        "POST",
        &format!("/api/invitations/{link}/accept"),
        None,
    )
    .await;
    (id, token)
}

async fn fixture(database_url: Option<String>, with_smtp: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = with_smtp.then(|| SmtpServer::start(port, &dir.path().join("maildir")));
    let state = state_with_token(config(dir.path(), database_url, with_smtp.then_some(port))).await;
    let router = router_for(&state);
    let (_, owner) = user_with_session(&state, "olivia@example.com", true).await;
    let group = ok(
        &router,
        &owner,
        "POST",
        "/api/groups",
        Some(json!({"name": "Claude 拼车"})),
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let ada = join(&router, &state, &owner, group, "ada@example.com", "admin").await;
    ok(
        &router,
        &ada.1,
        "PUT",
        "/api/auth/me",
        Some(json!({"locale": "zh-CN"})),
    )
    .await;
    let bob = join(&router, &state, &owner, group, "bob@example.com", "member").await;
    let carol = join(
        &router,
        &state,
        &owner,
        group,
        "carol@example.com",
        "member",
    )
    .await;
    let key = ok(
        &router,
        &bob.1,
        "POST",
        &format!("/api/groups/{group}/keys"),
        Some(json!({"name": "laptop"})),
    )
    .await;
    let bob_key = key["id"].as_i64().unwrap();
    Fixture {
        state,
        router,
        group,
        owner,
        ada,
        bob,
        bob_key,
        carol,
        smtp,
        _dir: dir,
    }
}

impl Fixture {
    async fn limit(&self, body: Value) -> i64 {
        let limit = ok(
            &self.router,
            &self.owner,
            "POST",
            &format!("/api/groups/{}/limits", self.group),
            Some(body),
        )
        .await;
        limit["id"].as_i64().unwrap()
    }

    /// Stores a served request of `user` (with `key`) at `at`.
    async fn usage(&self, at: i64, user: i64, key: i64, tokens: i64, cost_micros: i64) {
        let row = UsageRow {
            created_at: at,
            request_id: uuid::Uuid::new_v4().to_string(),
            key_id: key,
            user_id: user,
            group_id: self.group,
            account_id: Some(1),
            provider: Some("openai".into()),
            endpoint: "chat_completions".into(),
            model_requested: "gpt-4o-mini".into(),
            model_served: Some("gpt-4o-mini".into()),
            input_tokens: tokens / 2,
            output_tokens: tokens - tokens / 2,
            cost_micros,
            status: 200,
            attempts: 1,
            total_ms: 10,
            ..UsageRow::default()
        };
        insert_batch(self.state.db(), &[row]).await.unwrap();
    }

    /// The mails waiting in the outbox, as (to, subject, text).
    async fn queued(&self) -> Vec<(String, String, String)> {
        aicarpool::db::outbox::due(self.state.db(), i64::MAX, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.to_address, m.subject, m.text_body))
            .collect()
    }

    /// Sends every queued mail and waits until the SMTP server holds `total` messages; returns
    /// them parsed as (to, subject, text).
    async fn delivered(&self, total: usize) -> Vec<(String, String, String)> {
        let smtp = self.smtp.as_ref().unwrap();
        let fast = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(100),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while smtp.messages().len() < total {
            assert!(
                Instant::now() < deadline,
                "only {} of {total} mails arrived",
                smtp.messages().len()
            );
            run_once(&self.state, fast).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let messages = smtp.messages();
        assert_eq!(messages.len(), total, "no more mails than expected");
        messages
            .iter()
            .map(|raw| {
                let m = mail_parser::MessageParser::default().parse(raw).unwrap();
                (
                    m.to()
                        .unwrap()
                        .first()
                        .unwrap()
                        .address()
                        .unwrap()
                        .to_owned(),
                    m.subject().unwrap().to_owned(),
                    m.body_text(0).unwrap().into_owned(),
                )
            })
            .collect()
    }
}

fn to_set(mails: &[(String, String, String)]) -> BTreeSet<String> {
    mails.iter().map(|(to, _, _)| to.clone()).collect()
}

#[tokio::test]
async fn crossing_80_then_100_percent_mails_the_right_people_once_each() {
    let f = fixture(None, true).await;
    let (bob, bob_token) = f.bob.clone();
    let limit = f
        .limit(json!({"scope": "member", "target_id": bob, "metric": "cost", "window": "month", "cap": "1"}))
        .await;
    let mut checker = Checker::default();
    let now = aicarpool::db::now_ms();
    assert_eq!(
        checker.check(&f.state, now).await.unwrap(),
        0,
        "nothing used yet"
    );

    // Carol's spending is not Bob's; Bob reaches 85 % of his dollar.
    f.usage(now - 2000, f.carol.0, 0, 100, 5_000_000).await;
    f.usage(now - 1000, bob, f.bob_key, 1000, 850_000).await;
    assert_eq!(checker.check(&f.state, now + 1).await.unwrap(), 1);
    assert_eq!(
        checker.check(&f.state, now + 2).await.unwrap(),
        0,
        "once per threshold"
    );
    let mails = f.delivered(3).await;
    assert_eq!(
        to_set(&mails),
        ["ada@example.com", "bob@example.com", "olivia@example.com"]
            .map(String::from)
            .into(),
        "owner, admin and the member concerned; not Carol"
    );
    let bobs = &mails.iter().find(|m| m.0 == "bob@example.com").unwrap();
    assert!(bobs.1.contains("80%"), "{}", bobs.1);
    for needle in [
        "member bob: cost per month",
        "Cap: $1.00",
        "Used: $0.85 (85%)",
        "Asia/Shanghai",
        "owners and admins (olivia, ada)",
        &format!("{APP_URL}/groups/{}/me", f.group),
    ] {
        assert!(
            bobs.2.contains(needle),
            "{needle:?} in Bob's mail:\n{}",
            bobs.2
        );
    }
    let adas = &mails.iter().find(|m| m.0 == "ada@example.com").unwrap();
    assert!(adas.1.contains("预算预警"), "Ada reads Chinese: {}", adas.1);
    assert!(
        adas.2
            .contains(&format!("{APP_URL}/groups/{}#group-limits", f.group)),
        "{}",
        adas.2
    );

    // Past the cap: one more mail each, saying so.
    f.usage(now + 10, bob, f.bob_key, 100, 200_000).await;
    assert_eq!(checker.check(&f.state, now + 20).await.unwrap(), 1);
    assert_eq!(checker.check(&f.state, now + 30).await.unwrap(), 0);
    let mails = f.delivered(6).await;
    let reached: Vec<_> = mails
        .iter()
        .filter(|m| m.2.contains("(105%)") || m.2.contains("（105%）"))
        .collect();
    assert_eq!(reached.len(), 3, "{mails:#?}");
    assert!(
        reached
            .iter()
            .any(|m| m.0 == "bob@example.com" && m.1.contains("Reached 100%"))
    );

    // The pages' data: Bob sees both thresholds of this month on his limit.
    let limits = ok(
        &f.router,
        &bob_token,
        "GET",
        &format!("/api/groups/{}/limits", f.group),
        None,
    )
    .await;
    let mine = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == limit)
        .unwrap();
    assert_eq!(mine["alerts"], json!([80, 100]));
    let carols = ok(
        &f.router,
        &f.carol.1,
        "GET",
        &format!("/api/groups/{}/limits", f.group),
        None,
    )
    .await;
    assert_eq!(carols, json!([]), "Carol does not see Bob's limit");

    // The pages: Bob's budget page and the group's limits (for Ada, in Chinese) show them.
    let page = |uri: String, token: String, lang: &'static str| {
        let router = f.router.clone();
        async move {
            let req = http::Request::get(uri)
                .header(http::header::ACCEPT, "text/html")
                .header(http::header::ACCEPT_LANGUAGE, lang)
                .header(http::header::COOKIE, format!("aicarpool_session={token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            text(send(&router, req).await).await
        }
    };
    let html = page(format!("/groups/{}/me", f.group), bob_token.clone(), "en").await;
    assert!(html.contains(r#"data-alerts="80,100""#), "{html}");
    assert!(html.contains("Cap reached"), "{html}");
    let (_, ada_token) = f.ada.clone();
    let html = page(format!("/groups/{}", f.group), ada_token, "zh-CN").await;
    assert!(
        html.contains(r#"data-alerts="80,100""#) && html.contains("已用完"),
        "{html}"
    );
}

#[tokio::test]
async fn a_new_day_rearms_the_warnings_and_dst_days_are_25_hours() {
    let f = fixture(None, false).await;
    ok(
        &f.router,
        &f.owner,
        "PUT",
        &format!("/api/groups/{}/time-zone", f.group),
        Some(json!({"time_zone": "america/new_york"})),
    )
    .await;
    let limit = f
        .limit(json!({"scope": "group", "metric": "tokens", "window": "day", "cap": 1000}))
        .await;
    let t = |s: &str| parse_rfc3339_ms(s).unwrap();
    // 2026-11-01 in New York lasts 25 hours; its first and last hours are one day.
    f.usage(t("2026-11-01T00:30:00-04:00"), f.bob.0, f.bob_key, 500, 0)
        .await;
    f.usage(t("2026-11-01T23:30:00-05:00"), f.carol.0, 0, 400, 0)
        .await;
    let mut checker = Checker::default();
    assert_eq!(
        checker
            .check(&f.state, t("2026-11-01T23:45:00-05:00"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        f.queued().await.len(),
        2,
        "owner and admin: a group limit concerns no single member"
    );
    // Midnight: a new window, nothing used in it yet.
    assert_eq!(
        checker
            .check(&f.state, t("2026-11-02T00:10:00-05:00"))
            .await
            .unwrap(),
        0
    );
    f.usage(t("2026-11-02T00:20:00-05:00"), f.bob.0, f.bob_key, 850, 0)
        .await;
    assert_eq!(
        checker
            .check(&f.state, t("2026-11-02T00:30:00-05:00"))
            .await
            .unwrap(),
        1
    );
    let queued = f.queued().await;
    assert_eq!(queued.len(), 4);
    assert!(
        queued[2]
            .2
            .contains("2026-11-03 00:00 (America/New_York, UTC-05:00)"),
        "{}",
        queued[2].2
    );
    let rows = aicarpool::db::limit_alerts::in_windows(
        f.state.db(),
        f.group,
        &[
            t("2026-11-01T00:00:00-04:00"),
            t("2026-11-02T00:00:00-05:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.limit_id, r.threshold))
            .collect::<Vec<_>>(),
        [(limit, 80), (limit, 80)]
    );
    assert_ne!(rows[0].window_start, rows[1].window_start);
}

/// Two fresh checkers (two nodes) checking at the same moment; the warnings they raised.
async fn race(a: &AppState, b: &AppState, now: i64) -> usize {
    let (mut x, mut y) = (Checker::default(), Checker::default());
    let (a, b) = tokio::join!(x.check(a, now), y.check(b, now));
    a.unwrap() + b.unwrap()
}

/// Two nodes' checkers on one database notice the same crossings at the same moment; each
/// warning is recorded, queued and delivered once.
async fn racing_checkers_raise_each_warning_once(database_url: Option<String>) {
    let f = fixture(database_url, true).await;
    let other = {
        let config = f.state.config().clone();
        let db = server::startup::open_database(&config).await.unwrap();
        let mailer = aicarpool::mail::Mailer::from_config(&config).unwrap();
        AppState::new(
            config,
            db,
            mailer,
            None,
            aicarpool::setup::SetupGate::closed(),
        )
    };
    let bodies = [
        json!({"scope": "group", "metric": "cost", "window": "month", "cap": "1"}),
        json!({"scope": "group", "metric": "cost", "window": "day", "cap": "1"}),
        json!({"scope": "group", "metric": "tokens", "window": "total", "cap": 1000}),
        json!({"scope": "key", "target_id": f.bob_key, "metric": "requests", "window": "month", "cap": 5}),
        json!({"scope": "member", "target_id": f.bob.0, "metric": "tokens", "window": "day", "cap": 1000}),
    ];
    for body in bodies {
        f.limit(body).await;
    }
    let now = aicarpool::db::now_ms();
    for i in 0..4 {
        f.usage(now - 1000 + i, f.bob.0, f.bob_key, 210, 210_000)
            .await;
    }
    // 4 requests of 210 tokens and $0.21: 80 % of every limit.
    assert_eq!(
        race(&f.state, &other, now).await,
        5,
        "each limit's warning raised by one node"
    );
    // Group limits mail Olivia and Ada; Bob's key and member limits mail Bob too.
    assert_eq!(f.queued().await.len(), 3 * 2 + 2 * 3);
    // Both nodes' senders work through the outbox at once.
    let fast = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_millis(100),
    };
    tokio::join!(run_once(&f.state, fast), run_once(&other, fast));
    let mails = f.delivered(12).await;
    assert_eq!(mails.iter().filter(|m| m.0 == "bob@example.com").count(), 2);

    // Past every cap: once more, whoever is first.
    f.usage(now + 1, f.bob.0, f.bob_key, 210, 210_000).await;
    assert_eq!(race(&other, &f.state, now + 2).await, 5);
    assert_eq!(race(&other, &f.state, now + 3).await, 0);
    assert_eq!(f.delivered(24).await.len(), 24);
}

#[tokio::test]
async fn racing_checkers_raise_each_warning_once_on_sqlite() {
    racing_checkers_raise_each_warning_once(None).await;
}

#[tokio::test]
async fn racing_checkers_raise_each_warning_once_on_mariadb() {
    racing_checkers_raise_each_warning_once(Some(fresh_mysql_database().await)).await;
}

async fn a_deleted_limit_warns_nobody(database_url: Option<String>) {
    let f = fixture(database_url, false).await;
    let limit = f
        .limit(json!({"scope": "group", "metric": "cost", "window": "month", "cap": "1"}))
        .await;
    let now = aicarpool::db::now_ms();
    f.usage(now - 1000, f.bob.0, f.bob_key, 10, 2_000_000).await;
    ok(
        &f.router,
        &f.owner,
        "DELETE",
        &format!("/api/groups/{}/limits/{limit}", f.group),
        None,
    )
    .await;
    assert_eq!(Checker::default().check(&f.state, now).await.unwrap(), 0);
    assert!(f.queued().await.is_empty());
    // A checker that loaded the limit just before it was deleted records and mails nothing.
    let crossing = aicarpool::db::limit_alerts::Crossing {
        limit_id: limit,
        group_id: f.group,
        window_start: 0,
        thresholds: vec![100, 80],
        used: 2_000_000,
        cap: 1_000_000,
    };
    let mail = aicarpool::db::outbox::NewMail {
        to: "olivia@example.com".into(),
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
    };
    assert!(
        !aicarpool::db::limit_alerts::raise(f.state.db(), &crossing, &[mail], now)
            .await
            .unwrap()
    );
    assert!(f.queued().await.is_empty());
    assert!(
        aicarpool::db::limit_alerts::in_windows(f.state.db(), f.group, &[0])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_deleted_limit_warns_nobody_on_sqlite() {
    a_deleted_limit_warns_nobody(None).await;
}

#[tokio::test]
async fn a_deleted_limit_warns_nobody_on_mariadb() {
    a_deleted_limit_warns_nobody(Some(fresh_mysql_database().await)).await;
}
