//! OpenAI Chat Completions request -> Anthropic Messages request.

use serde_json::{Map, Value, json};

use super::{TranslateError, tool_id};

/// Translates a chat request body into a Messages request body. `default_max_tokens`
/// fills Anthropic's mandatory `max_tokens` when the client set neither limit.
pub fn chat_to_messages_request(
    req: &Value,
    default_max_tokens: u64,
) -> Result<Value, TranslateError> {
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
    let mut system = Vec::new();
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::new(format!("{p}.role"), "each message needs a role"))?;
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.extend(content_blocks(content, &p, false)?),
            "user" => push_turn(&mut out, "user", content_blocks(content, &p, true)?),
            "assistant" => push_turn(&mut out, "assistant", assistant_blocks(m, &p)?),
            "tool" => push_turn(&mut out, "user", vec![tool_result(m, &p)?]),
            other => {
                return Err(TranslateError::new(
                    format!("{p}.role"),
                    format!("unsupported message role `{other}`"),
                ));
            }
        }
    }
    let mut body = Map::new();
    if let Some(model) = req.get("model") {
        body.insert("model".into(), model.clone());
    }
    let max_tokens = req
        .get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| req.get("max_tokens").and_then(Value::as_u64))
        .unwrap_or(default_max_tokens);
    body.insert("max_tokens".into(), max_tokens.into());
    match system.len() {
        0 => {}
        1 if system[0].get("cache_control").is_none() => {
            body.insert("system".into(), system[0]["text"].clone());
        }
        _ => {
            body.insert("system".into(), Value::Array(system));
        }
    }
    let messages: Vec<Value> = out
        .into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.get("temperature").and_then(Value::as_f64) {
        // OpenAI allows 0..2, Anthropic 0..1; clamping beats an upstream 400.
        body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(top_p) = req.get("top_p").filter(|v| v.is_number()) {
        body.insert("top_p".into(), top_p.clone());
    }
    match req.get("stop") {
        Some(Value::String(s)) => {
            body.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            body.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(stream) = req.get("stream").and_then(Value::as_bool) {
        body.insert("stream".into(), stream.into());
    }
    if let Some(user) = req.get("user").and_then(Value::as_str) {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(TranslateError::new(
            "n",
            "only n = 1 is supported for this model",
        ));
    }
    super::tools::chat_tools_to_messages(req, &mut body)?;
    Ok(Value::Object(body))
}

/// Appends a turn, merging into the previous one when the role repeats (consecutive tool
/// results, or a user message right after them, become one user turn).
fn push_turn(out: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match out.last_mut() {
        Some((last, content)) if *last == role => content.extend(blocks),
        _ => out.push((role, blocks)),
    }
}

/// Content (string or parts) as Anthropic blocks; images only where `allow_media`.
fn content_blocks(
    content: &Value,
    p: &str,
    allow_media: bool,
) -> Result<Vec<Value>, TranslateError> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![json!({ "type": "text", "text": s })]),
        Value::Array(parts) => parts,
        _ => {
            return Err(TranslateError::new(
                format!("{p}.content"),
                "content must be a string or an array of parts",
            ));
        }
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
        let block = match kind {
            "text" | "refusal" => {
                let key = if kind == "text" { "text" } else { "refusal" };
                let text = part.get(key).and_then(Value::as_str).unwrap_or("");
                if text.is_empty() {
                    continue;
                }
                let mut b = json!({ "type": "text", "text": text });
                if let Some(cc) = part.get("cache_control") {
                    b["cache_control"] = cc.clone();
                }
                b
            }
            "image_url" if allow_media => {
                let url = part
                    .get("image_url")
                    .and_then(|u| u.get("url").or(Some(u)))
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::new(format!("{pp}.image_url"), "missing url"))?;
                image_block(url, &format!("{pp}.image_url.url"))?
            }
            "file" if allow_media => {
                let data = part
                    .pointer("/file/file_data")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::new(
                            format!("{pp}.file"),
                            "only inline file_data is supported",
                        )
                    })?;
                let (media_type, data) = parse_data_url(data, &format!("{pp}.file.file_data"))?;
                json!({ "type": "document",
                    "source": { "type": "base64", "media_type": media_type, "data": data } })
            }
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!("unsupported content part type `{other}`"),
                ));
            }
        };
        blocks.push(block);
    }
    Ok(blocks)
}

