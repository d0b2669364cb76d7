//! Tests of the Responses -> chat request translation: what Codex CLI sends, and the 400s
//! that name the field.

use super::*;

/// The shape Codex CLI sends: instructions, a prior turn with a function call and its
/// output, and flat function tools next to a built-in one.
pub(crate) fn codex_request() -> Value {
    json!({
        "model": "gpt-5-codex", "instructions": "You are Codex.", "stream": true,
        "store": false, "parallel_tool_calls": false, "max_output_tokens": 2048,
        "reasoning": {"effort": "medium"}, "include": [],
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What's in README?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reading it."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "shell",
             "arguments": "{\"command\":[\"cat\",\"README.md\"]}"},
            {"type": "function_call_output", "call_id": "call_9", "output": "# AiCarpool"},
            {"role": "user", "content": "Summarise it."}
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Run a command", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
            {"type": "web_search"}
        ],
        "tool_choice": "auto"
    })
}

#[test]
fn codex_request_becomes_chat() {
    let out = responses_to_chat_request(&codex_request()).unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "system", "content": "Sandbox: read-only"},
            {"role": "user", "content": [
                {"type": "text", "text": "What's in README?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": "Reading it.", "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "shell",
                 "arguments": "{\"command\":[\"cat\",\"README.md\"]}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "# AiCarpool"},
            {"role": "user", "content": "Summarise it."}
        ])
    );
    assert_eq!(out["max_tokens"], 2048);
    assert_eq!(out["reasoning_effort"], "medium");
    assert_eq!(out["parallel_tool_calls"], false);
    assert_eq!(out["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        out["tools"],
        json!([{"type": "function", "function": {"name": "shell", "description": "Run a command",
            "strict": false, "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}}])
    );
    assert_eq!(out["tool_choice"], "auto");
    let stored = json!({"input": "hi", "previous_response_id": "resp_1"});
    assert_eq!(
        responses_to_chat_request(&stored).unwrap_err().param,
        "previous_response_id"
    );
    let odd = json!({"input": [{"type": "custom_tool_call"}]});
    assert_eq!(
        responses_to_chat_request(&odd).unwrap_err().param,
        "input[0].type"
    );
}

/// Every field the translation reads, wrongly typed; Responses tools are flat, so their
/// paths are `tools[0].name`, not chat's `tools[0].function.name`.
#[test]
fn bad_translated_fields_are_refused_naming_the_field() {
    let with = |key: &str, value: Value| {
        let mut req = json!({"model": "m", "input": "hi"});
        req[key] = value;
        req
    };
    let cases = [
        (
            with("instructions", json!({"a": 1})),
            "instructions",
            "must be a string; got an object",
        ),
        (
            with("instructions", json!(5)),
            "instructions",
            "must be a string",
        ),
        (
            with("max_output_tokens", json!(-1)),
            "max_output_tokens",
            "from 1 to 4294967295; got -1",
        ),
        (
            with("max_output_tokens", json!("x")),
            "max_output_tokens",
            "got the string \"x\"",
        ),
        (
            with("temperature", json!("x")),
            "temperature",
            "must be a number",
        ),
        (
            with("parallel_tool_calls", json!(1)),
            "parallel_tool_calls",
            "true or false",
        ),
        (
            with("reasoning", json!("high")),
            "reasoning",
            "must be an object",
        ),
        (
            with("text", json!({"format": {"type": "xml"}})),
            "text.format.type",
            "\"json_schema\"",
        ),
        (
            with(
                "text",
                json!({"format": {"type": "json_schema", "name": "x"}}),
            ),
            "text.format.schema",
            "is missing",
        ),
        (
            with("tools", json!([{"type": "custom"}])),
            "tools[0].type",
            "custom tools",
        ),
        (
            with(
                "tools",
                json!([{"type": "function", "name": "f"}, {"type": "local_shell"}]),
            ),
            "tools[1].type",
            "`tools[1].type` is `local_shell`, a built-in tool your client runs",
        ),
        (
            with("tools", json!([{"type": "apply_patch"}])),
            "tools[0].type",
            "Define it as a function tool",
        ),
        (
            with(
                "tools",
                json!([{"type": "computer_use_preview", "display_width": 1024}]),
            ),
            "tools[0].type",
            "only OpenAI models call",
        ),
        (
            with("tools", json!([{"type": "function"}])),
            "tools[0].name",
            "`tools[0].name` is missing",
        ),
        (
            with(
                "tools",
                json!([{"type": "function", "name": "f", "parameters": "x"}]),
            ),
            "tools[0].parameters",
            "must be an object",
        ),
        (with("tools", json!([5])), "tools[0]", "must be an object"),
        (
            with("tool_choice", json!("sometimes")),
            "tool_choice",
            "\"required\"",
        ),
        (
            with(
                "input",
                json!([{"role": "user", "content": [{"type": "input_text", "text": 5}]}]),
            ),
            "input[0].content[0].text",
            "must be a string; got 5",
        ),
        (
            with(
                "input",
                json!([{"type": "function_call", "call_id": "c", "name": "f",
                "arguments": {"a": 1}}]),
            ),
            "input[0].arguments",
            "must be a string",
        ),
        (
            with("input", json!([{"type": "function_call", "name": "f"}])),
            "input[0].call_id",
            "is missing",
        ),
    ];
    for (req, param, phrase) in cases {
        let err = responses_to_chat_request(&req).unwrap_err();
        assert_eq!(err.param, param, "{req}");
        assert!(err.message.contains(phrase), "{param}: {}", err.message);
    }
    // Null is absent; the text format and json_schema shapes the SDKs send pass.
    let ok = json!({"input": "hi", "instructions": null, "reasoning": null,
        "max_output_tokens": null, "text": {"format": {"type": "text"}, "verbosity": "low"}});
    assert_eq!(
        responses_to_chat_request(&ok).unwrap()["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
    let schema = json!({"input": "hi", "text": {"format": {"type": "json_schema", "name": "n",
        "schema": {"type": "object"}, "strict": true}}});
    assert_eq!(
        responses_to_chat_request(&schema).unwrap()["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": true}})
    );
}

/// A tool output of text and a screenshot, as Codex sends it after a screenshot tool.
fn screenshot_outputs() -> Value {
    json!({"model": "m", "tools": [{"type": "function", "name": "shot",
        "parameters": {"type": "object"}}],
        "input": [
            {"role": "user", "content": "look"},
            {"type": "function_call", "call_id": "call_1", "name": "shot", "arguments": "{}"},
            {"type": "function_call", "call_id": "call_2", "name": "shot", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": [
                {"type": "input_text", "text": "see pic"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]},
            {"type": "function_call_output", "call_id": "call_2", "output": [
                {"type": "input_image", "image_url": "https://example.com/b.png"}]},
            {"role": "user", "content": "what changed?"}]})
}

/// Anthropic's tool_result carries images: they stay in the result they belong to.
#[test]
fn tool_output_images_stay_in_anthropic_tool_results() {
    let out = responses_to_messages_request(&screenshot_outputs(), 4096).unwrap();
    assert_eq!(
        out["messages"][2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "call_1", "content": [
                {"type": "text", "text": "see pic"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                    "data": "iVBORw0KGgo="}}]},
            {"type": "tool_result", "tool_use_id": "call_2", "content": [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/b.png"}}]},
            {"type": "text", "text": "what changed?"}
        ])
    );
    // A text-only output stays a string.
    let codex = responses_to_messages_request(&codex_request(), 4096).unwrap();
    assert_eq!(codex["messages"][2]["content"][0]["content"], "# AiCarpool");
}

/// A chat `tool` message carries only text: the images follow the run of tool messages in a
/// user message, where chat providers accept them (they were dropped before).
#[test]
fn tool_output_images_follow_chat_tool_messages() {
    let out = responses_to_chat_request(&screenshot_outputs()).unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "shot", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "see pic"},
            {"role": "tool", "tool_call_id": "call_2", "content": ""},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}]},
            {"role": "user", "content": "what changed?"}
        ])
    );
}

