//! Translation between the three wire formats the proxy speaks: OpenAI Chat Completions,
//! Anthropic Messages and OpenAI Responses, for requests, whole responses and streams.
//!
//! Everything works on `serde_json::Value` so unknown-but-harmless fields cost nothing.
//! Responses <-> Anthropic is the composition of Responses <-> Chat and Chat <-> Messages:
//! requests go through `responses_to_messages_request` (the chat step keeping tool outputs'
//! images for Anthropic's tool results, then `chat_to_messages_request`); stream events
//! go through `MessagesToChatStream` (built with `include_usage = true`) and then
//! `ChatToResponsesStream`.

mod answer_shape;
pub(crate) mod chat_reasoning;
mod chat_to_messages;
mod chat_to_messages_stream;
mod chat_to_responses_stream;
mod check;
mod completion;
mod legacy;
mod messages_to_chat;
mod messages_to_chat_stream;
mod reasoning;
mod responses;
mod responses_object;
mod structured;
mod tools;

pub use answer_shape::{AnswerShape, JSON_TOOL, messages_response_to_chat_shaped};
pub use chat_to_messages::chat_to_messages_request;
pub use chat_to_messages_stream::ChatToMessagesStream;
pub use chat_to_responses_stream::ChatToResponsesStream;
pub(crate) use check::token_cap;
pub use check::{Dialect as BodyDialect, request_shape};
pub use completion::{chat_response_to_messages, messages_response_to_chat};
pub use messages_to_chat::messages_to_chat_request;
pub use messages_to_chat_stream::MessagesToChatStream;
pub use reasoning::translated_output_cap;
pub use responses::{responses_to_chat_request, responses_to_messages_request};
pub use responses_object::{chat_response_to_responses, responses_error_event};

use rand::Rng;
use serde_json::Value;

/// A request the translator can't express upstream; the caller answers 400 naming `param`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// What is wrong, safe to show the client.
    pub message: String,
    /// The offending field as a path, e.g. `messages[2].tool_calls[0].function.arguments`.
    pub param: String,
}

impl TranslateError {
    pub(crate) fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: param.into(),
        }
    }
}

/// `prefix` followed by 24 random alphanumerics, the shape of OpenAI and Anthropic ids.
pub(crate) fn random_id(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// Re-prefixes an upstream id (`msg_X` -> `chatcmpl-X`) so retries and logs line up, or
/// makes a fresh one when upstream sent none.
pub(crate) fn derive_id(upstream: Option<&str>, prefix: &str) -> String {
    let core = upstream
        .map(|id| {
            ["chatcmpl-", "msg_", "resp_"]
                .iter()
                .find_map(|p| id.strip_prefix(p))
                .unwrap_or(id)
        })
        .map(sanitize_id)
        .filter(|id| !id.is_empty());
    match core {
        Some(core) => format!("{prefix}{core}"),
        None => random_id(prefix),
    }
}

/// Anthropic requires tool ids to match `^[a-zA-Z0-9_-]+$`; some OpenAI-compatible
/// providers use other characters. The mapping is deterministic so the id a client echoes
/// back in its tool result maps to the same id the tool call got.
pub(crate) fn sanitize_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A tool id from upstream, made Anthropic-safe, or a fresh `toolu_` id if missing.
pub(crate) fn tool_id(upstream: Option<&str>) -> String {
    match upstream.map(sanitize_id).filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => random_id("toolu_"),
    }
}

