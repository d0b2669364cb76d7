//! Per-account upstream proxies through real proxy servers on loopback: tinyproxy (HTTP
//! forward proxy and CONNECT tunnel, Basic credentials) and Dante (SOCKS5, with and without
//! username authentication). Each test starts its own proxy process on a free port with a
//! config in a temp dir and stops it by PID when done. The binaries and the SOCKS test user
//! come from `scripts/setup.sh test`; without them the tests fail and say so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use aicarpool::gateway::client;
use common::gateway;
use common::proxies::{
    HTTP_PASSWORD, HTTP_USER, ProxyServer, SOCKS_PASSWORD, SOCKS_USER, SocksAuth,
};
use common::upstream::{assert_replied, chat, mock, send_chat};
use serde_json::{Value, json};

#[tokio::test]
async fn http_proxy_with_credentials_forwards_the_request() {
    let mock = mock().await;
    let proxy = ProxyServer::tinyproxy().await;
    let via_proxy = client::build(
        Some(&proxy.url("http", Some((HTTP_USER, HTTP_PASSWORD)))),
        None,
    )
    .unwrap();

    let res = send_chat(&via_proxy, &mock.openai_base_url(), "through tinyproxy")
        .await
        .unwrap();
    assert_replied(res, "through tinyproxy").await;

    // The proxy forwarded it (a loopback target is not exempt from a configured proxy)...
    proxy
        .log_with(&format!("POST {}/chat/completions", mock.openai_base_url()))
        .await;
    let seen = mock.last_request().unwrap();
    assert!(
        seen.header("via").is_some_and(|v| v.contains("tinyproxy")),
        "{:?}",
        seen.headers
    );
    // ...kept the proxy credentials to itself, and passed the provider key on.
    assert_eq!(seen.header("proxy-authorization"), None);
    assert_eq!(seen.header("authorization"), Some("Bearer mock-key"));

    // A client without a proxy reaches the mock directly.
    let direct = client::build(None, None).unwrap();
    let res = send_chat(&direct, &mock.openai_base_url(), "direct")
        .await
        .unwrap();
    assert_replied(res, "direct").await;
    assert_eq!(mock.last_request().unwrap().header("via"), None);
    assert_eq!(mock.stats().total, 2);
}

#[tokio::test]
async fn http_proxy_refuses_wrong_or_missing_credentials() {
    let mock = mock().await;
    let proxy = ProxyServer::tinyproxy().await;
    for url in [
        proxy.url("http", Some((HTTP_USER, "wrong-password"))),
        proxy.url("http", None),
    ] {
        let res = send_chat(
            &client::build(Some(&url), None).unwrap(),
            &mock.openai_base_url(),
            "hi",
        )
        .await
        .unwrap();
        // tinyproxy answers a forwarded request itself: 407 without credentials, and (1.11)
        // 401 with wrong ones.
        assert!(
            matches!(res.status().as_u16(), 401 | 407),
            "{url}: {}",
            res.status()
        );
    }
    assert_eq!(mock.stats().total, 0, "nothing reached the provider");
}

#[tokio::test]
async fn https_targets_tunnel_through_connect_with_credentials() {
    // Real providers are https, so the client asks the proxy for a CONNECT tunnel. The mock
    // speaks plain HTTP, so TLS fails inside the tunnel; what matters is who refused.
    let mock = mock().await;
    let proxy = ProxyServer::tinyproxy().await;
    let target = format!("https://{}/v1", mock.addr());

    let wrong = client::build(Some(&proxy.url("http", Some((HTTP_USER, "wrong")))), None).unwrap();
    let err = send_chat(&wrong, &target, "hi").await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let log = proxy
        .log_with(&format!("CONNECT {} HTTP/1.1", mock.addr()))
        .await;
    assert!(!log.contains("Established connection"), "{log}");

    let right = client::build(
        Some(&proxy.url("http", Some((HTTP_USER, HTTP_PASSWORD)))),
        None,
    )
    .unwrap();
    let err = send_chat(&right, &target, "hi").await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    proxy.log_with("Established connection").await;
    assert_eq!(mock.stats().total, 0);
}

#[tokio::test]
async fn socks5_with_credentials_carries_the_request() {
    let mock = mock().await;
    let proxy = ProxyServer::dante(SocksAuth::Username).await;

    let right = client::build(
        Some(&proxy.url("socks5", Some((SOCKS_USER, SOCKS_PASSWORD)))),
        None,
    )
    .unwrap();
    let res = send_chat(&right, &mock.openai_base_url(), "through dante")
        .await
        .unwrap_or_else(|e| panic!("{e:?}\ndante log:\n{}", proxy.log()));
    assert_replied(res, "through dante").await;
    // Dante logs the authenticated user and the target it connected to.
    proxy
        .log_with(&format!("username%{SOCKS_USER}@127.0.0.1"))
        .await;
    proxy
        .log_with(&format!("127.0.0.1.{}", mock.addr().port()))
        .await;

    for url in [
        proxy.url("socks5", Some((SOCKS_USER, "wrong-password"))),
        proxy.url("socks5", None),
    ] {
        let err = send_chat(
            &client::build(Some(&url), None).unwrap(),
            &mock.openai_base_url(),
            "hi",
        )
        .await
        .unwrap_err();
        assert!(err.is_connect(), "{url}: {err:?}");
    }
    proxy
        .log_with(&format!(
            "password authentication failed for user \"{SOCKS_USER}\""
        ))
        .await;
    proxy.log_with("no acceptable authentication method").await;
    assert_eq!(mock.stats().total, 1);
}

