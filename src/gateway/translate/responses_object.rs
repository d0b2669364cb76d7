//! The Responses API `Response` object: built from a chat completion, and the snapshots
//! and items the Responses stream reuses.

use serde_json::{Value, json};

use super::{derive_id, random_id, text_of, unix_now};
use crate::gateway::usage::Usage;

/// The body of a Responses stream's `error` event (the stream adds `type` and
/// `sequence_number`): code, message and param at the top, as OpenAI's reference has them, and
/// again as an `error` object, as the API sends them (the OpenAI SDK raises that one).
pub fn responses_error_event(code: &str, message: &str) -> Value {
    json!({ "code": code, "message": message, "param": null,
        "error": { "type": "server_error", "code": code, "message": message, "param": null } })
}

/// A chat completion as a full Response object, echoing the settings of `req` (the
/// client's Responses request) as OpenAI does.
pub fn chat_response_to_responses(resp: &Value, req: &Value) -> Value {
    let choice = &resp["choices"][0];
    let msg = &choice["message"];
    let mut output = Vec::new();
    if let Some((field, reasoning)) = super::chat_reasoning::of(msg) {
        output.push(reasoning_item(&random_id("rs_"), reasoning, field));
    }
    let text = text_of(&msg["content"]);
    if !text.is_empty() {
        output.push(message_item(&random_id("msg_"), &text, "completed"));
    }
    if let Some(refusal) = msg["refusal"].as_str().filter(|r| !r.is_empty()) {
        output.push(refusal_item(&random_id("msg_"), refusal, "completed"));
    }
    for call in msg["tool_calls"].as_array().into_iter().flatten() {
        output.push(function_call_item(
            &random_id("fc_"),
            call["id"].as_str().unwrap_or(""),
            call.pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or(""),
            call.pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
                .unwrap_or("{}"),
            "completed",
        ));
    }
    let status = Status::from_finish(choice["finish_reason"].as_str());
    let usage = Usage::from_chat(resp).unwrap_or_default();
    let id = derive_id(resp["id"].as_str(), "resp_");
    response_object(req, &id, unix_now(), status, output, Some(usage))
}

/// How a response ended, as the Responses API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Completed,
    /// Cut short, with the `incomplete_details.reason`.
    Incomplete(&'static str),
    Failed,
}

impl Status {
    pub(crate) fn from_finish(finish_reason: Option<&str>) -> Status {
        match finish_reason {
            Some("length") => Status::Incomplete("max_output_tokens"),
            Some("content_filter") => Status::Incomplete("content_filter"),
            _ => Status::Completed,
        }
    }
}

/// An assistant `message` output item with one `output_text` part.
pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({ "id": id, "type": "message", "status": status, "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [] }] })
}

/// An assistant `message` output item with one `refusal` part: the model declined.
pub(crate) fn refusal_item(id: &str, refusal: &str, status: &str) -> Value {
    json!({ "id": id, "type": "message", "status": status, "role": "assistant",
        "content": [{ "type": "refusal", "refusal": refusal }] })
}

/// A `reasoning` output item holding a chat provider's reasoning as its summary, marked (in
/// `encrypted_content`, which clients send back as it is) with the chat field it came in.
pub(crate) fn reasoning_item(id: &str, text: &str, field: &str) -> Value {
    json!({ "id": id, "type": "reasoning",
        "summary": [{ "type": "summary_text", "text": text }],
        "encrypted_content": super::chat_reasoning::signature(field) })
}

/// A `function_call` output item.
pub(crate) fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({ "id": id, "type": "function_call", "status": status, "arguments": arguments,
        "call_id": call_id, "name": name })
}

