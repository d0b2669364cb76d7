//! The mock upstream as a client sees it: the three wire formats whole and streamed, auth and
//! validation errors. Faults, stats and the subcommand are in `mock_faults.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::sse_events as events;
use common::mock_client::{anthropic, chat, claude, json_events, openai, streamed, text};
use common::upstream::mock;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

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