#[tokio::test]
async fn socks5h_resolves_names_at_the_proxy_and_socks5_locally() {
    let mock = mock().await;
    let proxy = ProxyServer::dante(SocksAuth::None).await;
    let port = mock.addr().port();

    for scheme in ["socks5", "socks5h"] {
        let client = client::build(Some(&proxy.url(scheme, None)), None).unwrap();
        let res = send_chat(&client, &format!("http://localhost:{port}/v1"), scheme)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e:?}\ndante log:\n{}", proxy.log()));
        assert_replied(res, scheme).await;
    }
    assert_eq!(mock.stats().total, 2);
    // One tunnel each, opened by Dante.
    let log = proxy.log();
    let tunnels = log
        .lines()
        .filter(|l| l.contains("tcp/connect [:") && l.ends_with(&format!("127.0.0.1.{port}")))
        .count();
    assert_eq!(tunnels, 2, "{log}");

    // A name only the proxy could (fail to) resolve: socks5h hands it to Dante, which says so;
    // socks5 resolves it here and never asks the proxy.
    let unknown = format!("http://upstream.invalid:{port}/v1");
    let socks5 = client::build(Some(&proxy.url("socks5", None)), None).unwrap();
    assert!(send_chat(&socks5, &unknown, "hi").await.is_err());
    assert!(!proxy.log().contains("upstream.invalid"), "{}", proxy.log());
    let socks5h = client::build(Some(&proxy.url("socks5h", None)), None).unwrap();
    let err = send_chat(&socks5h, &unknown, "hi").await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    proxy
        .log_with("could not resolve hostname \"upstream.invalid\"")
        .await;
}

#[tokio::test]
async fn a_stopped_proxy_fails_the_request() {
    let mock = mock().await;
    let tinyproxy = ProxyServer::tinyproxy().await;
    let tinyproxy_url = tinyproxy.url("http", Some((HTTP_USER, HTTP_PASSWORD)));
    let dante = ProxyServer::dante(SocksAuth::None).await;
    let dante_url = dante.url("socks5h", None);
    for (mut proxy, url) in [(tinyproxy, tinyproxy_url), (dante, dante_url)] {
        let res = send_chat(
            &client::build(Some(&url), None).unwrap(),
            &mock.openai_base_url(),
            "up",
        )
        .await
        .unwrap();
        assert_replied(res, "up").await;
        proxy.stop();
        let before = mock.stats().total;
        // A new client, as after a restart: a pooled connection to the dead proxy could fail
        // differently, depending on whether its close was noticed yet.
        let err = send_chat(
            &client::build(Some(&url), None).unwrap(),
            &mock.openai_base_url(),
            "down",
        )
        .await
        .unwrap_err();
        assert!(err.is_connect(), "{url}: {err:?}");
        assert_eq!(mock.stats().total, before, "{url}: no direct fallback");
    }
}

#[tokio::test]
async fn gateway_account_with_a_proxy_reaches_the_provider_through_it() {
    let gw = gateway::start().await;
    let proxy = ProxyServer::tinyproxy().await;
    let proxy_url = proxy.url("http", Some((HTTP_USER, HTTP_PASSWORD)));

    let (status, account) = gw
        .api(
            "POST",
            "/api/accounts",
            Some(json!({
                "name": "openai-proxied", "provider": "openai",
                "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(),
                "models": ["gpt-proxied"], "proxy_url": proxy_url,
            })),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    // The password is never shown back.
    assert_eq!(
        account["proxy_url"],
        format!("http://{HTTP_USER}:****@127.0.0.1:{}/", proxy.port)
    );
    let id = account["id"].as_i64().unwrap();
    let (status, binding) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/accounts", gw.group_id),
            Some(json!({"account_id": id})),
        )
        .await;
    assert_eq!(status, 201, "{binding}");

    let res = gw
        .post(
            "/v1/chat/completions",
            &chat("gpt-proxied", "via the gateway"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-account-id"], id.to_string());
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "mock reply: via the gateway"
    );
    proxy
        .log_with(&format!(
            "POST {}/chat/completions",
            gw.mock.openai_base_url()
        ))
        .await;
    let seen = gw.mock.last_request().unwrap();
    assert!(seen.header("via").is_some_and(|v| v.contains("tinyproxy")));
    assert_eq!(seen.body["model"], "gpt-proxied");

    // The fixture's account has no proxy and still goes direct.
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "direct"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(gw.mock.last_request().unwrap().header("via"), None);
    assert_eq!(proxy.log().matches("Request (file descriptor").count(), 1);
}
