//! Chat features Anthropic has no field for, end to end through a real gateway in front of
//! the mock Anthropic provider: `response_format` (and the Responses API's `text.format`)
//! served through a forced `json_response` tool, `reasoning_effort` as extended thinking, and
//! the legacy `functions` / `function_call`. Each test checks what the provider received and
//! what the client got back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::{self, Gateway, sse_events};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockRoute};

const CLAUDE: &str = "claude-sonnet-4-5";

fn chat(text: &str, extra: Value) -> Value {
    let mut body = json!({"model": CLAUDE, "messages": [{"role": "user", "content": text}]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// The body the provider received for the last request.
fn upstream_body(gw: &Gateway) -> Value {
    let seen = gw.mock.last_request().unwrap();
    assert_eq!(seen.route, MockRoute::Messages);
    seen.body
}

async fn whole(gw: &Gateway, path: &str, body: &Value) -> Value {
    let res = gw.post(path, body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The chat chunks of a streamed answer (without `[DONE]`, which must end it).
async fn chunks(gw: &Gateway, body: &Value) -> Vec<Value> {
    let mut body = body.clone();
    body["stream"] = json!(true);
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let events = sse_events(&res.text().await.unwrap());
    assert_eq!(events.last().unwrap().1, "[DONE]");
    events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .collect()
}

fn deltas<'a>(chunks: &'a [Value], field: &str) -> Vec<&'a Value> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get(field))
        .collect()
}

fn finish_reason(chunks: &[Value]) -> &str {
    chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .unwrap()
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

#[tokio::test]
async fn response_format_is_a_forced_tool_whose_input_is_the_answer() {
    let gw = gateway::start().await;
    let body = chat(
        "where?",
        json!({"response_format": {"type": "json_schema",
            "json_schema": {"name": "place", "schema": schema(), "strict": true}}}),
    );
    let answer = whole(&gw, "/v1/chat/completions", &body).await;
    let sent = upstream_body(&gw);
    assert_eq!(sent["tools"][0]["name"], "json_response");
    assert_eq!(sent["tools"][0]["input_schema"], schema());
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "json_response"})
    );
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["content"], "{\"city\":\"Paris\"}");
    assert!(choice["message"].get("tool_calls").is_none(), "{answer}");

    // Streamed: the tool's input fragments arrive as content deltas.
    let c = chunks(&gw, &body).await;
    assert!(deltas(&c, "tool_calls").is_empty(), "{c:?}");
    let content: String = deltas(&c, "content")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(content, "{\"city\":\"Paris\"}");
    assert_eq!(finish_reason(&c), "stop");

    // json_object asks for any object.
    let body = chat(
        "where?",
        json!({"response_format": {"type": "json_object"}}),
    );
    let answer = whole(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(
        upstream_body(&gw)["tools"][0]["input_schema"],
        json!({"type": "object"})
    );
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "{\"city\":\"Paris\"}"
    );
}

#[tokio::test]
async fn responses_text_format_reaches_anthropic_as_the_json_tool() {
    let gw = gateway::start().await;
    let mut body = json!({"model": CLAUDE, "input": "where?",
        "text": {"format": {"type": "json_schema", "name": "place", "schema": schema()}}});
    let answer = whole(&gw, "/v1/responses", &body).await;
    assert_eq!(upstream_body(&gw)["tool_choice"]["name"], "json_response");
    assert_eq!(answer["output"][0]["type"], "message");
    assert_eq!(
        answer["output"][0]["content"][0]["text"],
        "{\"city\":\"Paris\"}"
    );

    body["stream"] = json!(true);
    let text = gw
        .post("/v1/responses", &body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<Value> = sse_events(&text)
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .collect();
    let streamed: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(streamed, "{\"city\":\"Paris\"}");
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "response.function_call_arguments.delta")
    );
    assert_eq!(events.last().unwrap()["type"], "response.completed");
}

