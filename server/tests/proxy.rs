//! The chat proxy end to end: a real gateway on a loopback port in front of the mock provider,
//! called over HTTP as SDKs do. Every dialect, streaming and not, across dialects, and the usage
//! record each request leaves (streams cut short: stream_cuts.rs; errors: proxy_errors.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::{self, sse_events};
use common::upstream::{brief_chat as chat, brief_messages as messages};
use serde_json::{Value, json};
use server::mock_upstream::MockRoute;

#[tokio::test]
async fn chat_completion_is_served_and_recorded() {
    let gw = gateway::start().await;
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hello there"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-aicarpool-account-id"],
        gw.openai_account.to_string()
    );
    assert_eq!(res.headers()["x-aicarpool-attempts"], "1");
    assert_eq!(res.headers()["x-aicarpool-account"], "openai-main");
    assert_eq!(res.headers()["content-type"], "application/json");
    // The model asked for is the one sent: no header says otherwise.
    assert!(res.headers().get("x-aicarpool-model").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "mock reply: hello there"
    );
    let usage = &body["usage"];
    // The mock counts words: "be brief hello there" = 4 in, "mock reply: hello there" = 4 out.
    assert_eq!(usage["prompt_tokens"], 4);
    assert_eq!(usage["completion_tokens"], 4);

    // The upstream got the account's key, never the member key.
    let seen = gw.mock.last_request().unwrap();
    assert_eq!(seen.header("authorization"), Some("Bearer mock-key"));
    assert_eq!(seen.body["model"], "gpt-4o-mini");

    let rows = gw.usage(1).await;
    let r = &rows[0];
    assert_eq!((r.status, r.input_tokens, r.output_tokens), (200, 4, 4));
    assert_eq!(r.account_id, Some(gw.openai_account));
    assert_eq!(r.endpoint, "chat_completions");
    assert_eq!(r.model_requested, "gpt-4o-mini");
    assert!(!r.streamed && r.attempts == 1 && r.ttfb_ms.is_some());

    // A name a header cannot carry is left out; the id still says which account served.
    let (status, _) = gw
        .api(
            "PUT",
            &format!("/api/accounts/{}", gw.openai_account),
            Some(json!({"name": "共享账号 shared"})),
        )
        .await;
    assert_eq!(status, 200);
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hello again"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-aicarpool-account").is_none());
    assert_eq!(
        res.headers()["x-aicarpool-account-id"],
        gw.openai_account.to_string()
    );
}

