//! Anthropic Messages request -> OpenAI Chat Completions request.

use serde_json::{Map, Value, json};

use super::{TranslateError, text_of};

/// Translates a Messages request body into a chat request body. Thinking blocks, `top_k`
/// and cache-control markers have no chat equivalent and are dropped.
pub fn messages_to_chat_request(req: &Value) -> Result<Value, TranslateError> {
    if !req.is_object() {
        return Err(TranslateError::new(
            "",
            "the request body must be a JSON object",
        ));
    }
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::new("messages", "`messages` must be an array"))?;
    let mut out = Vec::new();
    match req.get("system") {
        None | Some(Value::Null) => {}
        Some(s @ (Value::String(_) | Value::Array(_))) => {
            let text = text_of(s);
            if !text.is_empty() {
                out.push(json!({ "role": "system", "content": text }));
            }
        }
        Some(_) => {
            return Err(TranslateError::new(
                "system",
                "must be a string or text blocks",
            ));
        }
    }
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        match m.get("role").and_then(Value::as_str) {
            Some("user") => user_turn(m, &p, &mut out)?,
            Some("assistant") => out.extend(assistant_turn(m, &p)?),
            _ => {
                return Err(TranslateError::new(
                    format!("{p}.role"),
                    "role must be `user` or `assistant`",
                ));
            }
        }
    }
    let mut body = Map::new();
    if let Some(model) = req.get("model") {
        body.insert("model".into(), model.clone());
    }
    body.insert("messages".into(), Value::Array(out));
    if let Some(max) = req.get("max_tokens").and_then(Value::as_u64) {
        body.insert("max_tokens".into(), max.into());
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = req.get(key).filter(|v| v.is_number()) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = req
        .get("stop_sequences")
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        body.insert("stop".into(), stop.clone());
    }
    if let Some(user) = req.pointer("/metadata/user_id").and_then(Value::as_str) {
        body.insert("user".into(), user.into());
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    super::tools::messages_tools_to_chat(req, &mut body)?;
    Ok(Value::Object(body))
}

fn blocks_of(m: &Value, p: &str) -> Result<Vec<Value>, TranslateError> {
    match m.get("content") {
        Some(Value::String(s)) => Ok(vec![json!({ "type": "text", "text": s })]),
        Some(Value::Array(a)) => Ok(a.clone()),
        _ => Err(TranslateError::new(
            format!("{p}.content"),
            "must be a string or an array of blocks",
        )),
    }
}

/// One user turn: its tool results become `tool` messages first (they must follow the
/// assistant's tool calls directly), then the rest as one user message.
fn user_turn(m: &Value, p: &str, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks_of(m, p)?.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "tool_result" => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::new(
                            format!("{pp}.tool_use_id"),
                            "tool_result needs tool_use_id",
                        )
                    })?;
                let content = block.get("content").unwrap_or(&Value::Null);
                // Images inside a tool result can't ride in a `tool` message; they follow
                // in the user message instead.
                if let Value::Array(inner) = content {
                    for b in inner.iter().filter(|b| b["type"] == "image") {
                        parts.push(image_part(b, &pp)?);
                    }
                }
                out.push(
                    json!({ "role": "tool", "tool_call_id": id, "content": text_of(content) }),
                );
            }
            "text" => parts.push(json!({ "type": "text", "text": block["text"] })),
            "image" => parts.push(image_part(block, &pp)?),
            "document" => parts.push(document_part(block, &pp)?),
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!("unsupported content block `{other}` in a user message"),
                ));
            }
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    // Plain text goes as a string: several OpenAI-compatible providers reject part arrays.
    let content = if parts.iter().all(|p| p["type"] == "text") {
        Value::String(text_of(&Value::Array(parts)))
    } else {
        Value::Array(parts)
    };
    out.push(json!({ "role": "user", "content": content }));
    Ok(())
}

fn image_part(block: &Value, p: &str) -> Result<Value, TranslateError> {
    let src = &block["source"];
    let url = match src.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            src["media_type"].as_str().unwrap_or("image/png"),
            src["data"].as_str().unwrap_or("")
        ),
        Some("url") => src["url"].as_str().unwrap_or("").to_owned(),
        _ => {
            return Err(TranslateError::new(
                format!("{p}.source"),
                "unsupported image source",
            ));
        }
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

fn document_part(block: &Value, p: &str) -> Result<Value, TranslateError> {
    let src = &block["source"];
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(json!({ "type": "file", "file": {
            "filename": block.get("title").and_then(Value::as_str).unwrap_or("document.pdf"),
            "file_data": format!("data:{};base64,{}",
                src["media_type"].as_str().unwrap_or("application/pdf"),
                src["data"].as_str().unwrap_or("")),
        }})),
        Some("text") => Ok(json!({ "type": "text", "text": src["data"] })),
        _ => Err(TranslateError::new(
            format!("{p}.source"),
            "unsupported document source",
        )),
    }
}

fn assistant_turn(m: &Value, p: &str) -> Result<Option<Value>, TranslateError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks_of(m, p)?.iter().enumerate() {
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => text.push_str(block["text"].as_str().unwrap_or("")),
            "tool_use" => {
                let arguments = serde_json::to_string(block.get("input").unwrap_or(&json!({})))
                    .unwrap_or_else(|_| "{}".to_owned());
                calls.push(json!({ "id": block["id"], "type": "function",
                    "function": { "name": block["name"], "arguments": arguments } }));
            }
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(TranslateError::new(
                    format!("{p}.content[{j}].type"),
                    format!("unsupported content block `{other}` in an assistant message"),
                ));
            }
        }
    }
    if text.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    let mut msg = json!({ "role": "assistant",
        "content": if text.is_empty() { Value::Null } else { text.into() } });
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    Ok(Some(msg))
}

#[cfg(test)]
mod tests {
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
        let bad = json!({"messages": [{"role": "system", "content": "x"}]});
        assert_eq!(
            messages_to_chat_request(&bad).unwrap_err().param,
            "messages[0].role"
        );
    }
}