/// The Response object, with the request's settings echoed back.
pub(crate) fn response_object(
    req: &Value,
    id: &str,
    created_at: u64,
    status: Status,
    output: Vec<Value>,
    usage: Option<Usage>,
) -> Value {
    let echo = |key: &str, default: Value| {
        req.get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let (status_str, incomplete) = match status {
        Status::InProgress => ("in_progress", Value::Null),
        Status::Completed => ("completed", Value::Null),
        Status::Incomplete(reason) => ("incomplete", json!({ "reason": reason })),
        Status::Failed => ("failed", Value::Null),
    };
    json!({
        "id": id, "object": "response", "created_at": created_at, "status": status_str,
        "background": false, "error": null, "incomplete_details": incomplete,
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "model": echo("model", Value::Null),
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", Value::Bool(true)),
        "previous_response_id": null,
        "reasoning": { "effort": req.pointer("/reasoning/effort").cloned().unwrap_or(Value::Null), "summary": null },
        "store": false,
        "temperature": echo("temperature", json!(1.0)),
        "text": echo("text", json!({ "format": { "type": "text" } })),
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_p": echo("top_p", json!(1.0)),
        "truncation": "disabled",
        "usage": usage.map_or(Value::Null, Usage::to_responses_json),
        "user": echo("user", Value::Null),
        "metadata": echo("metadata", json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::translate::responses::tests::codex_request;
    use crate::gateway::translate::responses_to_chat_request;

    #[test]
    fn chat_tool_call_becomes_response_object() {
        let chat = json!({
            "id": "chatcmpl-Xy1", "object": "chat.completion", "model": "deepseek-chat",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Let me look.",
                "tool_calls": [{"id": "call_7", "type": "function",
                    "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]}}],
            "usage": {"prompt_tokens": 500, "completion_tokens": 20, "total_tokens": 520,
                      "prompt_tokens_details": {"cached_tokens": 300}}
        });
        let out = chat_response_to_responses(&chat, &codex_request());
        assert_eq!(out["id"], "resp_Xy1");
        assert_eq!(out["object"], "response");
        assert_eq!(out["status"], "completed");
        assert_eq!(out["model"], "gpt-5-codex");
        assert_eq!(out["instructions"], "You are Codex.");
        assert_eq!(out["output"][0]["type"], "message");
        assert_eq!(
            out["output"][0]["content"],
            json!([{"type": "output_text", "text": "Let me look.", "annotations": []}])
        );
        let call = &out["output"][1];
        assert_eq!(
            (call["type"].as_str(), call["call_id"].as_str()),
            (Some("function_call"), Some("call_7"))
        );
        assert_eq!(call["arguments"], "{\"command\":[\"ls\"]}");
        assert!(call["id"].as_str().unwrap().starts_with("fc_"));
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 500, "input_tokens_details": {"cached_tokens": 300},
                   "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 520})
        );
        // The function call round-trips into the next request unchanged.
        let next = json!({"input": [call, {"type": "function_call_output", "call_id": "call_7", "output": "a\nb"}]});
        let chat_req = responses_to_chat_request(&next).unwrap();
        assert_eq!(chat_req["messages"][0]["tool_calls"][0]["id"], "call_7");
        assert_eq!(
            chat_req["messages"][1],
            json!({"role": "tool", "tool_call_id": "call_7", "content": "a\nb"})
        );
        let cut = json!({"choices": [{"finish_reason": "length", "message": {"content": "par"}}]});
        let out = chat_response_to_responses(&cut, &json!({}));
        assert_eq!(
            (
                out["status"].as_str(),
                out["incomplete_details"]["reason"].as_str()
            ),
            (Some("incomplete"), Some("max_output_tokens"))
        );
    }

    /// A chat refusal is a message item with a `refusal` part, as OpenAI answers.
    #[test]
    fn a_refusal_is_a_refusal_part() {
        let chat = json!({"choices": [{"finish_reason": "stop", "message": {
            "role": "assistant", "content": null, "refusal": "I cannot help with that."}}]});
        let out = chat_response_to_responses(&chat, &json!({}));
        assert_eq!(out["output"].as_array().unwrap().len(), 1);
        assert_eq!(out["output"][0]["type"], "message");
        assert_eq!(
            out["output"][0]["content"],
            json!([{"type": "refusal", "refusal": "I cannot help with that."}])
        );
    }

    /// Codex CLI over a DeepSeek account: the reasoning is a `reasoning` item first, and the
    /// item, sent back with the call, brings the reasoning back on the call's turn (DeepSeek
    /// refuses a tool call's turn without it).
    #[test]
    fn chat_reasoning_is_a_reasoning_item_and_comes_back() {
        let chat = json!({"id": "d1", "object": "chat.completion", "model": "deepseek-v4-pro",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "", "reasoning_content": "List the files.",
                "tool_calls": [{"id": "call_00_a", "type": "function",
                    "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}});
        let out = chat_response_to_responses(&chat, &codex_request());
        let reasoning = &out["output"][0];
        assert_eq!(reasoning["type"], "reasoning");
        assert!(reasoning["id"].as_str().unwrap().starts_with("rs_"));
        assert_eq!(
            reasoning["summary"],
            json!([{"type": "summary_text", "text": "List the files."}])
        );
        assert_eq!(out["output"][1]["type"], "function_call");
        assert_eq!(out["output"].as_array().unwrap().len(), 2);
        let next = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]},
            reasoning, out["output"][1],
            {"type": "function_call_output", "call_id": "call_00_a", "output": "a.rs"},
            // Reasoning that led to an answer, and reasoning that led to nothing kept.
            reasoning, {"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "One file."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]},
            reasoning, reasoning]});
        let chat_req = responses_to_chat_request(&next).unwrap();
        assert_eq!(
            chat_req["messages"],
            json!([
                {"role": "user", "content": "ls"},
                {"role": "assistant", "content": null, "reasoning_content": "List the files.",
                 "tool_calls": [{"id": "call_00_a", "type": "function",
                     "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
                {"role": "tool", "tool_call_id": "call_00_a", "content": "a.rs"},
                {"role": "assistant", "content": "One file.",
                 "reasoning_content": "List the files."},
                {"role": "user", "content": "ok"}
            ])
        );
    }
}
