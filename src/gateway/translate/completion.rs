//! Whole (non-streamed) responses: Anthropic message <-> OpenAI chat completion.

use serde_json::{Value, json};

use super::{
    chat_reasoning, derive_id, finish_reason_from_stop, lenient_arguments, stop_reason_of_answer,
    tool_id, unix_now,
};
use crate::gateway::usage::Usage;

/// An Anthropic message as a chat completion. `model` is the name the client asked for.
pub fn messages_response_to_chat(resp: &Value, model: &str) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in resp["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or("")),
            Some("thinking") => reasoning.push_str(block["thinking"].as_str().unwrap_or("")),
            Some("tool_use") => {
                let arguments = serde_json::to_string(&block["input"]).unwrap_or_default();
                calls.push(json!({ "id": block["id"], "type": "function",
                    "function": { "name": block["name"], "arguments": arguments } }));
            }
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { text.into() },
        "refusal": null,
    });
    if !reasoning.is_empty() {
        message["reasoning_content"] = reasoning.into();
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = Usage::from_messages(resp).unwrap_or_default();
    json!({
        "id": derive_id(resp["id"].as_str(), "chatcmpl-"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason_from_stop(resp["stop_reason"].as_str()),
        }],
        "usage": usage.to_chat_json(),
    })
}

