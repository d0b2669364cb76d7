//! SDKs given the wrong base URL: the OpenAI SDK without `/v1` (`POST /chat/completions`), the
//! Anthropic SDK with it (`POST /v1/v1/messages`), or behind a provider's prefix
//! (`/openai/v1/…`, `/anthropic/v1/…`). Each gets a JSON error in the dialect its path
//! implies (a 404 in OpenAI's; a 400 in Anthropic's, which Claude Code shows where it hides a
//! 404's message), naming the endpoint meant and the base URL to set; a browser following a
//! link still gets the HTML page.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use serde_json::{Value, json};

/// Asks `method path` with the member key as `header` (`None`: no key) and returns the status,
/// the content type and the body.
async fn ask(
    gw: &gateway::Gateway,
    method: &str,
    path: &str,
    key_header: Option<&str>,
) -> (u16, String, String) {
    let mut req = gw
        .http
        .request(method.parse().unwrap(), format!("{}{path}", gw.base));
    match key_header {
        Some("x-api-key") => req = req.header("x-api-key", &gw.key),
        Some(_) => req = req.bearer_auth(&gw.key),
        None => req = req.header("accept", "text/html,application/xhtml+xml"),
    }
    if method == "POST" {
        req = req.json(&json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": []}));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

#[tokio::test]
async fn the_openai_sdk_without_v1_is_told_to_add_it_in_openais_shape() {
    let gw = gateway::start().await;
    let app_url = gw.state.config().app_url.clone();
    for (method, path, meant) in [
        ("POST", "/chat/completions", "POST /v1/chat/completions"),
        ("POST", "/responses", "POST /v1/responses"),
        ("GET", "/models", "GET /v1/models"),
        (
            "POST",
            "/openai/v1/chat/completions",
            "POST /v1/chat/completions",
        ),
        (
            "POST",
            "/api/v1/chat/completions",
            "POST /v1/chat/completions",
        ),
        ("POST", "/v1/openai/responses", "POST /v1/responses"),
    ] {
        let (status, kind, text) = ask(&gw, method, path, Some("bearer")).await;
        assert_eq!(status, 404, "{method} {path}: {text}");
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert_eq!(body["error"]["code"], "unknown_route", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(path), "{message}");
        assert!(
            message.contains(&format!("did you mean {meant}?")),
            "{message}"
        );
        assert!(message.contains(&format!("{app_url}/v1")), "{message}");
    }
    // APIs the gateway does not serve at all: said so, still JSON and the /v1 base URL.
    for (path, what) in [
        ("/embeddings", "no embeddings API"),
        ("/completions", "no legacy completions API"),
    ] {
        let (status, _, text) = ask(&gw, "POST", path, Some("bearer")).await;
        assert_eq!(status, 404, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
        assert!(message.contains(&format!("{app_url}/v1")), "{message}");
    }
    assert_eq!(gw.mock.requests().len(), 0, "nothing reached the provider");
}

#[tokio::test]
async fn the_anthropic_sdk_with_v1_is_told_to_drop_it_in_anthropics_shape() {
    let gw = gateway::start().await;
    let app_url = gw.state.config().app_url.clone();
    for (path, meant) in [
        // The Anthropic SDK or Claude Code given APP_URL/v1.
        ("/v1/v1/messages", "POST /v1/messages"),
        (
            "/v1/v1/messages/count_tokens",
            "POST /v1/messages/count_tokens",
        ),
        ("/anthropic/v1/messages", "POST /v1/messages"),
        ("/messages", "POST /v1/messages"),
    ] {
        for key_header in ["x-api-key", "bearer"] {
            let (status, kind, text) = ask(&gw, "POST", path, Some(key_header)).await;
            assert_eq!(status, 400, "{path}: {text}");
            assert!(kind.starts_with("application/json"), "{path}: {kind}");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["type"], "error", "{body}");
            assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(path), "{message}");
            assert!(
                message.contains(&format!("did you mean {meant}?")),
                "{message}"
            );
            assert!(
                message.contains(&format!("{app_url}, without /v1")),
                "{message}"
            );
        }
    }
    assert_eq!(gw.mock.requests().len(), 0, "nothing reached the provider");
}

#[tokio::test]
async fn a_browser_following_a_link_still_gets_the_html_page() {
    let gw = gateway::start().await;
    for path in ["/models", "/chat/completions", "/responses"] {
        let (status, kind, text) = ask(&gw, "GET", path, None).await;
        assert_eq!(status, 404, "{path}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}: {text}");
    }
    // With a key, the same GET is an API client's: JSON.
    let (status, kind, _) = ask(&gw, "GET", "/models", Some("x-api-key")).await;
    assert_eq!(status, 404);
    assert!(kind.starts_with("application/json"), "{kind}");
}
