//! `POST /v1/messages` and `POST /v1/messages/count_tokens` in Anthropic's wire format, whole or
//! as named server-sent events from `message_start` to `message_stop`.

use serde_json::{Value, json};

use super::service::{ApiError, Reply};
use super::state::Shared;
use super::stream::{Piece, sse};
use super::tokens::{
    Answer, Prompt, ToolChoice, Usage, answer, argument_fragments, has_key, text_of,
};

fn required<'a>(body: &'a Value, field: &'static str) -> Result<&'a Value, ApiError> {
    body.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::invalid(field, format!("{field}: Field required")))
}

/// The request as the mock sees it; refuses what Anthropic refuses.
fn prompt(body: &Value) -> Result<(String, Prompt), ApiError> {
    let model = required(body, "model")?
        .as_str()
        .ok_or_else(|| ApiError::invalid("model", "model: Input should be a valid string"))?
        .to_owned();
    let messages = required(body, "messages")?
        .as_array()
        .ok_or_else(|| ApiError::invalid("messages", "messages: Input should be a valid list"))?;
    let system = body.get("system").map(text_of).unwrap_or_default();
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_user = |m: &Value| m.get("role").and_then(Value::as_str) == Some("user");
    let last_user = messages.iter().rev().find(|m| is_user(m));
    let ends_with_user_text = messages.last().is_some_and(|m| {
        is_user(m)
            && !m
                .get("content")
                .and_then(Value::as_array)
                .is_some_and(|parts| {
                    parts
                        .iter()
                        .any(|p| p.get("type").and_then(Value::as_str) == Some("tool_result"))
                })
    });
    let tool_choice = match body.pointer("/tool_choice/type").and_then(Value::as_str) {
        Some("none") => ToolChoice::Never,
        Some("any") => ToolChoice::Any,
        Some("tool") => body
            .pointer("/tool_choice/name")
            .and_then(Value::as_str)
            .map_or(ToolChoice::Any, |n| ToolChoice::Named(n.to_owned())),
        _ => ToolChoice::Auto,
    };
    let prompt = Prompt {
        total_words: Prompt::count(&system, &messages.iter().collect::<Vec<_>>(), &tools),
        system,
        last_user_text: last_user
            .and_then(|m| m.get("content"))
            .map(text_of)
            .unwrap_or_default(),
        ends_with_user_text,
        tools: tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        tool_choice,
        max_tokens: body.get("max_tokens").and_then(Value::as_u64),
        cache_requested: has_key(body, "cache_control"),
    };
    Ok((model, prompt))
}

/// Answers `POST /v1/messages/count_tokens`: `{"input_tokens": N}`.
pub(crate) fn count_tokens(body: &Value) -> Result<Reply, ApiError> {
    let (_, prompt) = prompt(body)?;
    Ok(Reply::Json(json!({"input_tokens": prompt.total_words})))
}

/// Answers `POST /v1/messages`.
pub(crate) fn messages(shared: &Shared, body: &Value) -> Result<Reply, ApiError> {
    let (model, prompt) = prompt(body)?;
    if prompt.max_tokens.is_none() {
        return Err(ApiError::invalid(
            "max_tokens",
            "max_tokens: Field required",
        ));
    }
    let (answer, usage) = answer(&prompt, |system| shared.cache_hit(system));
    let id = format!("msg_mock{}", shared.next_id());
    let tool_id = format!("toolu_mock{}", shared.next_id());
    let stop_reason = match &answer {
        Answer::ToolCall { .. } => "tool_use",
        Answer::Text {
            truncated: true, ..
        } => "max_tokens",
        Answer::Text { .. } => "end_turn",
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let block = match &answer {
            Answer::Text { text, .. } => json!({"type": "text", "text": text}),
            Answer::ToolCall { name, arguments } => {
                let input: Value = serde_json::from_str(arguments).unwrap_or_default();
                json!({"type": "tool_use", "id": tool_id, "name": name, "input": input})
            }
        };
        return Ok(Reply::Json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [block], "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage_json(&usage, usage.output),
        })));
    }
    let event = |name: &str, data: Value| sse(Some(name), &data);
    let mut pieces = vec![Piece::Head(event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage_json(&usage, 1),
        }}),
    ))];
    let (block, deltas): (Value, Vec<Value>) = match &answer {
        Answer::Text { text, .. } => (
            json!({"type": "text", "text": ""}),
            Answer::deltas(text)
                .into_iter()
                .map(|w| json!({"type": "text_delta", "text": w}))
                .collect(),
        ),
        Answer::ToolCall { name, arguments } => (
            json!({"type": "tool_use", "id": tool_id, "name": name, "input": {}}),
            argument_fragments(arguments)
                .into_iter()
                .map(|f| json!({"type": "input_json_delta", "partial_json": f}))
                .collect(),
        ),
    };
    pieces.push(Piece::Head(event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    )));
    pieces.push(Piece::Head(event("ping", json!({"type": "ping"}))));
    for delta in deltas {
        pieces.push(Piece::Delta(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        )));
    }
    pieces.push(Piece::Tail(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    )));
    pieces.push(Piece::Tail(event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": usage.output}}),
    )));
    pieces.push(Piece::Tail(event(
        "message_stop",
        json!({"type": "message_stop"}),
    )));
    Ok(Reply::Stream(pieces))
}

fn usage_json(usage: &Usage, output: u64) -> Value {
    json!({
        "input_tokens": usage.uncached_input(),
        "cache_creation_input_tokens": usage.cache_creation,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    })
}
