//! The proxy's error answers: keys checked in each dialect, malformed or incomplete requests
//! named field by field, requests that cannot be translated refused before any provider sees
//! them, upstream failures failed over or answered without the provider's secrets, each in
//! the caller's dialect.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway;
use common::upstream::{brief_chat as chat, brief_messages as messages};
use serde_json::{Value, json};
use server::mock_upstream::Fault;

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

#[tokio::test]
async fn upstream_failures_fail_over_or_answer_without_leaking_secrets() {
    let gw = gateway::start().await;
    // A second account for the same model: a 500 on the first moves on to the other.
    let second = gw.add_account(json!({"name": "openai-backup", "provider": "openai",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(), "models": ["gpt-4o-mini"]})).await;
    gw.mock.set_fault(Fault::status(500).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    assert!(second > 0);

    // The provider refuses the key on every account: a 502 that names no secret.
    gw.mock.set_fault(Fault::status(401).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let text = res.text().await.unwrap();
    assert!(!text.contains("mock-key"), "{text}");
    // The account carries the error for its managers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, account) = gw
        .api("GET", &format!("/api/accounts/{}", gw.openai_account), None)
        .await;
    assert!(
        account["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("401"),
        "{account}"
    );

    // Both accounts are out now, until someone fixes them (saving clears the flag).
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let text = res.text().await.unwrap();
    assert!(text.contains("refused its key"), "{text}");
    for id in [gw.openai_account, second] {
        let (status, _) = gw
            .api(
                "PUT",
                &format!("/api/accounts/{id}"),
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, 200);
    }

    // Rate-limited everywhere: 429 with the provider's retry-after.
    gw.mock
        .set_fault(Fault::status(429).retry_after(7).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");

    // Both now cool down until the provider's reset time: refused without a request.
    let before = gw.mock.stats().total;
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(gw.mock.stats().total, before);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=7).contains(&retry), "{retry}");
    for id in [gw.openai_account, second] {
        gw.state.gateway().counters().clear_health(id).await;
    }

    // A bad request upstream is the client's problem: no failover, the message passes on.
    gw.mock.set_fault(Fault::status(400).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(gw.mock.faults().len(), 1, "only one attempt was made");
    gw.mock.clear_faults();

    // Resets move on too; with nothing left, 502 in the caller's dialect.
    gw.mock.set_fault(Fault::reset().times(2));
    let res = gw
        .post("/v1/messages", &messages("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn out_of_credit_fails_over_and_a_long_query_is_the_callers_fault() {
    let gw = gateway::start().await;
    let second = gw.add_account(json!({"name": "openai-backup", "provider": "openai",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(), "models": ["gpt-4o-mini"]})).await;
    // 402 (DeepSeek's and OpenRouter's "insufficient balance"): the account's problem, so
    // the next account serves the request and the first carries the error for its admins.
    gw.mock.set_fault(Fault::status(402).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut errors = Vec::new();
    for id in [gw.openai_account, second] {
        let (_, account) = gw.api("GET", &format!("/api/accounts/{id}"), None).await;
        errors.push(
            account["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(errors.iter().any(|e| e.contains("402")), "{errors:?}");

    // A query string past the cap is refused before the provider: a 400 naming it, each time,
    // and the account (whose URL it would have broken) is not blamed.
    let long = format!("{}/v1/messages?x={}", gw.base, "a".repeat(10_000));
    for _ in 0..6 {
        let res = gw
            .http
            .post(&long)
            .bearer_auth(&gw.key)
            .json(&messages("claude-sonnet-4-5", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["type"], "error", "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("query string"),
            "{err}"
        );
    }
    let res = gw
        .post("/v1/messages", &messages("claude-sonnet-4-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, account) = gw
        .api(
            "GET",
            &format!("/api/accounts/{}", gw.anthropic_account),
            None,
        )
        .await;
    assert!(account["last_error"].is_null(), "{account}");
}
