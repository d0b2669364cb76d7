//! The mock upstream as a client sees it: the three wire formats whole and streamed, auth and
//! validation errors, every fault class, stats and recorded requests, and the
//! `aicarpool mock-upstream` subcommand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockRoute, MockUpstream};

async fn mock() -> MockUpstream {
    MockUpstream::start(MockOptions::default()).await.unwrap()
}

fn openai(mock: &MockUpstream, path: &str, body: &Value) -> RequestBuilder {
    Client::new()
        .post(format!("{}{path}", mock.openai_base_url()))
        .bearer_auth(mock.api_key())
        .json(body)
}

fn anthropic(mock: &MockUpstream, path: &str, body: &Value) -> RequestBuilder {
    Client::new()
        .post(format!("{}{path}", mock.anthropic_base_url()))
        .header("x-api-key", mock.api_key())
        .header("anthropic-version", "2023-06-01")
        .json(body)
}

fn chat(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text},
    ]})
}

fn claude(text: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "be brief",
           "messages": [{"role": "user", "content": text}]})
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

/// `(event name, data)` of each server-sent event.
fn events(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, data)
        })
        .collect()
}

fn json_events(text: &str) -> Vec<Value> {
    events(text)
        .into_iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| serde_json::from_str(&data).unwrap())
        .collect()
}

