//! Tests of the Messages -> chat request translation: a Claude Code conversation, tool
//! choice, and the 400s that name the field.

use super::*;

#[test]
fn claude_code_style_request_becomes_chat() {
    let req = json!({
        "model": "gpt-4.1", "max_tokens": 32000, "stream": true,
        "metadata": {"user_id": "user_abc"}, "stop_sequences": ["</done>"], "top_k": 5,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Running ls."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "a.rs\nb.rs"}]},
                {"type": "text", "text": "now read a.rs"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]}
        ],
        "tools": [{"name": "Bash", "description": "Run a command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
    });
    let out = messages_to_chat_request(&req).unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "system", "content": "You are Claude Code.\nBe brief."},
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": "Running ls.", "tool_calls": [
                {"id": "toolu_01", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "a.rs\nb.rs"},
            {"role": "user", "content": [
                {"type": "text", "text": "now read a.rs"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}]}
        ])
    );
    assert_eq!(out["max_tokens"], 32000);
    assert_eq!(out["stop"], json!(["</done>"]));
    assert_eq!(out["user"], "user_abc");
    assert_eq!(out["stream_options"], json!({"include_usage": true}));
    assert!(out.get("top_k").is_none());
    assert_eq!(
        out["tools"][0]["function"]["parameters"]["properties"]["command"]["type"],
        "string"
    );
    assert_eq!(out["tool_choice"], "required");
    assert_eq!(out["parallel_tool_calls"], false);
}

