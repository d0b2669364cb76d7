//! OpenAI Responses API (what Codex CLI speaks) <-> Chat Completions, for requests and
//! whole responses. The proxy is stateless, so `previous_response_id` is refused.

use serde_json::{Map, Value, json};

use super::{TranslateError, text_of};

/// Translates a Responses request body into a chat request body.
pub fn responses_to_chat_request(req: &Value) -> Result<Value, TranslateError> {
    if !req.is_object() {
        return Err(TranslateError::new(
            "",
            "the request body must be a JSON object",
        ));
    }
    if req
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(TranslateError::new(
            "previous_response_id",
            "stored responses are not supported; send the full input",
        ));
    }
    let mut messages: Vec<Value> = Vec::new();
    if let Some(instructions) = req
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        messages.push(json!({ "role": "system", "content": instructions }));
    }
    match req.get("input") {
        Some(Value::String(s)) => messages.push(json!({ "role": "user", "content": s })),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input[{i}]"), &mut messages)?;
            }
        }
        _ => {
            return Err(TranslateError::new(
                "input",
                "`input` must be a string or an array",
            ));
        }
    }
    let mut body = Map::new();
    if let Some(model) = req.get("model") {
        body.insert("model".into(), model.clone());
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(max) = req.get("max_output_tokens").and_then(Value::as_u64) {
        body.insert("max_tokens".into(), max.into());
    }
    for key in ["temperature", "top_p", "parallel_tool_calls", "user"] {
        if let Some(v) = req.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    let tools: Vec<Value> = req["tools"]
        .as_array()
        .into_iter()
        .flatten()
        // Built-in tools (web_search, local_shell…) have no chat equivalent.
        .filter(|t| t["type"] == "function")
        .map(|t| {
            let mut f = json!({ "name": t["name"],
                "parameters": t.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})) });
            for key in ["description", "strict"] {
                if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
                    f[key] = v.clone();
                }
            }
            json!({ "type": "function", "function": f })
        })
        .collect();
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        match req.get("tool_choice") {
            Some(c @ Value::String(_)) => {
                body.insert("tool_choice".into(), c.clone());
            }
            Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
                body.insert(
                    "tool_choice".into(),
                    json!({ "type": "function", "function": { "name": o.get("name") } }),
                );
            }
            _ => {}
        }
    }
    match req.pointer("/text/format/type").and_then(Value::as_str) {
        Some("json_schema") => {
            let f = &req["text"]["format"];
            body.insert("response_format".into(), json!({ "type": "json_schema", "json_schema": {
                "name": f["name"], "schema": f["schema"], "strict": f.get("strict").cloned().unwrap_or(Value::Null) } }));
        }
        Some("json_object") => {
            body.insert("response_format".into(), json!({ "type": "json_object" }));
        }
        _ => {}
    }
    Ok(Value::Object(body))
}

fn input_item(item: &Value, p: &str, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let kind = item["type"].as_str().unwrap_or("message");
    match kind {
        "message" => {
            let role = match item["role"].as_str() {
                Some("system" | "developer") => "system",
                Some("user") => "user",
                Some("assistant") => "assistant",
                _ => {
                    return Err(TranslateError::new(
                        format!("{p}.role"),
                        "unsupported or missing role",
                    ));
                }
            };
            let content = message_content(&item["content"], p)?;
            out.push(json!({ "role": role, "content": content }));
        }
        "function_call" => {
            let call = json!({ "id": item["call_id"], "type": "function", "function": {
                "name": item["name"], "arguments": item["arguments"].as_str().unwrap_or("{}") } });
            if item["call_id"].as_str().is_none() || item["name"].as_str().is_none() {
                return Err(TranslateError::new(
                    p,
                    "function_call needs call_id and name",
                ));
            }
            // Calls attach to the assistant turn they belong to, as chat expects.
            match out.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    if !last["tool_calls"].is_array() {
                        last["tool_calls"] = json!([]);
                    }
                    if let Some(calls) = last["tool_calls"].as_array_mut() {
                        calls.push(call);
                    }
                }
                _ => {
                    out.push(json!({ "role": "assistant", "content": null, "tool_calls": [call] }))
                }
            }
        }
        "function_call_output" => {
            let call_id = item["call_id"].as_str().ok_or_else(|| {
                TranslateError::new(format!("{p}.call_id"), "function_call_output needs call_id")
            })?;
            out.push(json!({ "role": "tool", "tool_call_id": call_id, "content": text_of(&item["output"]) }));
        }
        // Reasoning summaries are model-private; other providers can't use them.
        "reasoning" => {}
        other => {
            return Err(TranslateError::new(
                format!("{p}.type"),
                format!("unsupported input item `{other}`"),
            ));
        }
    }
    Ok(())
}

fn message_content(content: &Value, p: &str) -> Result<Value, TranslateError> {
    let parts = match content {
        Value::String(s) => return Ok(Value::String(s.clone())),
        Value::Array(parts) => parts,
        _ => {
            return Err(TranslateError::new(
                format!("{p}.content"),
                "must be a string or an array",
            ));
        }
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part["type"].as_str().unwrap_or("") {
            "input_text" | "output_text" | "text" => {
                out.push(json!({ "type": "text", "text": part["text"] }));
            }
            "refusal" => out.push(json!({ "type": "text", "text": part["refusal"] })),
            "input_image" => {
                let url = part["image_url"].as_str().ok_or_else(|| {
                    TranslateError::new(
                        format!("{p}.content[{j}].image_url"),
                        "only image_url images are supported",
                    )
                })?;
                out.push(json!({ "type": "image_url", "image_url": { "url": url } }));
            }
            "input_file" => {
                let data = part["file_data"].as_str().ok_or_else(|| {
                    TranslateError::new(
                        format!("{p}.content[{j}].file_data"),
                        "only inline file_data is supported",
                    )
                })?;
                out.push(json!({ "type": "file", "file": { "filename": part["filename"], "file_data": data } }));
            }
            other => {
                return Err(TranslateError::new(
                    format!("{p}.content[{j}].type"),
                    format!("unsupported content part `{other}`"),
                ));
            }
        }
    }
    if out.iter().all(|p| p["type"] == "text") {
        return Ok(Value::String(text_of(&Value::Array(out))));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
pub(crate) mod tests {
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
}