async fn text(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn openai_chat_answers_and_counts_words() {
    let mock = mock().await;
    let body: Value = openai(&mock, "/chat/completions", &chat("hello there"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "mock reply: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    // "be brief" + "hello there" = 4 words in; "mock reply: hello there" = 4 out.
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 4);
    assert_eq!(body["usage"]["total_tokens"], 8);

    let mut limited = chat("one two three");
    limited["max_tokens"] = json!(3);
    let body: Value = openai(&mock, "/chat/completions", &limited)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "mock reply: one");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn openai_chat_streams_chunks_then_usage_then_done() {
    let mock = mock().await;
    let mut body = streamed(chat("hi you"));
    body["stream_options"] = json!({"include_usage": true});
    let response = openai(&mock, "/chat/completions", &body)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let raw = text(response).await;
    assert!(raw.ends_with("data: [DONE]\n\n"));
    assert!(events(&raw).iter().all(|(name, _)| name.is_none()));
    let chunks = json_events(&raw);
    assert_eq!(chunks.len(), 1 + 4 + 1 + 1);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let deltas: Vec<&str> = chunks[1..5]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["mock", " reply:", " hi", " you"]);
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["completion_tokens"], 4);

    // Without include_usage there is no usage chunk.
    let raw = text(
        openai(&mock, "/chat/completions", &streamed(chat("hi")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let chunks = json_events(&raw);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[tokio::test]
async fn openai_chat_calls_the_tool_when_asked_about_weather() {
    let mock = mock().await;
    let mut body = chat("what is the weather like?");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Get the weather", "parameters": {"type": "object"}}}]);
    let reply: Value = openai(&mock, "/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let call = &reply["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(reply["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);

    let raw = text(
        openai(&mock, "/chat/completions", &streamed(body))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let chunks = json_events(&raw);
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, r#"{"city":"Paris"}"#);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn openai_prompt_cache_key_reports_cached_system_words_on_repeat() {
    let mock = mock().await;
    let mut body = chat("hello");
    body["prompt_cache_key"] = json!("k");
    let first: Value = openai(&mock, "/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = openai(&mock, "/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(second["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    assert_eq!(second["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn anthropic_messages_answer_with_cache_usage() {
    let mock = mock().await;
    let mut body = claude("hello there");
    body["system"] = json!([{"type": "text", "text": "you are a long prompt",
                             "cache_control": {"type": "ephemeral"}}]);
    let first: Value = anthropic(&mock, "/v1/messages", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["type"], "message");
    assert_eq!(
        first["content"][0],
        json!({"type": "text", "text": "mock reply: hello there"})
    );
    assert_eq!(first["stop_reason"], "end_turn");
    assert_eq!(first["usage"]["input_tokens"], 2);
    assert_eq!(first["usage"]["cache_creation_input_tokens"], 5);
    assert_eq!(first["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(first["usage"]["output_tokens"], 4);
    let second: Value = anthropic(&mock, "/v1/messages", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["usage"]["cache_creation_input_tokens"], 0);
    assert_eq!(second["usage"]["cache_read_input_tokens"], 5);

    let counted: Value = anthropic(&mock, "/v1/messages/count_tokens", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counted, json!({"input_tokens": 7}));
}

#[tokio::test]
async fn anthropic_stream_has_the_exact_event_sequence() {
    let mock = mock().await;
    let raw = text(
        anthropic(&mock, "/v1/messages", &streamed(claude("hi")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<String> = events(&raw).into_iter().map(|(n, _)| n.unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data = json_events(&raw);
    for (event, (name, _)) in data.iter().zip(events(&raw)) {
        assert_eq!(event["type"], name.unwrap());
    }
    assert_eq!(data[0]["message"]["usage"]["input_tokens"], 3);
    assert_eq!(data[0]["message"]["usage"]["output_tokens"], 1);
    let text: String = data[3..6]
        .iter()
        .map(|e| e["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "mock reply: hi");
    assert_eq!(data[7]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[7]["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn anthropic_tool_use_streams_input_json() {
    let mock = mock().await;
    let mut body = claude("weather in Paris?");
    body["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let reply: Value = anthropic(&mock, "/v1/messages", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["stop_reason"], "tool_use");
    assert_eq!(reply["content"][0]["input"], json!({"city": "Paris"}));

    let raw = text(
        anthropic(&mock, "/v1/messages", &streamed(body))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let data = json_events(&raw);
    assert_eq!(data[1]["content_block"]["type"], "tool_use");
    let partial: String = data
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| e["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(partial, r#"{"city":"Paris"}"#);
    assert_eq!(data[data.len() - 2]["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn responses_answer_whole_and_streamed() {
    let mock = mock().await;
    let body = json!({"model": "gpt-4.1", "instructions": "be brief", "input": "hello there"});
    let reply: Value = openai(&mock, "/responses", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["object"], "response");
    assert_eq!(reply["status"], "completed");
    assert_eq!(
        reply["output"][0]["content"][0]["text"],
        "mock reply: hello there"
    );
    assert_eq!(
        reply["usage"],
        json!({"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 4,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8})
    );

    let raw = text(
        openai(&mock, "/responses", &streamed(body))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let data = json_events(&raw);
    let kinds: Vec<&str> = data.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, event) in data.iter().enumerate() {
        assert_eq!(event["sequence_number"], i);
    }
    assert_eq!(data[8]["text"], "mock reply: hello there");
    assert_eq!(data[11]["response"]["usage"]["total_tokens"], 8);
}

#[tokio::test]
async fn responses_function_call_streams_arguments() {
    let mock = mock().await;
    let body = json!({"model": "gpt-4.1", "stream": true,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "weather?"}]}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}]});
    let raw = text(openai(&mock, "/responses", &body).send().await.unwrap()).await;
    let data = json_events(&raw);
    let kinds: Vec<&str> = data.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(data[6]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(data[8]["response"]["output"][0]["type"], "function_call");
    // OpenAI's id prefixes: `fc_` for a function call item, `call_` for its call id.
    let item = &data[8]["response"]["output"][0];
    assert!(item["id"].as_str().unwrap().starts_with("fc_"), "{item}");
    assert!(
        item["call_id"].as_str().unwrap().starts_with("call_"),
        "{item}"
    );
    assert_eq!(data[2]["item"]["id"], item["id"]);
    assert_eq!(data[3]["item_id"], item["id"]);
}

#[tokio::test]
async fn models_parse_as_both_dialects() {
    let mock = mock().await;
    let list: Value = Client::new()
        .get(format!("{}/models", mock.openai_base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"][0]["object"], "model");
    assert_eq!(list["data"][0]["type"], "model");
    assert_eq!(list["first_id"], list["data"][0]["id"]);
}

#[tokio::test]
async fn auth_and_validation_errors_come_in_the_dialect() {
    let mock = mock().await;
    let response = Client::new()
        .post(format!("{}/chat/completions", mock.openai_base_url()))
        .bearer_auth("wrong")
        .json(&chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["param"], Value::Null);

    let response = Client::new()
        .post(format!("{}/v1/messages", mock.anthropic_base_url()))
        .json(&claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");

    // Anthropic routes take a bearer token too.
    let response = Client::new()
        .post(format!("{}/v1/messages", mock.anthropic_base_url()))
        .bearer_auth(mock.api_key())
        .json(&claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let mut no_max = claude("hi");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let response = anthropic(&mock, "/v1/messages", &no_max)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let response = openai(&mock, "/chat/completions", &json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "model");
    let response = openai(&mock, "/chat/completions", &json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn status_fault_answers_in_the_dialect_with_reset_headers_then_clears() {
    let mock = mock().await;
    mock.set_fault(
        Fault::status(429)
            .retry_after(7)
            .times(1)
            .on(MockRoute::Messages),
    );
    // Another route is not affected and does not spend the fault.
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let limited = anthropic(&mock, "/v1/messages", &claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(limited.headers()["x-ratelimit-reset-requests"], "7s");
    let reset = limited.headers()["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(reset.ends_with('Z') && reset.len() == 20, "{reset}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let again = anthropic(&mock, "/v1/messages", &claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    mock.set_fault(Fault::status(500));
    let failed = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    mock.clear_faults();
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn delay_first_byte_holds_the_headers() {
    let mock = mock().await;
    mock.set_fault(Fault::delay_first_byte(Duration::from_millis(150)).times(1));
    let start = Instant::now();
    let response = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.status(), StatusCode::OK);

    // A client timeout shorter than the delay sees a timeout.
    mock.set_fault(Fault::delay_first_byte(Duration::from_millis(200)).times(1));
    let err = openai(&mock, "/chat/completions", &chat("hi"))
        .timeout(Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let mock = mock().await;
    mock.set_fault(Fault::reset().times(1));
    let err = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(mock.stats().total, 1);
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn drop_mid_stream_cuts_after_n_deltas() {
    let mock = mock().await;
    mock.set_fault(Fault::drop_mid_stream_after(2).times(1));
    let mut response = anthropic(&mock, "/v1/messages", &streamed(claude("a b c d")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = Vec::new();
    let err = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the stream ended cleanly"),
            Err(err) => break err,
        }
    };
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    let raw = String::from_utf8(received).unwrap();
    let names: Vec<String> = events(&raw).into_iter().map(|(n, _)| n.unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta"
        ]
    );
}

#[tokio::test]
async fn chunk_delay_spaces_stream_events() {
    let mock = mock().await;
    mock.set_fault(Fault::chunk_delay(Duration::from_millis(30)).on(MockRoute::ChatCompletions));
    let start = Instant::now();
    let raw = text(
        openai(&mock, "/chat/completions", &streamed(chat("hi")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // role chunk, 3 deltas, finish chunk, [DONE]: five gaps.
    assert_eq!(events(&raw).len(), 6);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn hold_sends_the_first_chunk_then_waits_for_release() {
    let mock = mock().await;
    mock.set_fault(Fault::hold_after_first_chunk().times(1));
    let mut response = openai(&mock, "/chat/completions", &streamed(chat("hi")))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains(r#""role":"assistant""#));
    assert!(mock.wait_until_held(1, Duration::from_secs(2)).await);
    assert_eq!(mock.stats().in_flight, 1);
    let next = tokio::time::timeout(Duration::from_millis(100), response.chunk()).await;
    assert!(next.is_err(), "the stream went on without a release");

    mock.release();
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        String::from_utf8(rest)
            .unwrap()
            .ends_with("data: [DONE]\n\n")
    );
    assert_eq!(mock.stats().held, 0);
    assert_eq!(mock.stats().in_flight, 0);
}

#[tokio::test]
async fn faults_and_release_over_http() {
    let mock = mock().await;
    let control = |path: &str| format!("{}/_mock/{path}", mock.base_url());
    let http = Client::new();
    let bad = http
        .post(control("faults"))
        .json(&json!({"statsu": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let set: Value = http
        .post(control("faults"))
        .json(&json!([{"hold_after_first_chunk": true, "times": 1, "route": "messages"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["faults"][0]["route"], "messages");

    let mut response = anthropic(&mock, "/v1/messages", &streamed(claude("hi")))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("event: message_start"));
    assert!(mock.wait_until_held(1, Duration::from_secs(2)).await);
    let released: Value = http
        .post(control("release"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released["released"], 1);
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        String::from_utf8(rest)
            .unwrap()
            .contains("event: message_stop")
    );

    http.post(control("faults"))
        .json(&json!({"status": 503, "route": "/v1/chat/completions"}))
        .send()
        .await
        .unwrap();
    let failed = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.headers()["retry-after"], "1");

    let stats: Value = http
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 2);
    assert_eq!(
        stats["by_route"],
        json!({"chat_completions": 1, "messages": 1})
    );
    http.post(control("reset")).send().await.unwrap();
    let stats: Value = http
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 0);
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn stats_and_recorded_requests() {
    let mock = mock().await;
    mock.set_fault(Fault::hold_after_first_chunk().times(2));
    let mut first = openai(&mock, "/chat/completions", &streamed(chat("one")))
        .send()
        .await
        .unwrap();
    let mut second = anthropic(&mock, "/v1/messages", &streamed(claude("two")))
        .send()
        .await
        .unwrap();
    first.chunk().await.unwrap();
    second.chunk().await.unwrap();
    assert!(mock.wait_until_held(2, Duration::from_secs(2)).await);
    let stats = mock.stats();
    assert_eq!(
        (stats.in_flight, stats.max_in_flight, stats.held),
        (2, 2, 2)
    );
    mock.release();
    first.text().await.unwrap();
    second.text().await.unwrap();

    Client::new()
        .post(format!(
            "{}/chat/completions?trace=1",
            mock.openai_base_url()
        ))
        .bearer_auth("sent-key")
        .header("x-custom", "yes")
        .json(&chat("three"))
        .send()
        .await
        .unwrap();
    let stats = mock.stats();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_route["chat_completions"], 2);
    assert_eq!(stats.by_route["messages"], 1);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.max_in_flight, 2);

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].route, MockRoute::Messages);
    assert_eq!(requests[1].header("x-api-key"), Some("mock-key"));
    let last = mock.last_request().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.query.as_deref(), Some("trace=1"));
    assert_eq!(last.header("authorization"), Some("Bearer sent-key"));
    assert_eq!(last.header("X-Custom"), Some("yes"));
    assert_eq!(last.body["messages"][1]["content"], "three");
}

#[tokio::test]
async fn several_mocks_run_side_by_side_and_stop_on_drop() {
    let mocks = futures_free_start(3).await;
    let mut seen = Vec::new();
    for mock in &mocks {
        let response = openai(mock, "/chat/completions", &chat("hi"))
            .send()
            .await
            .unwrap();
        seen.push(
            response.headers()["x-mock-upstream"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(seen, ["m0", "m1", "m2"]);
    let addr = mocks[0].addr();
    drop(mocks);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

async fn futures_free_start(n: usize) -> Vec<MockUpstream> {
    let mut mocks = Vec::new();
    for i in 0..n {
        let options = MockOptions {
            name: Some(format!("m{i}")),
            ..MockOptions::default()
        };
        mocks.push(MockUpstream::start(options).await.unwrap());
    }
    mocks
}

#[tokio::test]
async fn the_subcommand_prints_its_address_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_aicarpool"))
        .args(["mock-upstream", "--api-key", "sub-key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim_end()
        .strip_prefix("mock upstream listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let set = Client::new()
        .post(format!("{base}/_mock/faults"))
        .json(&json!({"status": 418, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let request = || {
        Client::new()
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "sub-key")
            .json(&claude("hi"))
            .send()
    };
    assert_eq!(request().await.unwrap().status().as_u16(), 418);
    assert_eq!(request().await.unwrap().status(), StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "", "stdout carries exactly one line");
}

#[tokio::test]
async fn a_whole_reply_is_cut_halfway_by_drop_mid_stream() {
    let mock = mock().await;
    mock.set_fault(
        Fault::drop_mid_stream_after(1)
            .times(1)
            .on(MockRoute::Responses),
    );
    let body = json!({"model": "gpt-4.1", "input": "hello"});
    let response = openai(&mock, "/responses", &body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());
    let whole = openai(&mock, "/responses", &body).send().await.unwrap();
    assert_eq!(whole.json::<Value>().await.unwrap()["status"], "completed");
}