#[test]
fn named_tool_choice_and_bad_role() {
    let req = json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f"}});
    let out = messages_to_chat_request(&req).unwrap();
    assert_eq!(
        out["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert!(out.get("stream_options").is_none());
    let bad = json!({"messages": [{"role": "tool", "content": "x"}]});
    assert_eq!(
        messages_to_chat_request(&bad).unwrap_err().param,
        "messages[0].role"
    );
}

/// Every field the translation reads, wrongly typed: a 400 naming it, in words.
#[test]
fn bad_translated_fields_are_refused_naming_the_field() {
    let with = |key: &str, value: Value| {
        let mut req = json!({"model": "m", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}]});
        req[key] = value;
        req
    };
    let msgs = |m: Value| with("messages", json!([m]));
    let cases = [
        (
            with("max_tokens", json!(4_294_967_296u64)),
            "max_tokens",
            "from 1 to 4294967295",
        ),
        (
            with("temperature", json!("x")),
            "temperature",
            "must be a number",
        ),
        (
            with("top_p", json!([])),
            "top_p",
            "must be a number; got an array",
        ),
        (with("top_k", json!("5")), "top_k", "must be a number"),
        (
            with("stop_sequences", json!("x")),
            "stop_sequences",
            "must be an array of strings",
        ),
        (
            with("stop_sequences", json!([3])),
            "stop_sequences[0]",
            "must be a string",
        ),
        (
            with("thinking", json!("on")),
            "thinking",
            "must be an object",
        ),
        (
            with("thinking", json!({"type": "maybe"})),
            "thinking.type",
            "\"enabled\"",
        ),
        (
            with("thinking", json!({"type": "enabled"})),
            "thinking.budget_tokens",
            "is missing",
        ),
        (
            with("metadata", json!("u")),
            "metadata",
            "must be an object",
        ),
        (
            with("metadata", json!({"user_id": 5})),
            "metadata.user_id",
            "must be a string",
        ),
        (with("system", json!(5)), "system", "a string or an array"),
        (
            with("system", json!([{"type": "image"}])),
            "system[0].type",
            "must be text blocks",
        ),
        (
            with("system", json!([{"type": "text", "text": 5}])),
            "system[0].text",
            "must be a string",
        ),
        (
            with("tools", json!([{"input_schema": {}}])),
            "tools[0].name",
            "every tool needs a name",
        ),
        (
            with("tools", json!([{"name": "f", "input_schema": "x"}])),
            "tools[0].input_schema",
            "must be an object",
        ),
        (
            msgs(json!({"role": "bot", "content": "x"})),
            "messages[0].role",
            "\"user\", \"assistant\" or \"system\"",
        ),
        (
            msgs(json!({"role": "user", "content": 5})),
            "messages[0].content",
            "got 5",
        ),
        (
            msgs(json!({"role": "user", "content": [{"type": "text", "text": 5}]})),
            "messages[0].content[0].text",
            "must be a string; got 5",
        ),
        (
            msgs(json!({"role": "user", "content": [{"type": "audio"}]})),
            "messages[0].content[0].type",
            "`audio`",
        ),
        (
            msgs(json!({"role": "assistant", "content": [
                {"type": "tool_use", "name": "f", "input": {}}]})),
            "messages[0].content[0].id",
            "`messages[0].content[0].id` is missing",
        ),
        (
            msgs(json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": "t", "name": "f", "input": "x"}]})),
            "messages[0].content[0].input",
            "must be an object",
        ),
        (
            msgs(json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": 5}]})),
            "messages[0].content[0].content",
            "a string or an array",
        ),
        (
            msgs(json!({"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "data": "AA"}}]})),
            "messages[0].content[0].source.media_type",
            "is missing",
        ),
    ];
    for (req, param, phrase) in cases {
        let err = messages_to_chat_request(&req).unwrap_err();
        assert_eq!(err.param, param, "{req}");
        assert!(err.message.contains(phrase), "{param}: {}", err.message);
    }
}

#[test]
fn thinking_and_nulls_in_real_shapes_pass() {
    for thinking in [
        json!({"type": "enabled", "budget_tokens": 1024}),
        json!({"type": "disabled"}),
        Value::Null,
    ] {
        let req = json!({"max_tokens": 2000, "thinking": thinking, "temperature": null,
            "service_tier": "auto", "system": null,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi",
                "cache_control": {"type": "ephemeral"}}]}]});
        let out = messages_to_chat_request(&req).unwrap();
        assert_eq!(out["messages"], json!([{"role": "user", "content": "hi"}]));
    }
}

/// OpenAI refuses more than four stop sequences; dropping some would let the answer run on,
/// so the client gets a 400 naming the field. Empty ones stop nothing and are dropped.
#[test]
fn stop_sequences_fit_openai() {
    let with = |stop: Value| {
        json!({"model": "gpt-4o", "max_tokens": 100, "stop_sequences": stop,
            "messages": [{"role": "user", "content": "x"}]})
    };
    let err = messages_to_chat_request(&with(json!(["a", "b", "c", "d", "e"]))).unwrap_err();
    assert_eq!(err.param, "stop_sequences");
    assert_eq!(
        err.message,
        "`stop_sequences` has 5 sequences; this model takes at most 4"
    );
    let out = messages_to_chat_request(&with(json!(["a", "", "b", "c", "\n"]))).unwrap();
    assert_eq!(out["stop"], json!(["a", "b", "c", "\n"]));
    let out = messages_to_chat_request(&with(json!([""]))).unwrap();
    assert!(out.get("stop").is_none());
}

/// A chat tool message has no error flag; the failed call says so in its text.
#[test]
fn tool_errors_say_so() {
    let result = |content: Value, is_error: Value| {
        json!({"model": "gpt-4o", "max_tokens": 100, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                "content": content, "is_error": is_error}]}]})
    };
    let tool_text = |req: Value| messages_to_chat_request(&req).unwrap()["messages"][2].clone();
    assert_eq!(
        tool_text(result(json!("ENOENT"), json!(true))),
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "Error: ENOENT"})
    );
    assert_eq!(
        tool_text(result(
            json!([{"type": "text", "text": "exit 1"}]),
            json!(true)
        ))["content"],
        "Error: exit 1"
    );
    assert_eq!(
        tool_text(result(Value::Null, json!(true)))["content"],
        "Error"
    );
    assert_eq!(
        tool_text(result(json!("ok"), json!(false)))["content"],
        "ok"
    );
    assert_eq!(tool_text(result(json!("ok"), Value::Null))["content"], "ok");
    let err = messages_to_chat_request(&result(json!("x"), json!("yes"))).unwrap_err();
    assert_eq!(err.param, "messages[2].content[0].is_error");
}