#[tokio::test]
async fn reasoning_effort_turns_on_thinking_with_room_for_the_answer() {
    let gw = gateway::start().await;
    let body = chat(
        "think",
        json!({"reasoning_effort": "medium", "max_tokens": 300, "temperature": 0.2,
            "top_p": 0.5}),
    );
    let answer = whole(&gw, "/v1/chat/completions", &body).await;
    let sent = upstream_body(&gw);
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(sent["max_tokens"], 2048 + 300);
    assert!(sent.get("temperature").is_none() && sent.get("top_p").is_none());
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "mock reply: think"
    );

    // Off for none, and for a forced tool; an explicit thinking object is passed on.
    whole(
        &gw,
        "/v1/chat/completions",
        &chat("x", json!({"reasoning_effort": "none"})),
    )
    .await;
    assert!(upstream_body(&gw).get("thinking").is_none());
    let forced = chat(
        "x",
        json!({"reasoning_effort": "high", "response_format": {"type": "json_object"}}),
    );
    whole(&gw, "/v1/chat/completions", &forced).await;
    assert!(upstream_body(&gw).get("thinking").is_none());
    let explicit = chat(
        "x",
        json!({"reasoning_effort": "low", "max_tokens": 9000,
            "thinking": {"type": "enabled", "budget_tokens": 5000}}),
    );
    whole(&gw, "/v1/chat/completions", &explicit).await;
    let sent = upstream_body(&gw);
    assert_eq!(sent["thinking"]["budget_tokens"], 5000);
    assert_eq!(sent["max_tokens"], 9000);

    // The thinking the model sends back is the message's reasoning_content.
    gw.mock.set_fault(
        Fault::raw_body(
            json!({"id": "msg_t", "type": "message", "role": "assistant", "model": CLAUDE,
                "content": [{"type": "thinking", "thinking": "Let me see.", "signature": "s"},
                            {"type": "text", "text": "42"}],
                "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 9}})
            .to_string(),
        )
        .times(1),
    );
    let answer = whole(&gw, "/v1/chat/completions", &body).await;
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "Let me see.");
    assert_eq!(message["content"], "42");
}

/// A streamed Anthropic answer with extended thinking, as Claude sends it: a thinking block
/// (closed by its signature) before the text block, the output tokens counting both.
fn thinking_stream() -> Vec<(&'static str, Value)> {
    let delta = |index: u32, delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
    vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_think",
            "type": "message", "role": "assistant", "model": CLAUDE, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        (
            "content_block_delta",
            delta(
                0,
                json!({"type": "thinking_delta", "thinking": "Six times "}),
            ),
        ),
        (
            "content_block_delta",
            delta(0, json!({"type": "thinking_delta", "thinking": "seven."})),
        ),
        (
            "content_block_delta",
            delta(
                0,
                json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
            ),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            delta(1, json!({"type": "text_delta", "text": "4"})),
        ),
        (
            "content_block_delta",
            delta(1, json!({"type": "text_delta", "text": "2"})),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 25}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

fn serve_thinking_stream_once(gw: &Gateway) {
    let text: String = thinking_stream()
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    gw.mock.set_fault(Fault::raw_body(text).times(1));
}

/// A thinking stream reaches each kind of client: a chat client gets the thinking as
/// `reasoning_content` deltas and then the answer, a Responses client (Codex CLI) the answer's
/// text events, an Anthropic client every event as sent (signature included). Usage counts the
/// thinking.
#[tokio::test]
async fn thinking_streams_reach_every_client_with_the_answer_after_the_thinking() {
    let gw = gateway::start().await;

    serve_thinking_stream_once(&gw);
    let body = chat(
        "what is six times seven",
        json!({"reasoning_effort": "low", "stream_options": {"include_usage": true}}),
    );
    let got = chunks(&gw, &body).await;
    assert_eq!(upstream_body(&gw)["thinking"]["budget_tokens"], 1024);
    assert_eq!(
        deltas(&got, "reasoning_content"),
        [&json!("Six times "), &json!("seven.")]
    );
    let content: String = deltas(&got, "content")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(content, "42");
    assert_eq!(finish_reason(&got), "stop");
    let usage = &got.last().unwrap()["usage"];
    assert_eq!(
        (&usage["prompt_tokens"], &usage["completion_tokens"]),
        (&json!(12), &json!(25)),
        "{usage}"
    );

    serve_thinking_stream_once(&gw);
    let body = json!({"model": CLAUDE, "input": "what is six times seven", "stream": true,
        "reasoning": {"effort": "low"}});
    let res = gw.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let events = sse_events(&res.text().await.unwrap());
    let text: String = events
        .iter()
        .filter(|(name, _)| name.as_deref() == Some("response.output_text.delta"))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "42");
    let (_, completed) = events
        .iter()
        .find(|(name, _)| name.as_deref() == Some("response.completed"))
        .unwrap();
    let completed: Value = serde_json::from_str(completed).unwrap();
    let response = &completed["response"];
    let message = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "message")
        .unwrap();
    assert_eq!(message["content"][0]["text"], "42", "{response}");
    assert_eq!(response["usage"]["output_tokens"], 25, "{response}");

    serve_thinking_stream_once(&gw);
    let body = json!({"model": CLAUDE, "max_tokens": 2048, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "what is six times seven"}]});
    let res = gw.post("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let relayed: Vec<(Option<String>, Value)> = sse_events(&res.text().await.unwrap())
        .into_iter()
        .map(|(name, d)| (name, serde_json::from_str(&d).unwrap()))
        .collect();
    let sent: Vec<(Option<String>, Value)> = thinking_stream()
        .into_iter()
        .map(|(name, d)| (Some(name.to_owned()), d))
        .collect();
    assert_eq!(relayed, sent);
}

