//! `POST /v1/chat/completions` in OpenAI's wire format, whole or as `chat.completion.chunk`
//! events ending in `data: [DONE]`.

use serde_json::{Value, json};

use super::service::{ApiError, Reply};
use super::state::Shared;
use super::stream::{Piece, sse};
use super::tokens::{
    Answer, Prompt, ToolChoice, Usage, answer, argument_fragments, echoed_text, text_of, unix_now,
};

/// Reads the model, or refuses as OpenAI does.
pub(crate) fn model(body: &Value) -> Result<String, ApiError> {
    match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => Ok(model.to_owned()),
        _ => Err(ApiError::invalid(
            "model",
            "you must provide a model parameter",
        )),
    }
}

/// OpenAI `tool_choice` (chat and Responses).
pub(crate) fn tool_choice(body: &Value) -> ToolChoice {
    match body.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => ToolChoice::Never,
        Some(Value::String(s)) if s == "required" => ToolChoice::Any,
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .or_else(|| choice.get("name"))
            .and_then(Value::as_str)
            .map_or(ToolChoice::Any, |name| ToolChoice::Named(name.to_owned())),
        _ => ToolChoice::Auto,
    }
}

/// Answers a chat completion request.
pub(crate) fn chat_completions(shared: &Shared, body: &Value) -> Result<Reply, ApiError> {
    let model = model(body)?;
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(ApiError::invalid(
            "messages",
            "Missing required parameter: 'messages'.",
        ));
    };
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let system = messages
        .iter()
        .filter(|m| matches!(role(m), "system" | "developer"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .join(" ");
    let thinks = messages.iter().any(|m| {
        role(m) == "user" && text_of(m.get("content").unwrap_or(&Value::Null)).contains(THINK)
    });
    if thinks
        && let Some(i) = messages.iter().position(|m| {
            role(m) == "assistant"
                && m.get("tool_calls")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty())
                && m.get("reasoning_content")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        })
    {
        // DeepSeek's words for it.
        return Err(ApiError::invalid(
            "messages",
            format!(
                "Missing `reasoning_content` field in the assistant message at message index {i}. \
                 The reasoning_content of a turn with tool calls must be passed back to the API."
            ),
        ));
    }
    let others: Vec<&Value> = messages
        .iter()
        .filter(|m| !matches!(role(m), "system" | "developer"))
        .collect();
    // After tool calls the reply echoes their results, else the last user message.
    let results: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| role(m) == "tool")
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .collect();
    let last_user_text = echoed_text(results, || {
        messages
            .iter()
            .rev()
            .find(|m| role(m) == "user")
            .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
            .unwrap_or_default()
    });
    let prompt = Prompt {
        total_words: Prompt::count(&system, &others, &tools),
        system,
        last_user_text,
        ends_with_user_text: messages.last().is_some_and(|m| role(m) == "user"),
        tools: tools
            .iter()
            .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        tool_choice: tool_choice(body),
        max_tokens: body
            .get("max_completion_tokens")
            .or_else(|| body.get("max_tokens"))
            .and_then(Value::as_u64),
        cache_requested: body.get("prompt_cache_key").is_some(),
    };
    let (answer, usage) = answer(&prompt, |system| shared.cache_hit(system));
    let id = format!("chatcmpl-mock{}", shared.next_id());
    let call_id = format!("call_mock{}", shared.next_id());
    let created = unix_now();
    let reasoning = thinks.then(|| format!("mock thinking about {}", prompt.last_user_text));
    let finish = match &answer {
        Answer::ToolCall { .. } => "tool_calls",
        Answer::Text {
            truncated: true, ..
        } => "length",
        Answer::Text { .. } => "stop",
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let mut message = match &answer {
            Answer::Text { text, .. } => {
                json!({"role": "assistant", "content": text, "refusal": null, "annotations": []})
            }
            Answer::ToolCall { name, arguments } => json!({
                "role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": arguments}}],
            }),
        };
        if let Some(reasoning) = &reasoning {
            message["reasoning_content"] = reasoning.as_str().into();
        }
        return Ok(Reply::Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage_json(&usage),
            "service_tier": "default", "system_fingerprint": null,
        })));
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "service_tier": "default", "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        sse(None, &chunk)
    };
    let mut pieces = Vec::new();
    if let Some(reasoning) = &reasoning {
        pieces.push(Piece::Head(chunk(
            json!({"role": "assistant", "content": null, "reasoning_content": ""}),
            None,
        )));
        for word in Answer::deltas(reasoning) {
            pieces.push(Piece::Delta(chunk(
                json!({"content": null, "reasoning_content": word}),
                None,
            )));
        }
    }
    match &answer {
        Answer::Text { text, .. } => {
            pieces.push(Piece::Head(chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                None,
            )));
            for word in Answer::deltas(text) {
                pieces.push(Piece::Delta(chunk(json!({"content": word}), None)));
            }
        }
        Answer::ToolCall { name, arguments } => {
            pieces.push(Piece::Head(chunk(
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"index": 0, "id": call_id, "type": "function",
                     "function": {"name": name, "arguments": ""}}]}),
                None,
            )));
            for fragment in argument_fragments(arguments) {
                pieces.push(Piece::Delta(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}),
                    None,
                )));
            }
        }
    }
    pieces.push(Piece::Tail(chunk(json!({}), Some(finish))));
    if include_usage {
        pieces.push(Piece::Tail(sse(
            None,
            &json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": null,
                "choices": [], "usage": usage_json(&usage),
            }),
        )));
    }
    pieces.push(Piece::Tail("data: [DONE]\n\n".into()));
    Ok(Reply::Stream(pieces))
}

/// What in a user message makes the mock think first (see the module docs).
const THINK: &str = "mock:think";

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}