#[tokio::test]
async fn aliases_resolve_to_the_upstream_model() {
    let gw = gateway::start().await;
    let res = gw
        .post("/v1/chat/completions", &chat("fast", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(gw.mock.last_request().unwrap().body["model"], "gpt-4o-mini");
    let rows = gw.usage(1).await;
    assert_eq!(rows[0].model_requested, "fast");
    assert_eq!(rows[0].model_served.as_deref(), Some("gpt-4o-mini"));
}

#[tokio::test]
async fn chat_stream_relays_chunks_and_usage_exactly() {
    let gw = gateway::start().await;
    let mut body = chat("gpt-4o-mini", "one two three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = res.text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "mock reply: one two three");
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);

    // Without include_usage the client gets no usage chunk, but the record still has usage.
    body["stream_options"] = json!({"include_usage": false});
    let text = gw
        .post("/v1/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("\"usage\":{"), "{text}");
    // The gateway asked the upstream for usage anyway.
    assert_eq!(
        gw.mock.last_request().unwrap().body["stream_options"]["include_usage"],
        true
    );
    let rows = gw.usage(2).await;
    for r in &rows {
        assert!(r.streamed);
        assert_eq!((r.input_tokens, r.output_tokens, r.status), (5, 5, 200));
    }
}

#[tokio::test]
async fn anthropic_messages_native_and_streamed_with_exact_events() {
    let gw = gateway::start().await;
    let res = gw
        .http
        .post(format!("{}/v1/messages?beta=true", gw.base))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&messages("claude-sonnet-4-5", "hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "mock reply: hello");
    let seen = gw.mock.last_request().unwrap();
    assert_eq!(seen.header("x-api-key"), Some("mock-key"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        seen.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(seen.query.as_deref(), Some("beta=true"));

    let mut body = messages("claude-sonnet-4-5", "a b c");
    body["stream"] = json!(true);
    let text = gw
        .post("/v1/messages", &body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<String> = sse_events(&text)
        .into_iter()
        .filter_map(|(n, _)| n)
        .collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", 5));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    let rows = gw.usage(2).await;
    assert_eq!((rows[1].input_tokens, rows[1].output_tokens), (5, 5));
}

#[tokio::test]
async fn chat_clients_reach_anthropic_accounts_through_translation() {
    let gw = gateway::start().await;
    let res = gw
        .post("/v1/chat/completions", &chat("claude-sonnet-4-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "mock reply: hi");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let seen = gw.mock.last_request().unwrap();
    assert_eq!(seen.route, MockRoute::Messages);
    assert_eq!(seen.body["system"], "be brief");
    assert_eq!(seen.body["max_tokens"], 4096);

    let mut streamed = chat("claude-sonnet-4-5", "x y");
    streamed["stream"] = json!(true);
    let text = gw
        .post("/v1/chat/completions", &streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let content: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "mock reply: x y");
    let rows = gw.usage(2).await;
    assert_eq!(rows[1].output_tokens, 4);
    assert_eq!(rows[1].provider.as_deref(), Some("anthropic"));
}

#[tokio::test]
async fn anthropic_clients_reach_openai_accounts_with_tools() {
    let gw = gateway::start().await;
    let body = json!({
        "model": "gpt-4o-mini", "max_tokens": 50,
        "tools": [{"name": "get_weather", "description": "weather",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "what is the weather"}],
    });
    let res = gw.post("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let msg: Value = res.json().await.unwrap();
    assert_eq!(msg["stop_reason"], "tool_use");
    let tool = msg["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool["name"], "get_weather");
    assert_eq!(tool["input"], json!({"city": "Paris"}));
    assert_eq!(
        gw.mock.last_request().unwrap().route,
        MockRoute::ChatCompletions
    );

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = gw
        .post("/v1/messages", &streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.first().unwrap().0.as_deref(), Some("message_start"));
    assert_eq!(events.last().unwrap().0.as_deref(), Some("message_stop"));
    let json_parts: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|e| e["delta"]["partial_json"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json_parts).unwrap(),
        json!({"city": "Paris"})
    );
}

#[tokio::test]
async fn responses_api_native_and_translated() {
    let gw = gateway::start().await;
    let body = json!({"model": "gpt-4o-mini", "input": "hello", "instructions": "be brief"});
    let res = gw.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["object"], "response");
    assert_eq!(gw.mock.last_request().unwrap().route, MockRoute::Responses);

    let mut claude = body.clone();
    claude["model"] = json!("claude-sonnet-4-5");
    let r: Value = gw
        .post("/v1/responses", &claude)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["object"], "response");
    assert_eq!(r["output"][0]["content"][0]["text"], "mock reply: hello");
    assert_eq!(gw.mock.last_request().unwrap().route, MockRoute::Messages);

    claude["stream"] = json!(true);
    let text = gw
        .post("/v1/responses", &claude)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let types: Vec<String> = sse_events(&text)
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("response.created"));
    assert_eq!(types.last().map(String::as_str), Some("response.completed"));
    assert!(types.iter().any(|t| t == "response.output_text.delta"));
    let rows = gw.usage(3).await;
    assert!(
        rows.iter()
            .all(|r| r.endpoint == "responses" && r.status == 200)
    );
    assert!(rows[2].output_tokens > 0 && rows[2].input_tokens > 0);
}

#[tokio::test]
async fn count_tokens_upstream_or_estimated() {
    let gw = gateway::start().await;
    let res = gw
        .post(
            "/v1/messages/count_tokens",
            &json!({"model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "one two three"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["input_tokens"], 3);
    assert_eq!(
        gw.mock.last_request().unwrap().route,
        MockRoute::CountTokens
    );
    // An OpenAI-only model gets a local estimate.
    let v: Value = gw
        .post(
            "/v1/messages/count_tokens",
            &json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "one two three"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    // An image counts as an image, not as its base64 text (300 KB of it here).
    let image = "iVBORw0K".repeat(40_000);
    let v: Value = gw
        .post(
            "/v1/messages/count_tokens",
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                    "data": image}},
                {"type": "text", "text": "what is this?"}]}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counted = v["input_tokens"].as_u64().unwrap();
    assert!((1_000..3_000).contains(&counted), "{v}");
}

#[tokio::test]
async fn upstream_keys_are_encrypted_at_rest_and_never_returned() {
    let gw = gateway::start().await;
    let (status, account) = gw.api("POST", "/api/accounts", Some(json!({
        "name": "secret", "provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
        "api_key": "sk-very-secret-value-1234", "proxy_url": "socks5h://user:hunter2@127.0.0.1:1080"}))).await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(account["api_key_hint"], "…1234");
    assert_eq!(account["proxy_url"], "socks5h://user:****@127.0.0.1:1080");
    let (_, list) = gw.api("GET", "/api/accounts", None).await;
    let text = list.to_string();
    assert!(!text.contains("very-secret") && !text.contains("hunter2"));
    let aicarpool::db::Db::Sqlite(pool) = gw.state.db() else {
        unreachable!()
    };
    let stored: (String, String) = sqlx::query_as(
        "SELECT api_key_enc, proxy_url_enc FROM upstream_accounts WHERE name = 'secret'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        stored.0.starts_with("v1:")
            && !stored.0.contains("secret")
            && !stored.1.contains("hunter2")
    );
    // The connection test reports the failure in words.
    let id = account["id"].as_i64().unwrap();
    let (status, test) = gw
        .api("POST", &format!("/api/accounts/{id}/test"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(test["ok"], false);
    assert!(test["error"].is_string());
    let (_, test) = gw
        .api(
            "POST",
            &format!("/api/accounts/{}/test", gw.openai_account),
            None,
        )
        .await;
    assert_eq!(test["ok"], true, "{test}");
    assert!(
        test["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "gpt-4o-mini")
    );
}

/// Claude Code 2.1 sends a `system` message after the first user turn (Anthropic's
/// mid-conversation system message, Claude Opus 4.8 and later). It used to be a 400, which
/// Claude Code does not recover from: now it is passed on to Anthropic accounts as it is, and
/// reaches chat providers as a system-reminder in the user turn it follows.
#[tokio::test]
async fn a_mid_conversation_system_message_is_served() {
    let gw = gateway::start().await;
    let body = |model: &str| {
        json!({"model": model, "max_tokens": 50, "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "system", "content": [{"type": "text", "text": "Available agent types: general."}]}]})
    };
    for (model, route) in [
        ("claude-sonnet-4-5", "messages"),
        ("gpt-4o-mini", "chat_completions"),
    ] {
        let res = gw
            .post("/v1/messages", &body(model))
            .header("anthropic-beta", "mid-conversation-system-2026-04-07")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{model}: {}", res.text().await.unwrap());
        let text = res.text().await.unwrap();
        assert!(text.contains("message_stop"), "{model}: {text}");
        let sent = gw.mock.last_request().unwrap();
        assert_eq!(sent.route.name(), route);
        let messages = &sent.body["messages"];
        if route == "messages" {
            assert_eq!(messages, &body(model)["messages"]);
            assert_eq!(
                sent.header("anthropic-beta"),
                Some("mid-conversation-system-2026-04-07")
            );
        } else {
            assert_eq!(messages.as_array().unwrap().len(), 2, "{messages}");
            assert_eq!(
                messages[1],
                json!({"role": "user", "content":
                    "hi\n\n<system-reminder>\nAvailable agent types: general.\n</system-reminder>"})
            );
        }
    }
}