#[tokio::test]
async fn responses_reasoning_effort_thinks_and_budgets_hold_the_thinking() {
    let gw = gateway::start().await;
    // Codex CLI's shape: the Responses API's reasoning.effort becomes the thinking budget.
    let body = json!({"model": CLAUDE, "input": "think", "max_output_tokens": 200,
        "reasoning": {"effort": "high", "summary": "auto"}});
    let answer = whole(&gw, "/v1/responses", &body).await;
    let sent = upstream_body(&gw);
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(sent["max_tokens"], 4096 + 200);
    assert_eq!(answer["status"], "completed", "{answer}");
    let bad = json!({"model": CLAUDE, "input": "x", "reasoning": {"effort": "max"}});
    let res = gw.post("/v1/responses", &bad).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["param"], "reasoning.effort", "{err}");

    // The reservation before the call holds the thinking budget too: with 3 000 tokens a day
    // left, 200 tokens of answer fit, 200 plus 4 096 of thinking do not.
    let (status, limit) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/limits", gw.group_id),
            Some(json!({"scope": "group", "metric": "tokens", "window": "day", "cap": 3000})),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    let thinking = chat("x", json!({"reasoning_effort": "high", "max_tokens": 200}));
    let res = gw
        .post("/v1/chat/completions", &thinking)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let res = gw.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let plain = chat("x", json!({"reasoning_effort": "none", "max_tokens": 200}));
    whole(&gw, "/v1/chat/completions", &plain).await;
}

#[tokio::test]
async fn legacy_functions_are_answered_in_the_legacy_shape() {
    let gw = gateway::start().await;
    let body = chat(
        "what is the weather in Paris?",
        json!({"functions": [{"name": "weather", "description": "Weather",
            "parameters": schema()}], "function_call": "auto"}),
    );
    let answer = whole(&gw, "/v1/chat/completions", &body).await;
    let sent = upstream_body(&gw);
    assert_eq!(sent["tools"][0]["name"], "weather");
    assert_eq!(sent["tools"][0]["input_schema"], schema());
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "function_call");
    assert_eq!(
        choice["message"]["function_call"],
        json!({"name": "weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert!(choice["message"].get("tool_calls").is_none(), "{answer}");

    let c = chunks(&gw, &body).await;
    assert!(deltas(&c, "tool_calls").is_empty(), "{c:?}");
    let calls = deltas(&c, "function_call");
    assert_eq!(calls[0]["name"], "weather");
    let arguments: String = calls
        .iter()
        .filter_map(|f| f["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    assert_eq!(finish_reason(&c), "function_call");

    // The next turn: the legacy call and its result become tool_use and tool_result.
    let next = chat(
        "",
        json!({"functions": body["functions"], "messages": [
            {"role": "user", "content": "what is the weather in Paris?"},
            {"role": "assistant", "content": null,
             "function_call": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"role": "function", "name": "weather", "content": "18C and sunny"}]}),
    );
    whole(&gw, "/v1/chat/completions", &next).await;
    let sent = upstream_body(&gw);
    assert_eq!(
        sent["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "call_legacy_1", "name": "weather",
               "input": {"city": "Paris"}})
    );
    assert_eq!(
        sent["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_legacy_1", "content": "18C and sunny"})
    );
}

#[tokio::test]
async fn malformed_or_conflicting_requests_are_400s_naming_the_field() {
    let gw = gateway::start().await;
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let cases = [
        (
            json!({"response_format": {"type": "json_schema",
                "json_schema": {"name": "x", "schema": "{}"}}}),
            "response_format.json_schema.schema",
            "must be an object",
        ),
        (
            json!({"response_format": {"type": "json_object"}, "tools": tools,
                "tool_choice": {"type": "function", "function": {"name": "f"}}}),
            "tool_choice",
            "send one or the other",
        ),
        (
            json!({"reasoning_effort": "maximum"}),
            "reasoning_effort",
            "\"none\", \"minimal\", \"low\", \"medium\", \"high\" or \"xhigh\"",
        ),
        (
            json!({"functions": [{"description": "no name"}]}),
            "functions[0].name",
            "is missing",
        ),
        (
            json!({"functions": [{"name": "f"}], "function_call": "always"}),
            "function_call",
            "\"none\", \"auto\"",
        ),
    ];
    for (extra, param, phrase) in cases {
        let res = gw
            .post("/v1/chat/completions", &chat("hi", extra.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{extra}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["param"], param, "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(phrase), "{message}");
    }
    // A Responses client is told about its own field.
    let body = json!({"model": CLAUDE, "input": "hi", "text": {"format": {
        "type": "json_schema", "name": "list", "schema": {"type": "array"}}}});
    let res = gw.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["param"], "text.format.schema.type", "{err}");
    assert!(gw.mock.requests().is_empty(), "{:?}", gw.mock.requests());
}
