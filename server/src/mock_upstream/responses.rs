//! `POST /v1/responses` in the OpenAI Responses wire format, whole or as typed events with
//! sequence numbers from `response.created` to `response.completed`; and the routes of the
//! responses it stored (retrieve, delete, input items, cancel).

use serde_json::{Value, json};

use super::openai::{model, tool_choice};
use super::service::{ApiError, Reply};
use super::state::{Shared, StoredResponse};
use super::stream::{Piece, sse};
use super::tokens::{
    Answer, Prompt, Usage, answer, argument_fragments, echoed_text, text_of, unix_now,
};

fn prompt(body: &Value) -> Prompt {
    let items: Vec<Value> = match body.get("input") {
        Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let role = |item: &Value| {
        item.get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut system: Vec<String> = body
        .get("instructions")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    let mut others = Vec::new();
    for item in &items {
        if matches!(role(item).as_str(), "system" | "developer") {
            system.push(text_of(item.get("content").unwrap_or(&Value::Null)));
        } else {
            others.push(item);
        }
    }
    let system = system.join(" ");
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // After tool calls the reply echoes their outputs, else the last user message.
    let is_output = |i: &Value| {
        i.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("call_output"))
    };
    let outputs: Vec<String> = items
        .iter()
        .rev()
        .take_while(|i| is_output(i))
        .map(text_of)
        .collect();
    let last_user_text = echoed_text(outputs, || {
        items
            .iter()
            .rev()
            .find(|i| role(i) == "user")
            .map(|i| text_of(i.get("content").unwrap_or(&Value::Null)))
            .unwrap_or_default()
    });
    Prompt {
        total_words: Prompt::count(&system, &others, &tools),
        system,
        last_user_text,
        ends_with_user_text: items.last().is_some_and(|i| role(i) == "user"),
        tools: tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        tool_choice: tool_choice(body),
        max_tokens: body.get("max_output_tokens").and_then(Value::as_u64),
        cache_requested: body.get("prompt_cache_key").is_some(),
    }
}

/// Answers `POST /v1/responses`.
pub(crate) fn create(shared: &Shared, body: &Value) -> Result<Reply, ApiError> {
    let model = model(body)?;
    // As OpenAI: a conversation continues only from a response this provider stored.
    match body.get("previous_response_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(previous)) if shared.has_response(previous) => {}
        Some(previous) => {
            let shown = previous
                .as_str()
                .map_or_else(|| previous.to_string(), str::to_owned);
            return Err(ApiError::invalid(
                "previous_response_id",
                format!("Previous response with id '{shown}' not found."),
            ));
        }
    }
    let prompt = prompt(body);
    let (answer, usage) = answer(&prompt, |system| shared.cache_hit(system));
    let id = format!("resp_mock{}", shared.next_id());
    let store = body.get("store") != Some(&Value::Bool(false));
    // OpenAI's ids: `msg_…` for a message item, `fc_…` for a function call.
    let item_id = match &answer {
        Answer::Text { .. } => format!("msg_mock{}", shared.next_id()),
        Answer::ToolCall { .. } => format!("fc_mock{}", shared.next_id()),
    };
    let call_id = format!("call_mock{}", shared.next_id());
    let created = unix_now();
    let truncated = matches!(
        answer,
        Answer::Text {
            truncated: true,
            ..
        }
    );
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": created, "status": status,
            "error": null,
            "incomplete_details": if status == "incomplete" {
                json!({"reason": "max_output_tokens"})
            } else {
                Value::Null
            },
            "instructions": body.get("instructions").cloned().unwrap_or(Value::Null),
            "max_output_tokens": body.get("max_output_tokens").cloned().unwrap_or(Value::Null),
            "model": model, "output": output, "parallel_tool_calls": true,
            "previous_response_id": body.get("previous_response_id").cloned().unwrap_or(Value::Null),
            "reasoning": {"effort": null, "summary": null}, "store": store, "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice").cloned().unwrap_or_else(|| json!("auto")),
            "tools": body.get("tools").cloned().unwrap_or_else(|| json!([])),
            "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null, "metadata": {},
        })
    };
    let done_item = match &answer {
        Answer::Text { text, .. } => json!({
            "id": item_id, "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }),
        Answer::ToolCall { name, arguments } => json!({
            "id": item_id, "type": "function_call", "status": "completed",
            "arguments": arguments, "call_id": call_id, "name": name,
        }),
    };
    let final_status = if truncated { "incomplete" } else { "completed" };
    let finished = response(final_status, json!([done_item]), usage_json(&usage));
    if store {
        let input_items = input_items(shared, body.get("input"));
        shared.store_response(
            &id,
            StoredResponse {
                response: finished.clone(),
                input_items,
            },
        );
    }
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Ok(Reply::Json(finished));
    }

    let mut sequence = 0u64;
    let mut event = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(sequence);
        sequence += 1;
        sse(Some(kind), &data)
    };
    let started = response("in_progress", json!([]), Value::Null);
    let mut pieces = vec![
        Piece::Head(event("response.created", json!({"response": started}))),
        Piece::Head(event("response.in_progress", json!({"response": started}))),
    ];
    let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
    let with = |extra: Value| {
        let mut value = at.clone();
        if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        value
    };
    match &answer {
        Answer::Text { text, .. } => {
            let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
            let item = json!({"id": item_id, "type": "message", "status": "in_progress",
                              "role": "assistant", "content": []});
            pieces.push(Piece::Head(event(
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            )));
            pieces.push(Piece::Head(event(
                "response.content_part.added",
                with(json!({"part": part("")})),
            )));
            for word in Answer::deltas(text) {
                pieces.push(Piece::Delta(event(
                    "response.output_text.delta",
                    with(json!({"delta": word, "logprobs": []})),
                )));
            }
            pieces.push(Piece::Tail(event(
                "response.output_text.done",
                with(json!({"text": text, "logprobs": []})),
            )));
            pieces.push(Piece::Tail(event(
                "response.content_part.done",
                with(json!({"part": part(text)})),
            )));
        }
        Answer::ToolCall { name, arguments } => {
            let item = json!({"id": item_id, "type": "function_call", "status": "in_progress",
                              "arguments": "", "call_id": call_id, "name": name});
            pieces.push(Piece::Head(event(
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            )));
            for fragment in argument_fragments(arguments) {
                pieces.push(Piece::Delta(event(
                    "response.function_call_arguments.delta",
                    json!({"item_id": item_id, "output_index": 0, "delta": fragment}),
                )));
            }
            pieces.push(Piece::Tail(event(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": 0, "name": name,
                       "arguments": arguments}),
            )));
        }
    }
    pieces.push(Piece::Tail(event(
        "response.output_item.done",
        json!({"output_index": 0, "item": done_item}),
    )));
    let last = if truncated {
        "response.incomplete"
    } else {
        "response.completed"
    };
    pieces.push(Piece::Tail(event(last, json!({"response": finished}))));
    Ok(Reply::Stream(pieces))
}

