//! Tests of the chat -> Messages request translation: a coding agent's multi-turn tool
//! conversation, defaults and tool choice, and the 400s that name the field.

use super::*;
use crate::gateway::translate::responses_to_messages_request;

fn agent_request() -> Value {
    json!({
        "model": "claude-sonnet-4", "stream": true, "user": "u-42",
        "temperature": 1.4, "stop": "END", "max_completion_tokens": 1024,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and the weather in Paris?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required", "parallel_tool_calls": false,
        "logprobs": false, "seed": 3
    })
}

#[test]
fn multi_turn_tool_conversation_becomes_messages() {
    let out = chat_to_messages_request(&agent_request(), 4096).unwrap();
    assert_eq!(out["system"], "You are terse.");
    assert_eq!(out["max_tokens"], 1024);
    assert_eq!(out["temperature"], 1.0);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
    assert_eq!(out["stream"], true);
    assert!(out.get("seed").is_none());
    let msgs = out["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        msgs[0]["content"][2]["source"],
        json!({"type": "url", "url": "https://example.com/cat.jpg"})
    );
    assert_eq!(
        msgs[1]["content"],
        json!([
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "clock", "input": {}}
        ])
    );
    assert_eq!(
        msgs[2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "12:00"},
            {"type": "text", "text": "Thanks"}
        ])
    );
    assert_eq!(
        out["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
}

#[test]
fn defaults_and_named_tool_choice() {
    let req = json!({"model": "m", "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "a"}]},
        {"role": "system", "content": "b"},
        {"role": "user", "content": "hi"}],
        "stop": ["x", "y"],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert_eq!(out["max_tokens"], 4096);
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    );
    assert_eq!(out["stop_sequences"], json!(["x", "y"]));
    assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));
    assert_eq!(
        out["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn invalid_shapes_name_the_field() {
    let cases = [
        (json!({"messages": {}}), "messages"),
        (json!({"messages": [{"content": "x"}]}), "messages[0].role"),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [
                {"id": "c", "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
    ];
    for (req, param) in cases {
        assert_eq!(chat_to_messages_request(&req, 10).unwrap_err().param, param);
    }
}

/// The hostile-client probe's requests: every field the translation reads, wrongly typed.
#[test]
fn bad_translated_fields_are_refused_naming_the_field() {
    let with = |key: &str, value: Value| {
        let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        req[key] = value;
        req
    };
    let too_big: Value = serde_json::from_str("18446744073709551617").unwrap();
    let cap = "must be a whole number of tokens from 1 to 4294967295";
    let cases = [
        (with("max_tokens", json!("100")), "max_tokens", cap),
        (with("max_tokens", json!(-5)), "max_tokens", "got -5"),
        (with("max_tokens", json!(10.5)), "max_tokens", "got 10.5"),
        (with("max_tokens", json!(0)), "max_tokens", cap),
        (with("max_tokens", too_big.clone()), "max_tokens", cap),
        (
            with("max_completion_tokens", json!("100")),
            "max_completion_tokens",
            cap,
        ),
        (
            with("max_completion_tokens", too_big),
            "max_completion_tokens",
            cap,
        ),
        (
            with("temperature", json!("hot")),
            "temperature",
            "must be a number; got the string \"hot\"",
        ),
        (with("top_p", json!("x")), "top_p", "must be a number"),
        (
            with("stop", json!(5)),
            "stop",
            "a string or an array of strings",
        ),
        (with("stop", json!(["a", 1])), "stop[1]", "must be a string"),
        (with("n", json!(-1)), "n", "one choice per request"),
        (with("n", json!(2)), "n", "one choice per request"),
        (
            with("stream_options", json!("x")),
            "stream_options",
            "must be an object",
        ),
        (
            with("stream_options", json!({"include_usage": "yes"})),
            "stream_options.include_usage",
            "true or false",
        ),
        (with("user", json!(5)), "user", "must be a string"),
        (
            with("tool_choice", json!("sometimes")),
            "tool_choice",
            "\"auto\", \"none\", \"required\"",
        ),
        (with("tools", json!({})), "tools", "must be an array"),
        (
            with(
                "messages",
                json!([{"role": "user", "content": [
                {"type": "text", "text": "a"}, {"type": "text", "text": 5}]}]),
            ),
            "messages[0].content[1].text",
            "`messages[0].content[1].text` must be a string; got 5",
        ),
        (
            with(
                "messages",
                json!([{"role": "user", "content": [{"type": "input_audio"}]}]),
            ),
            "messages[0].content[0].type",
            "`input_audio`",
        ),
        (
            with(
                "messages",
                json!([{"role": "user", "content": [{"text": "a"}]}]),
            ),
            "messages[0].content[0].type",
            "is missing",
        ),
        (
            with(
                "messages",
                json!([{"role": "system", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
            ),
            "messages[0].content[0].type",
            "expected text or refusal",
        ),
        (
            with("messages", json!([{"role": "user", "content": 5}])),
            "messages[0].content",
            "a string or an array of content parts",
        ),
        (
            with("messages", json!([{"role": "bot", "content": "x"}])),
            "messages[0].role",
            "`bot`",
        ),
        (
            with(
                "messages",
                json!([{"role": "assistant", "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]),
            ),
            "messages[0].tool_calls[0].id",
            "is missing",
        ),
        (
            with(
                "messages",
                json!([{"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"arguments": "{}"}}]}]),
            ),
            "messages[0].tool_calls[0].function.name",
            "is missing",
        ),
    ];
    for (req, param, phrase) in cases {
        let err = chat_to_messages_request(&req, 4096).unwrap_err();
        assert_eq!(err.param, param, "{req}");
        assert!(err.message.contains(phrase), "{param}: {}", err.message);
    }
}

/// What chat apps and SDKs really send: nulls for unset options, usage-only
/// stream_options, n = 1, whole-number floats, and the tool_choice strings. Of the
/// fields listed, `service_tier` and `metadata` are still dropped; `reasoning_effort`,
/// `response_format` and `functions` are translated (see `reasoning`, `structured`,
/// `legacy`).
#[test]
fn real_client_shapes_still_translate() {
    let req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": null, "max_completion_tokens": 100.0, "temperature": null, "top_p": 0.9,
        "stop": null, "n": 1, "tools": null, "tool_choice": null, "user": null,
        "stream": true, "stream_options": {"include_usage": true},
        "reasoning_effort": null, "service_tier": "auto", "metadata": {"a": "b"},
        "parallel_tool_calls": null, "response_format": null, "functions": null,
        "function_call": null, "thinking": null});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert_eq!(out["max_tokens"], 100);
    assert_eq!(out["top_p"], 0.9);
    assert!(out.get("temperature").is_none() && out.get("stop_sequences").is_none());
    assert!(out.get("service_tier").is_none() && out.get("thinking").is_none());
    assert!(out.get("tools").is_none() && out.get("metadata").is_none());
    for choice in ["auto", "none", "required"] {
        let mut r = agent_request();
        r["tool_choice"] = json!(choice);
        chat_to_messages_request(&r, 4096).unwrap();
    }
    let mut r = agent_request();
    r["max_tokens"] = json!(77);
    r.as_object_mut().unwrap().remove("max_completion_tokens");
    assert_eq!(
        chat_to_messages_request(&r, 4096).unwrap()["max_tokens"],
        77
    );
}

/// Claude Sonnet 4.5, Haiku 4.5 and Opus 4.1 refuse both sampling settings together; OpenAI
/// clients often send both (also through the Responses API).
#[test]
fn temperature_wins_over_top_p() {
    let req = json!({"model": "claude-sonnet-4-5", "temperature": 0.5, "top_p": 0.9,
        "messages": [{"role": "user", "content": "hi"}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert_eq!(out["temperature"], 0.5);
    assert!(out.get("top_p").is_none());
    let resp = json!({"model": "m", "input": "hi", "temperature": 0.2, "top_p": 0.3});
    let out = responses_to_messages_request(&resp, 4096).unwrap();
    assert_eq!(out["temperature"], 0.2);
    assert!(out.get("top_p").is_none());
    // With thinking the temperature goes, so top_p (0.95 or more) can stay.
    let req = json!({"reasoning_effort": "low", "temperature": 0.5, "top_p": 0.96,
        "messages": [{"role": "user", "content": "hi"}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert!(out.get("temperature").is_none());
    assert_eq!(out["top_p"], 0.96);
}

/// OpenAI answers a request of system messages only; Anthropic refuses `messages: []`, so the
/// system text becomes the user turn (as a string, or as blocks keeping cache_control).
#[test]
fn system_only_requests_become_one_user_turn() {
    let req = json!({"model": "m", "messages": [
        {"role": "system", "content": "Translate to French: hello"}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert!(out.get("system").is_none());
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "Translate to French: hello"}]}])
    );
    let req = json!({"messages": [
        {"role": "developer", "content": [{"type": "text", "text": "a",
            "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": " \n"}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}])
    );
    // The Responses API's instructions with an empty input take the same way.
    for input in [json!([]), json!("")] {
        let resp = json!({"model": "m", "instructions": "say hi", "input": input});
        let out = responses_to_messages_request(&resp, 4096).unwrap();
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "say hi"}]}])
        );
    }
    for messages in [json!([]), json!([{"role": "user", "content": ""}])] {
        let err = chat_to_messages_request(&json!({"messages": messages}), 4096).unwrap_err();
        assert_eq!(err.param, "messages");
        assert!(err.message.contains("at least one user message"), "{err}");
    }
}

/// Claude writes "\n\n" before a tool call and clients send it back; Anthropic refuses
/// whitespace-only text blocks, whitespace-only stop sequences and a prefill ending in
/// whitespace.
#[test]
fn whitespace_only_text_and_stops_are_left_out() {
    let req = json!({"model": "m", "stop": ["\n", "", "END", " "],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "messages": [
            {"role": "system", "content": "  "},
            {"role": "user", "content": [{"type": "text", "text": "go"},
                {"type": "text", "text": "\t"}]},
            {"role": "assistant", "content": "\n\n", "tool_calls": [{"id": "c1",
                "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": [{"type": "text", "text": "\n"},
                {"type": "text", "text": "The answer is "}]}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert!(out.get("system").is_none());
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "c1", "name": "f", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "The answer is"}]}
        ])
    );
    let out = chat_to_messages_request(
        &json!({"stop": "\n", "messages": [
        {"role": "user", "content": "x"}]}),
        4096,
    )
    .unwrap();
    assert!(out.get("stop_sequences").is_none());
    // A last user message of whitespace would turn the answer into a prefill continuation.
    let req = json!({"messages": [{"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "  "}]});
    let err = chat_to_messages_request(&req, 4096).unwrap_err();
    assert_eq!(err.param, "messages[2].content");
    assert!(err.message.contains("whitespace-only"), "{err}");
}

/// Anthropic reads four image types and calls JPEG only `image/jpeg`; clients write
/// `image/jpg`, in chat image parts, tool results and Responses input images alike.
#[test]
fn image_media_types_are_anthropics() {
    let jpg = "data:image/jpg;base64,/9j/4AAQ";
    let req = json!({"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": jpg}}]},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "shot", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": [
            {"type": "image_url", "image_url": {"url": "data:IMAGE/PNG;base64,iVBO"}}]}]});
    let out = chat_to_messages_request(&req, 4096).unwrap();
    assert_eq!(
        out["messages"][0]["content"][0]["source"],
        json!({"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"})
    );
    assert_eq!(
        out["messages"][2]["content"][0]["content"][0]["source"]["media_type"],
        "image/png"
    );
    let resp = json!({"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": jpg}]}]});
    let out = responses_to_messages_request(&resp, 4096).unwrap();
    assert_eq!(
        out["messages"][0]["content"][0]["source"]["media_type"],
        "image/jpeg"
    );
    let bmp = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}]}]});
    let err = chat_to_messages_request(&bmp, 4096).unwrap_err();
    assert_eq!(err.param, "messages[0].content[0].image_url.url");
    assert!(err.message.contains("\"image/bmp\""), "{err}");
    assert!(err.message.contains("image/webp"), "{err}");
}