/// Without instructions or input there is nothing to send; the 400 names the Responses field.
#[test]
fn an_empty_input_is_refused_naming_input() {
    let err = responses_to_messages_request(&json!({"model": "m", "input": []}), 4096).unwrap_err();
    assert_eq!(err.param, "input");
    assert!(err.message.starts_with("`input` has no message"), "{err}");
}

/// A stored prompt template and a stored conversation make the answer another conversation;
/// dropped, the model would answer the bare input, so they are refused like
/// `previous_response_id`, saying what to send instead.
#[test]
fn stored_prompts_and_conversations_are_refused_not_dropped() {
    for (field, value, advice) in [
        (
            "prompt",
            json!({"id": "pmpt_123", "version": "2"}),
            "`instructions`",
        ),
        (
            "conversation",
            json!("conv_123"),
            "whole conversation in `input`",
        ),
        (
            "conversation",
            json!({"id": "conv_123"}),
            "an OpenAI account",
        ),
    ] {
        let mut req = json!({"model": "m", "input": "hi"});
        req[field] = value;
        for err in [
            responses_to_chat_request(&req).unwrap_err(),
            responses_to_messages_request(&req, 100).unwrap_err(),
        ] {
            assert_eq!(err.param, field);
            assert!(err.message.contains(advice), "{}", err.message);
        }
    }
    let nulls = json!({"model": "m", "input": "hi", "prompt": null, "conversation": null});
    responses_to_chat_request(&nulls).unwrap();
}
