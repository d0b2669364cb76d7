//! Invitation mail through a real SMTP server (aiosmtpd, started here on a free loopback port):
//! the mail arrives with a plain-text and an HTML part in the inviter's language, its link
//! works end to end; with the server down the invitation waits in the outbox and goes out
//! once the server is up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aicarpool::config::{Config, Settings};
use aicarpool::outbox::{RetryPolicy, run_once};
use common::smtp::{SmtpServer, free_port};
use common::*;
use http::StatusCode;
use serde_json::json;

fn smtp_config(dir: &Path, port: u16) -> Config {
    let settings = Settings {
        data_dir: Some(dir.display().to_string()),
        host: Some("127.0.0.1".into()),
        port: Some("0".into()),
        app_url: Some("https://carpool.example.com".into()),
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(port.to_string()),
        smtp_security: Some("plain".into()),
        smtp_from: Some("AiCarpool <noreply@carpool.example.com>".into()),
        site_root: Some(dir.join("site").display().to_string()),
        ..Settings::default()
    };
    let mut config = Config::from_settings(&settings).unwrap();
    config.resolve_secrets().unwrap();
    config
}

fn token_in(text: &str) -> String {
    let start = text
        .find("https://carpool.example.com/invite/")
        .expect("accept link in the mail")
        + "https://carpool.example.com/invite/".len();
    text[start..start + 64].to_owned()
}

