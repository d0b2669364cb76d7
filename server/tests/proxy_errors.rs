//! The proxy's error answers: keys checked in each dialect, malformed or incomplete requests
//! named field by field, requests that cannot be translated refused before any provider sees
//! them, each in the caller's dialect (upstream failures: upstream_failures.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use common::upstream::{brief_chat as chat, brief_messages as messages};
use serde_json::{Value, json};

#[tokio::test]
async fn keys_are_checked_in_each_dialect() {
    let gw = gateway::start().await;
    let url = format!("{}/v1/chat/completions", gw.base);
    let res = gw
        .http
        .post(&url)
        .json(&chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_api_key");
    let res = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", "acp_nope")
        .json(&messages("claude-sonnet-4-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "authentication_error");
    // A provider key in x-api-key beside the member key as a bearer token (an Anthropic SDK
    // given both): the member key is the one. Two member keys that disagree: x-api-key.
    for (x_api_key, status) in [("sk-ant-api03-provider", 200), ("acp_nope", 401)] {
        let res = gw
            .http
            .post(format!("{}/v1/messages", gw.base))
            .header("x-api-key", x_api_key)
            .bearer_auth(&gw.key)
            .json(&messages("claude-sonnet-4-5", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{x_api_key}");
    }
    assert_ne!(
        gw.mock.last_request().unwrap().header("x-api-key"),
        Some("sk-ant-api03-provider"),
        "the caller's provider key is not passed on"
    );
    // A key pasted into x-api-key with its scheme is still the key.
    let res = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", format!("Bearer {}", gw.key))
        .json(&messages("claude-sonnet-4-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Revocation takes effect on the next request.
    let (_, keys) = gw
        .api("GET", &format!("/api/groups/{}/keys", gw.group_id), None)
        .await;
    let id = keys[0]["id"].as_i64().unwrap();
    assert!(
        keys.to_string()
            .contains(&keys[0]["last4"].as_str().unwrap().to_string())
    );
    assert!(
        !keys.to_string().contains(&gw.key),
        "the key itself is never listed"
    );
    let ok = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let (status, _) = gw
        .api(
            "DELETE",
            &format!("/api/groups/{}/keys/{id}", gw.group_id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let gw = gateway::start_with(|c| c.gateway.max_body_bytes = 4096).await;
    let url = format!("{}/v1/chat/completions", gw.base);
    let send = |body: &'static str, ct: &'static str| {
        gw.http
            .post(&url)
            .bearer_auth(&gw.key)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = send("{not json", "application/json").await.unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let res = send(r#"{"messages": []}"#, "application/json")
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["param"],
        "model"
    );
    let res = send(r#"{"model": "gpt-4o-mini"}"#, "application/json")
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["param"],
        "messages"
    );
    let res = send("model=x", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let big = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let res = gw.post("/v1/chat/completions", &big).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-5-ultra", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-5-ultra") && message.contains("claude-sonnet-4-5"),
        "{message}"
    );
    // Anthropic's required max_tokens, in Anthropic's shape.
    let res = gw
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    // A background response spends its tokens after the answer, unseen: refused, before any
    // account is asked (the mock would queue it), whichever account would serve it.
    let asked = gw.mock.stats().total;
    for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
        let res = gw
            .post(
                "/v1/responses",
                &json!({"model": model, "input": "hi", "background": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{model}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["param"], "background", "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("budget"),
            "{err}"
        );
    }
    assert_eq!(gw.mock.stats().total, asked, "nothing reached the provider");
    let res = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-4o-mini", "input": "hi", "background": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Unknown /v1 routes answer JSON, not an HTML page.
    let res = gw
        .http
        .get(format!("{}/v1/embeddingz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.json::<Value>().await.unwrap()["error"]["message"].is_string());
}

/// Requests the gateway must translate, with a field it reads of the wrong type: a 400 in the
/// caller's dialect naming the field, and nothing reaches the provider (a string max_tokens
/// used to go upstream as the 4096 default, billing the caller for tokens never asked for).
#[tokio::test]
async fn bad_translated_requests_are_refused_before_the_provider() {
    let gw = gateway::start().await;
    let chat_with = |key: &str, value: Value| {
        let mut body = chat("claude-sonnet-4-5", "hi");
        body[key] = value;
        body
    };
    let cases = [
        (
            "/v1/chat/completions",
            chat_with("max_tokens", json!("100")),
            "max_tokens",
        ),
        (
            "/v1/chat/completions",
            chat_with("tools", json!([{"type": "function"}])),
            "tools[0].function",
        ),
        (
            "/v1/chat/completions",
            chat_with("tool_choice", json!("sometimes")),
            "tool_choice",
        ),
        (
            "/v1/chat/completions",
            chat_with(
                "messages",
                json!([{"role": "user", "content": [{"type": "text", "text": 5}]}]),
            ),
            "messages[0].content[0].text",
        ),
        (
            "/v1/responses",
            json!({"model": "claude-sonnet-4-5", "input": "hi", "max_output_tokens": -1}),
            "max_output_tokens",
        ),
        (
            "/v1/responses",
            json!({"model": "claude-sonnet-4-5", "input": "hi", "tools": [{"type": "function"}]}),
            "tools[0].name",
        ),
        (
            "/v1/messages",
            json!({"model": "gpt-4o-mini", "max_tokens": 10, "stop_sequences": "x",
                "messages": [{"role": "user", "content": "hi"}]}),
            "stop_sequences",
        ),
        (
            "/v1/messages/count_tokens",
            json!({"model": "gpt-4o-mini", "system": 5,
                "messages": [{"role": "user", "content": "hi"}]}),
            "system",
        ),
        // What only the other side keeps or runs changes the conversation: refused, not
        // dropped.
        (
            "/v1/responses",
            json!({"model": "claude-sonnet-4-5", "input": "hi", "prompt": {"id": "pmpt_1"}}),
            "prompt",
        ),
        (
            "/v1/responses",
            json!({"model": "claude-sonnet-4-5", "input": "hi", "conversation": "conv_1"}),
            "conversation",
        ),
        (
            "/v1/messages",
            json!({"model": "gpt-4o-mini", "max_tokens": 10,
                "mcp_servers": [{"type": "url", "url": "https://mcp.example/sse", "name": "m"}],
                "messages": [{"role": "user", "content": "hi"}]}),
            "mcp_servers",
        ),
        (
            "/v1/messages",
            json!({"model": "gpt-4o-mini", "max_tokens": 10, "container": "container_1",
                "messages": [{"role": "user", "content": "hi"}]}),
            "container",
        ),
    ];
    for (path, body, param) in cases {
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path} {body}");
        let err: Value = res.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{param}`")), "{message}");
        if path.starts_with("/v1/messages") {
            assert_eq!(err["type"], "error", "Anthropic's shape: {err}");
        } else {
            assert_eq!(err["error"]["param"], param, "{err}");
        }
    }
    assert!(gw.mock.requests().is_empty(), "{:?}", gw.mock.requests());
    // The same-dialect path is the provider's to validate: it is passed on untouched.
    let mut same = chat("gpt-4o-mini", "hi");
    same["seed"] = json!("lucky");
    gw.post("/v1/chat/completions", &same).send().await.unwrap();
    assert_eq!(gw.mock.last_request().unwrap().body["seed"], "lucky");
}

/// A temperature or `top_p` outside the caller's API's range is a 400 naming it on every
/// endpoint, sent on or translated (a Claude model used to get -5 as 0 and 3 as 1 without a
/// word); OpenAI's 1 < t <= 2 reaches Claude as 1, its highest.
#[tokio::test]
async fn sampling_values_out_of_range_are_refused_on_every_endpoint() {
    let gw = gateway::start().await;
    let with = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let messages = |model: &str| json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let responses = |model: &str| json!({"model": model, "input": "hi"});
    let cases = [
        (
            "/v1/chat/completions",
            with(chat("claude-sonnet-4-5", "hi"), "temperature", json!(2.5)),
            "temperature",
            "from 0 to 2",
        ),
        (
            "/v1/chat/completions",
            with(chat("claude-sonnet-4-5", "hi"), "temperature", json!(-5)),
            "temperature",
            "from 0 to 2",
        ),
        (
            "/v1/chat/completions",
            with(chat("gpt-4o-mini", "hi"), "temperature", json!(3)),
            "temperature",
            "from 0 to 2",
        ),
        (
            "/v1/chat/completions",
            with(chat("gpt-4o-mini", "hi"), "top_p", json!(1.5)),
            "top_p",
            "from 0 to 1",
        ),
        (
            "/v1/responses",
            with(responses("claude-sonnet-4-5"), "temperature", json!(-1)),
            "temperature",
            "from 0 to 2",
        ),
        (
            "/v1/responses",
            with(responses("gpt-4o-mini"), "top_p", json!(-0.5)),
            "top_p",
            "from 0 to 1",
        ),
        (
            "/v1/messages",
            with(messages("claude-sonnet-4-5"), "temperature", json!(1.5)),
            "temperature",
            "from 0 to 1",
        ),
        (
            "/v1/messages",
            with(messages("gpt-4o-mini"), "temperature", json!(2)),
            "temperature",
            "from 0 to 1",
        ),
        (
            "/v1/messages/count_tokens",
            with(messages("gpt-4o-mini"), "top_p", json!(7)),
            "top_p",
            "from 0 to 1",
        ),
    ];
    for (path, body, param, range) in cases {
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path} {body}");
        let err: Value = res.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{param}` must be a number {range}")),
            "{message}"
        );
        if path.starts_with("/v1/messages") {
            assert_eq!(err["type"], "error", "Anthropic's shape: {err}");
        } else {
            assert_eq!(err["error"]["param"], param, "{err}");
        }
    }
    assert!(gw.mock.requests().is_empty(), "{:?}", gw.mock.requests());
    // In range: OpenAI's 2 reaches Claude as Anthropic's highest, 1; 0 and 1 as they are.
    for (sent, received) in [(2.0, 1.0), (1.5, 1.0), (0.0, 0.0), (0.7, 0.7)] {
        let body = with(chat("claude-sonnet-4-5", "hi"), "temperature", json!(sent));
        let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{sent}");
        assert_eq!(
            gw.mock.last_request().unwrap().body["temperature"],
            json!(received)
        );
    }
}