/// Anthropic `stop_reason` -> chat `finish_reason`.
pub(crate) fn finish_reason_from_stop(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Chat `finish_reason` -> Anthropic `stop_reason`.
pub(crate) fn stop_reason_from_finish(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// The Anthropic `stop_reason` of a chat answer: `refusal` when the model refused (chat's
/// `refusal` text), `tool_use` whenever it called tools and was not cut short (OpenAI says
/// `stop` when `tool_choice` named the function, and a tool loop would end there), else
/// what `finish_reason` maps to.
pub(crate) fn stop_reason_of_answer(
    finish_reason: Option<&str>,
    called_tools: bool,
    refused: bool,
) -> &'static str {
    if refused {
        return "refusal";
    }
    match stop_reason_from_finish(finish_reason) {
        "end_turn" if called_tools => "tool_use",
        other => other,
    }
}

/// Seconds since the Unix epoch, for the `created` fields clients display.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The text of a content value that is either a string or an array of text parts
/// (`{"type":"text"|"input_text"|"output_text","text":…}`); other parts are skipped.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Parses tool-call arguments from upstream output. A provider that streams broken JSON
/// must not break the client's response, so anything but an object becomes `{}`.
pub(crate) fn lenient_arguments(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(serde_json::Map::new()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gateway::sse::SseEvent;
    use messages_to_chat_stream::tests::{
        ANTHROPIC_STREAM, NO_ARGUMENTS_STREAM, parse_in_irregular_chunks,
    };
    use serde_json::json;

    /// A one-turn chat request to model `m` with the fields of `extra` added.
    pub(crate) fn chat_with(extra: Value) -> Value {
        let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        req
    }

    fn decode(events: &[SseEvent]) -> Vec<Value> {
        events
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    #[test]
    fn ids_are_rederived_and_sanitized() {
        assert_eq!(derive_id(Some("msg_01AbC"), "chatcmpl-"), "chatcmpl-01AbC");
        assert_eq!(derive_id(Some("chatcmpl-x.y"), "msg_"), "msg_x_y");
        let fresh = derive_id(None, "resp_");
        assert!(fresh.starts_with("resp_") && fresh.len() == 29);
        assert_eq!(tool_id(Some("call:1/a")), "call_1_a");
        assert!(tool_id(Some("")).starts_with("toolu_"));
    }

    #[test]
    fn stop_reasons_map_both_ways() {
        assert_eq!(finish_reason_from_stop(Some("end_turn")), "stop");
        assert_eq!(finish_reason_from_stop(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason_from_stop(Some("max_tokens")), "length");
        assert_eq!(finish_reason_from_stop(Some("tool_use")), "tool_calls");
        assert_eq!(stop_reason_from_finish(Some("length")), "max_tokens");
        assert_eq!(stop_reason_from_finish(Some("tool_calls")), "tool_use");
        assert_eq!(stop_reason_from_finish(None), "end_turn");
    }

    #[test]
    fn anthropic_stream_chained_into_responses_events() {
        let req = json!({"model": "codex-sonnet", "instructions": "Be Codex.", "stream": true});
        let mut to_chat = MessagesToChatStream::new("codex-sonnet", true);
        let mut to_resp = ChatToResponsesStream::new(&req);
        let mut out = Vec::new();
        for ev in parse_in_irregular_chunks(ANTHROPIC_STREAM) {
            for chunk in to_chat.on_event(&ev) {
                out.extend(to_resp.on_event(&chunk));
            }
        }
        for chunk in to_chat.finish() {
            out.extend(to_resp.on_event(&chunk));
        }
        out.extend(to_resp.finish());
        let v = decode(&out);
        let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (i, e) in v.iter().enumerate() {
            assert_eq!(e["sequence_number"], i as u64);
            assert_eq!(out[i].event.as_deref(), e["type"].as_str());
        }
        assert_eq!(v[0]["response"]["id"], "resp_014p7gG3wDgGV9EUtLvnow3U");
        assert_eq!(v[0]["response"]["status"], "in_progress");
        assert_eq!(v[4]["delta"], "Okay, let's check the weather");
        assert_eq!(v[4]["item_id"], v[2]["item"]["id"]);
        assert_eq!(v[8]["output_index"], 1);
        assert_eq!(v[8]["item"]["call_id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
        assert_eq!(v[8]["item"]["name"], "get_weather");
        assert_eq!(v[11]["arguments"], "{\"location\": \"San Francisco, CA\"}");
        let done = &v[13]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["instructions"], "Be Codex.");
        assert_eq!(done["output"].as_array().unwrap().len(), 2);
        assert_eq!(
            done["output"][1]["arguments"],
            "{\"location\": \"San Francisco, CA\"}"
        );
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 1496, "input_tokens_details": {"cached_tokens": 1024},
                   "output_tokens": 89, "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": 1585})
        );
        assert_eq!(to_chat.usage().cache_read_tokens, 1024);
    }

    /// A Responses client sees a call without parameters with arguments "{}" in the delta,
    /// the `.done` event and the item, as from OpenAI.
    #[test]
    fn a_call_without_arguments_reaches_responses_clients_as_an_empty_object() {
        let req = json!({"model": "m", "stream": true});
        let mut to_chat = MessagesToChatStream::new("m", true);
        let mut to_resp = ChatToResponsesStream::new(&req);
        let mut out = Vec::new();
        for ev in parse_in_irregular_chunks(NO_ARGUMENTS_STREAM) {
            for chunk in to_chat.on_event(&ev) {
                out.extend(to_resp.on_event(&chunk));
            }
        }
        out.extend(to_resp.finish());
        let v = decode(&out);
        let of = |kind: &str| v.iter().find(|e| e["type"] == kind).unwrap().clone();
        assert_eq!(of("response.function_call_arguments.delta")["delta"], "{}");
        assert_eq!(
            of("response.function_call_arguments.done")["arguments"],
            "{}"
        );
        assert_eq!(of("response.output_item.done")["item"]["arguments"], "{}");
        let done = of("response.completed");
        assert_eq!(done["response"]["output"][0]["arguments"], "{}");
        assert_eq!(done["response"]["output"][0]["name"], "clock");
    }
}
