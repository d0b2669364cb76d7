//! The body checks and translation on whole requests and answers.

use super::*;
use serde_json::json;

fn check(raw: &str, client: Wire, upstream: Wire, model: &str, stream: bool) -> bool {
    let body: Value = serde_json::from_str(raw).unwrap_or_default();
    passes_through(raw.as_bytes(), &body, client, upstream, model, stream)
}

#[test]
fn a_byte_order_mark_or_utf16_is_named() {
    let json = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(json.as_bytes());
    let err = parse_body(Endpoint::ChatCompletions, &bom).unwrap_err();
    assert!(err.message.contains("byte order mark"), "{}", err.message);
    let utf16: Vec<u8> = json.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let err = parse_body(Endpoint::ChatCompletions, &utf16).unwrap_err();
    assert!(err.message.contains("UTF-16"), "{}", err.message);
    assert!(parse_body(Endpoint::ChatCompletions, json.as_bytes()).is_ok());
}

#[test]
fn a_model_name_is_a_short_string() {
    let body = |model: &str| {
        format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
    };
    let longest = "m".repeat(MAX_MODEL_LEN);
    assert!(parse_body(Endpoint::ChatCompletions, body(&longest).as_bytes()).is_ok());
    let err = parse_body(
        Endpoint::ChatCompletions,
        body(&format!("{longest}m")).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("model"));
    assert!(err.message.contains("257 bytes"), "{}", err.message);
    assert!(parse_body(Endpoint::ChatCompletions, body(" ").as_bytes()).is_err());
}

#[test]
fn unchanged_bodies_pass_through_and_others_are_rewritten() {
    let chat = r#"{"model":"m","messages":[{"role":"user","content":"say \"model\""}]}"#;
    assert!(check(chat, Wire::Chat, Wire::Chat, "m", false));
    // Another model (alias), another wire, a chat stream without usage: rewritten.
    assert!(!check(chat, Wire::Chat, Wire::Chat, "m-2024", false));
    assert!(!check(chat, Wire::Chat, Wire::Messages, "m", false));
    assert!(!check(chat, Wire::Chat, Wire::Chat, "m", true));
    let with_usage =
        r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    assert!(check(with_usage, Wire::Chat, Wire::Chat, "m", true));
    // Anthropic streams always carry usage.
    let messages = r#"{"model":"m","stream":true,"max_tokens":5,"messages":[]}"#;
    assert!(check(messages, Wire::Messages, Wire::Messages, "m", true));
    // A duplicate key is never passed on as it is: the provider might read the other one.
    let twice = r#"{"model":"cheap","messages":[],"model":"m"}"#;
    assert!(!check(twice, Wire::Chat, Wire::Chat, "m", false));
    // A cap written as a float (Python's `100.0`) goes on as the integer.
    let float = r#"{"model":"m","max_tokens":100.0,"messages":[]}"#;
    assert!(!check(float, Wire::Messages, Wire::Messages, "m", false));
    let body: Value = serde_json::from_str(float).unwrap();
    let out = translate_request(&body, Wire::Messages, Wire::Messages, "m", false).unwrap();
    assert_eq!(out["max_tokens"], json!(100));
    assert!(out["max_tokens"].is_u64());
}

#[test]
fn answers_without_what_translation_reads_are_refused() {
    let missing = |v: Value, wire| missing_for_translation(&v, wire);
    let chat_ok =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]});
    assert_eq!(missing(chat_ok, Wire::Chat), None);
    assert_eq!(missing(json!({"foo": 1}), Wire::Chat), Some("no choices"));
    assert_eq!(
        missing(json!({"choices": []}), Wire::Chat),
        Some("no choices")
    );
    assert_eq!(
        missing(json!({"choices": "x"}), Wire::Chat),
        Some("no choices")
    );
    assert_eq!(
        missing(json!({"choices": [{"delta": {}}]}), Wire::Chat),
        Some("no message in the first choice")
    );
    assert_eq!(missing(Value::Null, Wire::Chat), Some("not a JSON object"));
    let message_ok = json!({"type": "message", "content": [], "usage": {}});
    assert_eq!(missing(message_ok, Wire::Messages), None);
    assert_eq!(
        missing(json!({"foo": 1}), Wire::Messages),
        Some("not a message")
    );
    assert_eq!(
        missing(json!({"type": "message", "content": null}), Wire::Messages),
        Some("no content")
    );
    assert_eq!(missing(json!({"output": []}), Wire::Responses), None);
    assert_eq!(
        missing(json!([1]), Wire::Responses),
        Some("not a JSON object")
    );
}