/// A chat completion (its first choice) as an Anthropic message. A refusal is its text with
/// `stop_reason` `refusal`; the provider's reasoning is a `thinking` block first.
pub fn chat_response_to_messages(resp: &Value, model: &str) -> Value {
    let choice = &resp["choices"][0];
    let msg = &choice["message"];
    let mut content = Vec::new();
    if let Some((field, reasoning)) = chat_reasoning::of(msg) {
        content.push(json!({ "type": "thinking", "thinking": reasoning,
            "signature": chat_reasoning::signature(field) }));
    }
    let text = match &msg["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    let refusal = msg["refusal"].as_str().filter(|r| !r.is_empty());
    if let Some(refusal) = refusal {
        content.push(json!({ "type": "text", "text": refusal }));
    }
    let called_tools = msg["tool_calls"]
        .as_array()
        .is_some_and(|calls| !calls.is_empty());
    for call in msg["tool_calls"].as_array().into_iter().flatten() {
        let input = match &call["function"]["arguments"] {
            Value::String(s) => lenient_arguments(s),
            v @ Value::Object(_) => v.clone(),
            _ => json!({}),
        };
        content.push(json!({
            "type": "tool_use",
            "id": tool_id(call["id"].as_str()),
            "name": call["function"]["name"],
            "input": input,
        }));
    }
    let usage = Usage::from_chat(resp).unwrap_or_default();
    json!({
        "id": derive_id(resp["id"].as_str(), "msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_of_answer(
            choice["finish_reason"].as_str(),
            called_tools,
            refusal.is_some(),
        ),
        "stop_sequence": null,
        "usage": usage.to_messages_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_tool_use_message_becomes_chat_completion() {
        let resp = json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                 "name": "get_weather", "input": {"location": "San Francisco, CA"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 2048, "output_tokens": 89}
        });
        let out = messages_response_to_chat(&resp, "sonnet");
        assert_eq!(out["id"], "chatcmpl-01XFDUDYJgAACzvnptvVoYEL");
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["model"], "sonnet");
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me check.");
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function":
                {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\"}"}}])
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 2520, "completion_tokens": 89, "total_tokens": 2609,
                   "prompt_tokens_details": {"cached_tokens": 2048}})
        );
        let end = json!({"id": "msg_2", "content": [], "stop_reason": "max_tokens"});
        assert_eq!(
            messages_response_to_chat(&end, "m")["choices"][0]["finish_reason"],
            "length"
        );
    }

    #[test]
    fn chat_completion_becomes_anthropic_message() {
        let resp = json!({
            "id": "chatcmpl-BcQ8ko2nz9B7CRvV0uVbcowidHpQU", "object": "chat.completion",
            "created": 1748496646, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                "message": {"role": "assistant", "content": null, "refusal": null,
                    "tool_calls": [{"id": "call_qOfTGgDrItLORNfC6VwUbyLL", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"location\":\"Shanghai\"}"}}]}}],
            "usage": {"prompt_tokens": 91, "completion_tokens": 14, "total_tokens": 105,
                      "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0}}
        });
        let out = chat_response_to_messages(&resp, "gpt-4o");
        assert_eq!(
            out,
            json!({
                "id": "msg_BcQ8ko2nz9B7CRvV0uVbcowidHpQU", "type": "message", "role": "assistant",
                "model": "gpt-4o",
                "content": [{"type": "tool_use", "id": "call_qOfTGgDrItLORNfC6VwUbyLL",
                             "name": "get_weather", "input": {"location": "Shanghai"}}],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 27, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 64, "output_tokens": 14}
            })
        );
        let stop = json!({"choices": [{"message": {"content": "hi"}, "finish_reason": "length"}]});
        let out = chat_response_to_messages(&stop, "m");
        assert_eq!(out["stop_reason"], "max_tokens");
        assert_eq!(out["content"], json!([{"type": "text", "text": "hi"}]));
        assert!(out["id"].as_str().unwrap().starts_with("msg_"));
    }

    /// OpenAI answers a named `tool_choice` with `finish_reason` `stop`; a tool loop reading
    /// `end_turn` would stop before running the tool.
    #[test]
    fn tool_calls_stop_for_tool_use_whatever_the_finish_reason() {
        let resp = |finish: Value| {
            json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
                "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": finish,
                "message": {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                        "arguments": "{\"city\":\"Seoul\"}"}}]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        };
        for finish in [json!("stop"), json!("tool_calls"), Value::Null] {
            let out = chat_response_to_messages(&resp(finish.clone()), "gpt-4o");
            assert_eq!(out["stop_reason"], "tool_use", "{finish}");
            assert_eq!(out["content"][0]["input"], json!({"city": "Seoul"}));
        }
        let cut = chat_response_to_messages(&resp(json!("length")), "gpt-4o");
        assert_eq!(cut["stop_reason"], "max_tokens");
    }

    /// A refusal was an empty `end_turn` answer; it is the refusal's text, stopping for
    /// `refusal` (as Anthropic's own refusals map to chat's `content_filter`).
    #[test]
    fn a_refusal_is_its_text_and_a_refusal_stop() {
        let resp = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": null,
                "refusal": "I cannot help with that."}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
        let out = chat_response_to_messages(&resp, "gpt-4o");
        assert_eq!(
            out["content"],
            json!([{"type": "text", "text": "I cannot help with that."}])
        );
        assert_eq!(out["stop_reason"], "refusal");
        let plain = json!({"choices": [{"finish_reason": "stop",
            "message": {"content": "hi", "refusal": null}}]});
        assert_eq!(
            chat_response_to_messages(&plain, "m")["stop_reason"],
            "end_turn"
        );
    }

    /// DeepSeek's thinking model (recorded shape): its `reasoning_content` is a `thinking`
    /// block before the text and the tool call, signed with the field it came in.
    #[test]
    fn chat_reasoning_is_a_thinking_block_first() {
        let resp = json!({"id": "7a5e1c0e-1a7b-4f4e-9f7e-2b0c3c1d2e3f", "object": "chat.completion",
            "created": 1764400000, "model": "deepseek-v4-pro", "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                "message": {"role": "assistant", "content": "",
                    "reasoning_content": "The user wants the weather; call get_weather.",
                    "tool_calls": [{"index": 0, "id": "call_00_x1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Hangzhou\"}"}}]}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340,
                "prompt_tokens_details": {"cached_tokens": 256},
                "completion_tokens_details": {"reasoning_tokens": 12},
                "prompt_cache_hit_tokens": 256, "prompt_cache_miss_tokens": 44}});
        let out = chat_response_to_messages(&resp, "deepseek-v4-pro");
        assert_eq!(
            out["content"],
            json!([
                {"type": "thinking", "thinking": "The user wants the weather; call get_weather.",
                 "signature": "aicarpool.chat.reasoning_content"},
                {"type": "tool_use", "id": "call_00_x1", "name": "get_weather",
                 "input": {"city": "Hangzhou"}}
            ])
        );
        assert_eq!(out["stop_reason"], "tool_use");
    }
}