/// An `image_url` as an Anthropic image block: data URLs inline, http(s) by reference.
pub(crate) fn image_block(url: &str, param: &str) -> Result<Value, TranslateError> {
    if url.starts_with("data:") {
        let (media_type, data) = parse_data_url(url, param)?;
        return Ok(json!({ "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data } }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(TranslateError::new(
        param,
        "image URLs must be http(s) or base64 data URLs",
    ))
}

fn parse_data_url<'a>(url: &'a str, param: &str) -> Result<(&'a str, &'a str), TranslateError> {
    url.strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .and_then(|(header, data)| Some((header.strip_suffix(";base64")?, data)))
        .filter(|(media, data)| !media.is_empty() && !data.is_empty())
        .ok_or_else(|| TranslateError::new(param, "expected a data:<media type>;base64,<data> URL"))
}

fn assistant_blocks(m: &Value, p: &str) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = content_blocks(m.get("content").unwrap_or(&Value::Null), p, false)?;
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(blocks);
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| TranslateError::new(format!("{p}.tool_calls"), "must be an array"))?;
    for (j, call) in calls.iter().enumerate() {
        let pp = format!("{p}.tool_calls[{j}].function");
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::new(format!("{pp}.name"), "tool call needs a name"))?;
        let input = match call.pointer("/function/arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    TranslateError::new(
                        format!("{pp}.arguments"),
                        "tool call arguments must be a JSON object encoded as a string",
                    )
                })?,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => {
                return Err(TranslateError::new(
                    format!("{pp}.arguments"),
                    "must be a string",
                ));
            }
        };
        let id = tool_id(call.get("id").and_then(Value::as_str));
        blocks.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
    }
    Ok(blocks)
}

fn tool_result(m: &Value, p: &str) -> Result<Value, TranslateError> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TranslateError::new(
                format!("{p}.tool_call_id"),
                "tool messages need tool_call_id",
            )
        })?;
    let content = match m.get("content").unwrap_or(&Value::Null) {
        Value::String(s) => Value::String(s.clone()),
        other => Value::Array(content_blocks(other, p, true)?),
    };
    Ok(json!({ "type": "tool_result", "tool_use_id": tool_id(Some(id)), "content": content }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_request() -> Value {
        json!({
            "model": "claude-sonnet-4", "stream": true, "user": "u-42",
            "temperature": 1.4, "stop": "END", "max_completion_tokens": 1024,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image, and the weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required", "parallel_tool_calls": false,
            "logprobs": false, "seed": 3
        })
    }

    #[test]
    fn multi_turn_tool_conversation_becomes_messages() {
        let out = chat_to_messages_request(&agent_request(), 4096).unwrap();
        assert_eq!(out["system"], "You are terse.");
        assert_eq!(out["max_tokens"], 1024);
        assert_eq!(out["temperature"], 1.0);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
        assert_eq!(out["stream"], true);
        assert!(out.get("seed").is_none());
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            msgs[0]["content"][1]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
        );
        assert_eq!(
            msgs[0]["content"][2]["source"],
            json!({"type": "url", "url": "https://example.com/cat.jpg"})
        );
        assert_eq!(
            msgs[1]["content"],
            json!([
                {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_b", "name": "clock", "input": {}}
            ])
        );
        assert_eq!(
            msgs[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": "12:00"},
                {"type": "text", "text": "Thanks"}
            ])
        );
        assert_eq!(
            out["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn defaults_and_named_tool_choice() {
        let req = json!({"model": "m", "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "a"}]},
            {"role": "system", "content": "b"},
            {"role": "user", "content": "hi"}],
            "stop": ["x", "y"],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}}});
        let out = chat_to_messages_request(&req, 4096).unwrap();
        assert_eq!(out["max_tokens"], 4096);
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
        );
        assert_eq!(out["stop_sequences"], json!(["x", "y"]));
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));
        assert_eq!(
            out["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn invalid_shapes_name_the_field() {
        let cases = [
            (json!({"messages": {}}), "messages"),
            (json!({"messages": [{"content": "x"}]}), "messages[0].role"),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [
                    {"id": "c", "function": {"name": "f", "arguments": "{not json"}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!({"messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
                "messages[0].content[0].image_url.url",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
        ];
        for (req, param) in cases {
            assert_eq!(chat_to_messages_request(&req, 10).unwrap_err().param, param);
        }
    }
}