#[tokio::test]
async fn an_invitation_arrives_by_smtp_and_its_link_leads_into_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, &dir.path().join("maildir"));
    let state = state_with_token(smtp_config(dir.path(), port)).await;
    let router = router_for(&state);
    let (_, owner) = user_with_session(&state, "owner@example.com", true).await;
    let (s, _) = call(
        &router,
        api(
            "PUT",
            "/api/auth/me",
            Some(&owner),
            Some(json!({"name": "王小明", "locale": "zh-CN"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, group) = call(
        &router,
        api(
            "POST",
            "/api/groups",
            Some(&owner),
            Some(json!({"name": "Claude 拼车"})),
        ),
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let (s, inv) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite"),
            Some(&owner),
            Some(json!({"email": "Ada@Example.com", "role": "admin"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    assert_eq!(inv["email"], "ada@example.com");
    assert!(inv["expires_at"].as_i64().unwrap() > 0);

    // The sender retries a failed attempt (a busy machine can make the first one time out),
    // exactly as in production; a mail that never goes out fails the test after 20 s.
    let fast = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_millis(100),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while run_once(&state, fast).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the invitation mail was never sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let raw = smtp.wait_for_message();
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a parseable mail");
    assert_eq!(
        message.to().unwrap().first().unwrap().address().unwrap(),
        "ada@example.com"
    );
    let subject = message.subject().unwrap();
    assert!(
        subject.contains("王小明") && subject.contains("Claude 拼车"),
        "Chinese, the inviter's language: {subject}"
    );
    let text = message.body_text(0).expect("a plain-text part");
    assert!(message.body_html(0).is_some(), "an HTML part");
    assert!(text.contains("管理员"), "the role, in Chinese: {text}");
    let token = token_in(&text);

    // Follow the link: preview, register with the invited address, accept.
    let (s, preview) = call(
        &router,
        api("GET", &format!("/api/invitations/{token}"), None, None),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            preview["group_name"].as_str(),
            preview["state"].as_str(),
            preview["role"].as_str()
        ),
        (Some("Claude 拼车"), Some("pending"), Some("admin"))
    );
    let (s, reg) = call(&router, api("POST", "/api/auth/register", None, Some(json!({"email": "ada@example.com", "password": "ada's long password", "name": "Ada"})))).await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    let ada = reg["token"].as_str().unwrap().to_owned();
    let (s, joined) = call(
        &router,
        api(
            "POST",
            &format!("/api/invitations/{token}/accept"),
            Some(&ada),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{joined}");
    let (_, me) = call(&router, api("GET", "/api/auth/me", Some(&ada), None)).await;
    assert_eq!(
        me["groups"],
        json!([{"id": group, "name": "Claude 拼车", "role": "admin"}])
    );
    // Single use: the accepted invitation is gone.
    let (s, body) = call(
        &router,
        api(
            "POST",
            &format!("/api/invitations/{token}/accept"),
            Some(&ada),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::GONE, "{body}");
    let list = invitations(&router, group, &owner).await;
    assert_eq!(list[0]["state"], "accepted");
    assert_eq!(list[0]["delivery"]["state"], "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_smtp_server_down_the_invitation_waits_and_is_delivered_later() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let state = state_with_token(smtp_config(dir.path(), port)).await;
    let router = router_for(&state);
    let (_, owner) = user_with_session(&state, "owner@example.com", true).await;
    let (_, group) = call(
        &router,
        api(
            "POST",
            "/api/groups",
            Some(&owner),
            Some(json!({"name": "Late mail"})),
        ),
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let (s, _) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite"),
            Some(&owner),
            Some(json!({"email": "bob@example.com"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    let policy = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    assert_eq!(
        run_once(&state, policy).await,
        0,
        "nothing can be sent while the server is down"
    );
    let list = invitations(&router, group, &owner).await;
    let delivery = &list[0]["delivery"];
    assert_eq!(delivery["state"], "pending", "{list}");
    assert_eq!(delivery["attempts"], 1);
    assert!(
        delivery["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "the failure is shown: {delivery}"
    );
    assert_eq!(list[0]["state"], "pending", "the invitation itself is kept");

    let smtp = SmtpServer::start(port, &dir.path().join("maildir"));
    let worker = aicarpool::outbox::spawn(state.clone(), policy);
    let raw = smtp.wait_for_message();
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.subject(),
        Some("owner invited you to Late mail on AiCarpool")
    );
    let token = token_in(&message.body_text(0).unwrap());
    let (s, preview) = call(
        &router,
        api("GET", &format!("/api/invitations/{token}"), None, None),
    )
    .await;
    assert_eq!(
        (s, preview["state"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    // The server has the message as soon as the SMTP transaction ends; the worker records the
    // delivery just after, so the test waits for that record rather than racing it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = invitations(&router, group, &owner).await;
        if list[0]["delivery"]["state"] != "pending" || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.abort();
    assert_eq!(list[0]["delivery"]["state"], "sent", "{list}");
    assert_eq!(smtp.messages().len(), 1, "delivered once, not twice");
}

/// The group's invitations as its owner sees them.
async fn invitations(router: &axum::Router, group: i64, owner: &str) -> serde_json::Value {
    let path = format!("/api/groups/{group}/invitations");
    let (status, list) = call(router, api("GET", &path, Some(owner), None)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

/// A private certificate authority and a `localhost` server certificate it signed, as
/// (ca cert, server cert, server key) paths.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=AiCarpool test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn tls_config(dir: &Path, port: u16, security: &str, ca_file: Option<&Path>) -> Config {
    let settings = Settings {
        data_dir: Some(dir.display().to_string()),
        host: Some("127.0.0.1".into()),
        port: Some("0".into()),
        app_url: Some("https://carpool.example.com".into()),
        smtp_host: Some("localhost".into()),
        smtp_port: Some(port.to_string()),
        smtp_security: Some(security.into()),
        smtp_ca_file: ca_file.map(|p| p.display().to_string()),
        site_root: Some(dir.join("site").display().to_string()),
        ..Settings::default()
    };
    let mut config = Config::from_settings(&settings).unwrap();
    config.resolve_secrets().unwrap();
    config
}

async fn invite_one(state: &aicarpool::state::AppState) -> i64 {
    let router = router_for(state);
    let (_, owner) = user_with_session(state, "owner@example.com", true).await;
    let (_, group) = call(
        &router,
        api(
            "POST",
            "/api/groups",
            Some(&owner),
            Some(json!({"name": "TLS"})),
        ),
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let (s, _) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite"),
            Some(&owner),
            Some(json!({"email": "tls@example.com"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    group
}

#[tokio::test]
async fn starttls_and_implicit_tls_are_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(dir.path());
    let policy = RetryPolicy {
        base: Duration::from_millis(50),
        max: Duration::from_millis(50),
    };
    for (security, cert_flag, key_flag) in [
        ("starttls", "--tlscert", "--tlskey"),
        ("tls", "--smtpscert", "--smtpskey"),
    ] {
        let port = free_port();
        let flags = vec![
            cert_flag.to_owned(),
            cert.display().to_string(),
            key_flag.to_owned(),
            key.display().to_string(),
        ];
        let smtp = SmtpServer::start_with(
            port,
            &dir.path().join(format!("maildir-{security}")),
            &flags,
        );

        // Public roots do not vouch for a self-signed certificate: nothing is sent.
        let untrusted = tempfile::tempdir().unwrap();
        let state = state_with_token(tls_config(untrusted.path(), port, security, None)).await;
        invite_one(&state).await;
        assert_eq!(
            run_once(&state, policy).await,
            0,
            "{security}: an unverified certificate must be refused"
        );
        assert!(smtp.messages().is_empty());

        // With the CA configured, the mail goes out over TLS.
        let trusted = tempfile::tempdir().unwrap();
        let state = state_with_token(tls_config(trusted.path(), port, security, Some(&ca))).await;
        invite_one(&state).await;
        assert_eq!(
            run_once(&state, policy).await,
            1,
            "{security}: sent with the configured CA"
        );
        let raw = smtp.wait_for_message();
        let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            message.subject(),
            Some("owner invited you to TLS on AiCarpool")
        );
    }
}