/// The request's `input` as the items `GET /v1/responses/{id}/input_items` lists: a string is
/// one user message; items without an id get one.
fn input_items(shared: &Shared, input: Option<&Value>) -> Vec<Value> {
    let items = match input {
        Some(Value::String(text)) => vec![json!({
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}],
        })],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|mut item| {
            if item.is_object() && item.get("id").is_none() {
                item["id"] = json!(format!("msg_mock{}", shared.next_id()));
            }
            item
        })
        .collect()
}

/// Answers the stored-response routes, as OpenAI does for responses it stored:
/// `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}`,
/// `GET /v1/responses/{id}/input_items` (newest first unless `order=asc`; `limit`) and
/// `POST /v1/responses/{id}/cancel` (only background responses can be cancelled: a 400).
pub(crate) fn stored(
    shared: &Shared,
    method: &http::Method,
    path: &str,
    query: Option<&str>,
) -> Result<Reply, ApiError> {
    let rest = path
        .trim_end_matches('/')
        .trim_start_matches("/v1/responses/");
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let not_found = || ApiError {
        status: 404,
        message: format!("Response with id '{id}' not found."),
        param: None,
    };
    let stored = shared.stored_response(id).ok_or_else(not_found)?;
    match (method.as_str(), action) {
        ("GET", "") => Ok(Reply::Json(stored.response)),
        ("DELETE", "") => {
            shared.delete_response(id);
            Ok(Reply::Json(
                json!({"id": id, "object": "response", "deleted": true}),
            ))
        }
        ("GET", "input_items") => {
            let param = |name: &str| {
                query.and_then(|q| {
                    q.split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_owned())
                })
            };
            let mut items = stored.input_items;
            if param("order").as_deref() != Some("asc") {
                items.reverse();
            }
            let limit = param("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(20)
                .clamp(1, 100);
            let has_more = items.len() > limit;
            items.truncate(limit);
            Ok(Reply::Json(json!({
                "object": "list",
                "first_id": items.first().and_then(|i| i.get("id")),
                "last_id": items.last().and_then(|i| i.get("id")),
                "has_more": has_more,
                "data": items,
            })))
        }
        ("POST", "cancel") => Err(ApiError::invalid(
            "response_id",
            "Only responses created with background=true can be cancelled.",
        )),
        _ => Err(not_found()),
    }
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.input + usage.output,
    })
}