/// MCP servers and a code execution container are run by Anthropic; dropped, the model would
/// answer without their tools and files, so they are refused, saying what to do instead.
#[test]
fn mcp_servers_and_container_are_refused_not_dropped() {
    let base = json!({"model": "gpt-4.1", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    for (field, value, advice) in [
        (
            "mcp_servers",
            json!([{"type": "url", "url": "https://mcp.example/sse", "name": "x"}]),
            "pass them in `tools`",
        ),
        (
            "container",
            json!("container_011"),
            "send the request without it",
        ),
        (
            "container",
            json!({"id": "c", "skills": []}),
            "an Anthropic account",
        ),
    ] {
        let mut req = base.clone();
        req[field] = value;
        let err = messages_to_chat_request(&req).unwrap_err();
        assert_eq!(err.param, field);
        assert!(err.message.contains(advice), "{}", err.message);
    }
    // Sent as null (SDKs with every field present), nothing is asked for: passed.
    let mut req = base;
    req["mcp_servers"] = Value::Null;
    req["container"] = Value::Null;
    messages_to_chat_request(&req).unwrap();
}

/// Claude Code over a DeepSeek account: the thinking blocks the gateway made from
/// `reasoning_content` go back in it, on the turns they came with (DeepSeek refuses a tool
/// call's turn without its reasoning); Claude's own thinking blocks are still dropped.
#[test]
fn reasoning_made_into_thinking_goes_back_as_reasoning() {
    let sig = super::chat_reasoning::signature;
    let req = json!({"max_tokens": 1000, "messages": [
        {"role": "user", "content": "weather in Hangzhou?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Need the ", "signature": sig("reasoning_content")},
            {"type": "thinking", "thinking": "tool.", "signature": sig("reasoning_content")},
            {"type": "tool_use", "id": "call_00_a", "name": "get_weather", "input": {"city": "Hangzhou"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_00_a", "content": "sunny"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "claude's", "signature": "EqQBCgIYAhIM"},
            {"type": "text", "text": "Sunny."}]},
        {"role": "user", "content": "and tomorrow?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "via OpenRouter", "signature": sig("reasoning")},
            {"type": "text", "text": "Rain."}]}
    ]});
    let out = messages_to_chat_request(&req).unwrap();
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": null, "reasoning_content": "Need the tool.",
               "tool_calls": [{"id": "call_00_a", "type": "function",
                   "function": {"name": "get_weather", "arguments": "{\"city\":\"Hangzhou\"}"}}]})
    );
    assert_eq!(
        messages[3],
        json!({"role": "assistant", "content": "Sunny."})
    );
    assert_eq!(
        messages[5],
        json!({"role": "assistant", "content": "Rain.", "reasoning": "via OpenRouter"})
    );
}

/// Claude Code 2.1 sends a `system` message after the first user turn (Anthropic's
/// mid-conversation system message). For a chat provider it becomes a system-reminder in that
/// user turn; one before any turn joins the system prompt; non-text content is a 400.
#[test]
fn mid_conversation_system_messages_become_reminders() {
    let req = json!({"max_tokens": 100, "system": "You are Claude Code.", "messages": [
        {"role": "system", "content": "Leading."},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "Available agent types: general."}]},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}]},
        {"role": "system", "content": "Image attached."},
    ]});
    let out = messages_to_chat_request(&req).unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "system", "content": "You are Claude Code.\nLeading."},
            {"role": "user", "content":
                "hi\n\n<system-reminder>\nAvailable agent types: general.\n</system-reminder>"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {"type": "text", "text": "<system-reminder>\nImage attached.\n</system-reminder>"}]}
        ])
    );
    let only = json!({"max_tokens": 5, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]});
    assert_eq!(
        messages_to_chat_request(&only).unwrap()["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    let tools = json!({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "tool_addition", "name": "f"}]}]});
    let err = messages_to_chat_request(&tools).unwrap_err();
    assert_eq!(err.param, "messages[1].content[0].type");
    let developer = json!({"max_tokens": 5, "messages": [{"role": "developer", "content": "x"}]});
    let err =
        super::super::request_shape(super::super::BodyDialect::Messages, &developer).unwrap_err();
    assert_eq!(err.param, "messages[0].role");
    assert!(err.message.contains("`system`"), "{}", err.message);
}