#[test]
fn usage_is_requested_on_chat_streams_keeping_the_clients_options() {
    let body = serde_json::json!({"model": "a", "stream": true,
        "stream_options": {"include_obfuscation": false}, "messages": []});
    let out = translate_request(&body, Wire::Chat, Wire::Chat, "b", true).unwrap();
    assert_eq!(out["model"], "b");
    assert_eq!(
        out["stream_options"],
        serde_json::json!({"include_obfuscation": false, "include_usage": true})
    );
    let bare = serde_json::json!({"model": "a", "stream": true, "messages": []});
    let out = translate_request(&bare, Wire::Chat, Wire::Chat, "a", true).unwrap();
    assert_eq!(
        out["stream_options"],
        serde_json::json!({"include_usage": true})
    );
}

#[test]
fn responses_format_errors_name_the_responses_field() {
    let body = json!({"model": "m", "input": "hi", "text": {"format": {
        "type": "json_schema", "name": "x", "schema": {"type": "array"}}}});
    let err = translate_request(&body, Wire::Responses, Wire::Messages, "m", false).unwrap_err();
    assert_eq!(err.param, "text.format.schema.type");
    assert!(
        err.message.starts_with("`text.format.schema.type` must be"),
        "{}",
        err.message
    );
}

#[test]
fn malformed_messages_are_refused_before_any_provider_sees_them() {
    let refused = |endpoint, body: Value| {
        parse_body(endpoint, body.to_string().as_bytes())
            .map(|_| ())
            .map_err(|e| (e.param.unwrap_or_default(), e.message))
    };
    let chat = |messages: Value| json!({"model": "m", "messages": messages});
    let user = json!({"role": "user", "content": "hi"});
    for (body, param, says) in [
        (
            chat(json!([null])),
            "messages[0]",
            "a message object; got null",
        ),
        (chat(json!([user, 5])), "messages[1]", "got 5"),
        (
            chat(json!([{"content": "hi"}])),
            "messages[0].role",
            "needs a role",
        ),
        (
            chat(json!([{"role": 1, "content": "hi"}])),
            "messages[0].role",
            "a string",
        ),
        (
            chat(json!([{"role": "", "content": "hi"}])),
            "messages[0].role",
            "a chat role",
        ),
        (
            chat(json!([{"role": "user", "content": 5}])),
            "messages[0].content",
            "got 5",
        ),
        (
            chat(json!([{"role": "user", "content": ["hi"]}])),
            "messages[0].content[0]",
            "an object",
        ),
        (
            json!({"model": "m", "max_tokens": "lots", "messages": [user]}),
            "max_tokens",
            "whole number",
        ),
        (
            json!({"model": "m", "tools": {"a": 1}, "messages": [user]}),
            "tools",
            "an array of tools",
        ),
        (
            json!({"model": "m", "tools": ["f"], "messages": [user]}),
            "tools[0]",
            "an object",
        ),
    ] {
        let (p, message) = refused(Endpoint::ChatCompletions, body.clone()).unwrap_err();
        assert_eq!(p, param, "{body}");
        assert!(message.contains(says), "{body}: {message}");
    }
    let messages = |messages: Value| json!({"model": "m", "max_tokens": 5, "messages": messages});
    for (body, param) in [
        (
            messages(json!([{"role": "developer", "content": "x"}])),
            "messages[0].role",
        ),
        (messages(json!([{"role": "user"}])), "messages[0].content"),
        (
            messages(json!([{"role": "user", "content": 3}])),
            "messages[0].content",
        ),
        (
            messages(json!([{"role": "user", "content": [{"text": "x"}]}])),
            "messages[0].content[0].type",
        ),
        (
            messages(json!([{"role": "user", "content": ["x"]}])),
            "messages[0].content[0]",
        ),
    ] {
        for endpoint in [Endpoint::Messages, Endpoint::CountTokens] {
            assert_eq!(
                refused(endpoint, body.clone()).unwrap_err().0,
                param,
                "{body}"
            );
        }
    }
    for (body, param) in [
        (json!({"model": "m", "input": null}), "input"),
        (json!({"model": "m", "input": 5}), "input"),
        (json!({"model": "m", "input": ["x"]}), "input[0]"),
        (
            json!({"model": "m", "input": "x", "max_output_tokens": -1}),
            "max_output_tokens",
        ),
    ] {
        assert_eq!(
            refused(Endpoint::Responses, body.clone()).unwrap_err().0,
            param,
            "{body}"
        );
    }
    // What real clients send passes: null options, tool turns, content parts and blocks.
    let ok = [
        (
            Endpoint::ChatCompletions,
            json!({"model": "m", "max_tokens": null, "tools": null, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"}]}),
        ),
        (
            Endpoint::Messages,
            json!({"model": "m", "max_tokens": 9, "tools": [{"name": "f", "input_schema": {}}], "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}]}]}),
        ),
        (
            Endpoint::Responses,
            json!({"model": "m", "input": [{"role": "user", "content": "hi"}, {"type": "function_call_output", "call_id": "c", "output": "42"}]}),
        ),
        (
            Endpoint::Responses,
            json!({"model": "m", "input": "hi", "max_output_tokens": 64}),
        ),
    ];
    for (endpoint, body) in ok {
        assert_eq!(refused(endpoint, body.clone()), Ok(()), "{body}");
    }
}

#[test]
fn deep_json_is_called_deep_not_invalid() {
    let deep = format!(
        "{{\"model\":\"m\",\"x\":{}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let err = parse_body(Endpoint::ChatCompletions, deep.as_bytes()).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("body"));
    assert_eq!(
        err.message,
        "the JSON is nested deeper than 128 levels; flatten the request"
    );
    // Half of a surrogate pair (a string cut inside an emoji) is named as such.
    for cut in [r#""ab\ud83d""#, r#""ab\ud83dcd""#, r#""\ude00""#] {
        let raw = format!(r#"{{"model":"m","messages":[{{"role":"user","content":{cut}}}]}}"#);
        let err = parse_body(Endpoint::ChatCompletions, raw.as_bytes()).unwrap_err();
        assert!(err.message.contains("surrogate"), "{cut}: {}", err.message);
    }
    let err = parse_body(Endpoint::ChatCompletions, b"{\"model\":").unwrap_err();
    assert!(err.message.contains("not valid JSON"), "{}", err.message);
}

#[test]
fn messages_max_tokens_fits_u32() {
    let raw =
        br#"{"model":"m","max_tokens":4294967296,"messages":[{"role":"user","content":"x"}]}"#;
    let err = parse_body(Endpoint::Messages, raw).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("max_tokens"));
    assert!(
        err.message.contains("from 1 to 4294967295"),
        "{}",
        err.message
    );
}

/// A Messages request holding a thinking block the gateway made from a chat provider's
/// reasoning (the conversation moved from a DeepSeek model to a Claude one) is rewritten for
/// an Anthropic account without it: Anthropic would refuse its signature.
#[test]
fn the_gateways_thinking_blocks_never_reach_an_anthropic_account() {
    let raw = r#"{"model":"m","max_tokens":5,"messages":[
        {"role":"user","content":"hi"},
        {"role":"assistant","content":[
            {"type":"thinking","thinking":"hmm","signature":"aicarpool.chat.reasoning_content"},
            {"type":"thinking","thinking":"claude","signature":"EqQBCgIYAhIM"},
            {"type":"text","text":"hello"}]},
        {"role":"user","content":"again"}]}"#;
    for wire in [Wire::Messages, Wire::CountTokens] {
        assert!(!check(raw, wire, wire, "m", false));
        let body: Value = serde_json::from_str(raw).unwrap();
        let out = translate_request(&body, wire, wire, "m", false).unwrap();
        assert_eq!(
            out["messages"][1]["content"],
            json!([{"type":"thinking","thinking":"claude","signature":"EqQBCgIYAhIM"},
                   {"type":"text","text":"hello"}])
        );
    }
    let claude_only = raw.replace("aicarpool.chat.reasoning_content", "EqQBCgIYAhIN");
    assert!(check(
        &claude_only,
        Wire::Messages,
        Wire::Messages,
        "m",
        false
    ));
}

/// The same for a Responses reasoning item the gateway made, on its way to an OpenAI account.
#[test]
fn the_gateways_reasoning_items_never_reach_an_openai_account() {
    let raw = r#"{"model":"m","input":[{"role":"user","content":"hi"},
        {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"hmm"}],
         "encrypted_content":"aicarpool.chat.reasoning_content"},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"yo"}]}]}"#;
    assert!(!check(raw, Wire::Responses, Wire::Responses, "m", false));
    let body: Value = serde_json::from_str(raw).unwrap();
    let out = translate_request(&body, Wire::Responses, Wire::Responses, "m", false).unwrap();
    assert_eq!(out["input"].as_array().unwrap().len(), 2);
    assert_eq!(out["input"][1]["role"], "assistant");
    let openai = raw.replace("aicarpool.chat.reasoning_content", "gAAAAABo");
    assert!(check(&openai, Wire::Responses, Wire::Responses, "m", false));
}
