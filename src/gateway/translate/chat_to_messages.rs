//! OpenAI Chat Completions request -> Anthropic Messages request.

use serde_json::{Map, Value, json};

use super::{TranslateError, check, legacy, tool_id};

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
        .ok_or_else(|| {
            TranslateError::new("messages", "`messages` must be an array of messages")
        })?;
    let mut system = Vec::new();
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    // The assistant turn whose legacy `function_call` a `function` message answers.
    let mut function_call = None;
    // A final user message without text, which would leave the conversation ending in an
    // assistant turn (a prefill the model continues) instead.
    let mut empty_last_user = None;
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        const ROLES: &str = "system, developer, user, assistant, tool or function";
        if !m.is_object() {
            return Err(check::wrong(&p, "a message object", m));
        }
        let role = match check::field(m, "role") {
            Some(Value::String(r)) => r.as_str(),
            Some(v) => return Err(check::wrong(&format!("{p}.role"), ROLES, v)),
            None => {
                return Err(check::missing(
                    &format!("{p}.role"),
                    &format!("each message needs a role ({ROLES})"),
                ));
            }
        };
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.extend(content_blocks(content, &p, false)?),
            "user" => {
                let blocks = content_blocks(content, &p, true)?;
                if blocks.is_empty() && i + 1 == messages.len() {
                    empty_last_user = Some(i);
                }
                push_turn(&mut out, "user", blocks);
            }
            "assistant" => {
                let mut blocks = assistant_blocks(m, &p)?;
                if let Some(call) = legacy::function_call_block(m, i)? {
                    blocks.push(call);
                    function_call = Some(i);
                }
                push_turn(&mut out, "assistant", blocks);
            }
            "tool" => push_turn(&mut out, "user", vec![tool_result(m, &p)?]),
            "function" => push_turn(
                &mut out,
                "user",
                vec![legacy::function_result(m, i, function_call)?],
            ),
            other => {
                return Err(TranslateError::new(
                    format!("{p}.role"),
                    format!("`{p}.role` `{other}` is not a chat role; expected {ROLES}"),
                ));
            }
        }
    }
    let mut body = Map::new();
    if let Some(model) = req.get("model") {
        body.insert("model".into(), model.clone());
    }
    // Both are checked: a bad value must not hide behind the other one.
    let max_completion = check::opt_token_cap(req, "", "max_completion_tokens")?;
    let max_tokens = check::opt_token_cap(req, "", "max_tokens")?;
    let max_tokens = max_completion.or(max_tokens).unwrap_or(default_max_tokens);
    body.insert("max_tokens".into(), max_tokens.into());
    if out.is_empty() {
        // System-only requests are fine for OpenAI, but Anthropic needs a message: the system
        // text becomes the one user turn, which means the same to the model.
        if system.is_empty() {
            return Err(TranslateError::new(
                "messages",
                "`messages` has no message with text: send at least one user message",
            ));
        }
        out.push(("user", std::mem::take(&mut system)));
    } else if let Some(i) = empty_last_user
        && out.last().is_some_and(|(role, _)| *role == "assistant")
    {
        let param = format!("messages[{i}].content");
        return Err(TranslateError::new(
            &param,
            format!(
                "`{param}` has no text: this model refuses empty and whitespace-only messages, \
                 and without it the conversation would end in an assistant message"
            ),
        ));
    }
    trim_prefill(&mut out);
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
    if let Some(t) = check::opt_number(req, "", "temperature")?.and_then(Value::as_f64) {
        // OpenAI allows 0..=2 (checked with the request's shape), Anthropic 0..=1: above 1
        // is sent as 1, the most random Anthropic allows, rather than refused.
        body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(top_p) = check::opt_number(req, "", "top_p")? {
        body.insert("top_p".into(), top_p.clone());
    }
    if let Some(stop) = check::field(req, "stop") {
        // Anthropic refuses empty and whitespace-only stop sequences; they are dropped (a
        // "\n" stop then no longer ends the answer early).
        let mut stop = check::stop_sequences(stop, "stop", true)?;
        stop.retain(|s| !s.trim().is_empty());
        if !stop.is_empty() {
            body.insert("stop_sequences".into(), json!(stop));
        }
    }
    if let Some(stream) = req.get("stream").and_then(Value::as_bool) {
        body.insert("stream".into(), stream.into());
    }
    if let Some(options) = check::opt_object(
        req,
        "",
        "stream_options",
        "an object such as {\"include_usage\": true}",
    )? {
        check::opt_bool(options, "stream_options", "include_usage")?;
    }
    if let Some(user) = check::opt_str(req, "", "user")? {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    match check::field(req, "n") {
        None => {}
        Some(n) if n.as_u64() == Some(1) => {}
        Some(n) => {
            return Err(check::wrong(
                "n",
                "1 (or absent) for this model: Anthropic models return one choice per request, \
                 so send separate requests for more",
                n,
            ));
        }
    }
    match legacy::functions_as_tools(req)? {
        Some(tools) => super::tools::chat_tools_to_messages(&tools, &mut body)?,
        None => super::tools::chat_tools_to_messages(req, &mut body)?,
    }
    // After the tools: the JSON tool joins them, and thinking depends on the tool choice.
    super::structured::response_format_to_messages(req, &mut body)?;
    super::reasoning::effort_to_thinking(req, &mut body)?;
    // Claude Sonnet 4.5, Haiku 4.5 and Opus 4.1 refuse `temperature` and `top_p` together,
    // and many OpenAI clients send both: the temperature, the one clients tune, stays. After
    // the thinking step, which may already have dropped the temperature.
    if body.contains_key("temperature") {
        body.remove("top_p");
    }
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

/// Anthropic refuses a final assistant turn (a prefill) that ends in whitespace; the
/// whitespace at its end is dropped.
fn trim_prefill(out: &mut [(&'static str, Vec<Value>)]) {
    if let Some(("assistant", blocks)) = out.last_mut()
        && let Some(last) = blocks.last_mut()
        && last["type"] == "text"
        && let Some(text) = last["text"].as_str()
    {
        let trimmed = text.trim_end().to_owned();
        last["text"] = trimmed.into();
    }
}

/// Content (string or parts) as Anthropic blocks; images only where `allow_media`. Empty and
/// whitespace-only text is left out: Anthropic refuses text blocks without non-whitespace
/// text, and Claude itself often writes "\n\n" before a tool call, which clients send back.
fn content_blocks(
    content: &Value,
    p: &str,
    allow_media: bool,
) -> Result<Vec<Value>, TranslateError> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![json!({ "type": "text", "text": s })]),
        Value::Array(parts) => parts,
        _ => {
            return Err(check::wrong(
                &format!("{p}.content"),
                "a string or an array of content parts",
                content,
            ));
        }
    };
    let kinds = if allow_media {
        "text, image_url or file"
    } else {
        "text or refusal"
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        let kind = check::part_type(part, &pp, kinds)?;
        let block = match kind {
            "text" | "refusal" => {
                let key = if kind == "text" { "text" } else { "refusal" };
                let text = match check::field(part, key) {
                    Some(Value::String(t)) => t.as_str(),
                    Some(v) => return Err(check::wrong(&format!("{pp}.{key}"), "a string", v)),
                    None => {
                        return Err(check::missing(
                            &format!("{pp}.{key}"),
                            &format!("a `{kind}` part carries its text in `{key}`"),
                        ));
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                let mut b = json!({ "type": "text", "text": text });
                if let Some(cc) = part.get("cache_control") {
                    b["cache_control"] = cc.clone();
                }
                b
            }
            "image_url" if allow_media => {
                let url = match check::field(part, "image_url") {
                    Some(Value::String(u)) => u.as_str(),
                    Some(u @ Value::Object(_)) => check::name(
                        u,
                        &format!("{pp}.image_url"),
                        "url",
                        "an image_url part needs the image's URL",
                    )?,
                    Some(v) => {
                        return Err(check::wrong(
                            &format!("{pp}.image_url"),
                            "an object {\"url\": ...}",
                            v,
                        ));
                    }
                    None => {
                        return Err(check::missing(
                            &format!("{pp}.image_url"),
                            "an image_url part needs {\"image_url\": {\"url\": ...}}",
                        ));
                    }
                };
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
                    format!(
                        "`{pp}.type` is `{other}`, which can't be translated to Anthropic \
                         in this message; expected {kinds}"
                    ),
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
        let media_type = image_media_type(media_type, param)?;
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

/// A data URL's image media type as Anthropic accepts it: `image/jpg` (which many clients
/// write) is `image/jpeg`; types Anthropic cannot read are a 400 naming `param` rather than
/// an upstream error.
fn image_media_type(media_type: &str, param: &str) -> Result<&'static str, TranslateError> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/jpg" => Ok("image/jpeg"),
        "image/png" => Ok("image/png"),
        "image/gif" => Ok("image/gif"),
        "image/webp" => Ok("image/webp"),
        _ => Err(TranslateError::new(
            param,
            format!(
                "`{param}` has the media type {}; this model reads image/jpeg, image/png, \
                 image/gif and image/webp images",
                check::describe(&Value::String(media_type.to_owned()))
            ),
        )),
    }
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
        .ok_or_else(|| check::wrong(&format!("{p}.tool_calls"), "an array of tool calls", calls))?;
    for (j, call) in calls.iter().enumerate() {
        let pc = format!("{p}.tool_calls[{j}]");
        // The id pairs the call with its tool message; a made-up one would orphan the result.
        let id = check::name(
            call,
            &pc,
            "id",
            "a tool call needs the id its tool message refers to",
        )?;
        if let Some(kind) = check::field(call, "type").filter(|k| k.as_str() != Some("function")) {
            return Err(check::wrong(&format!("{pc}.type"), "\"function\"", kind));
        }
        let pp = format!("{pc}.function");
        let f = check::opt_object(call, &pc, "function", "an object {\"name\", \"arguments\"}")?
            .ok_or_else(|| check::missing(&pp, "a tool call needs {\"name\", \"arguments\"}"))?;
        let name = check::name(f, &pp, "name", "every tool call names its function")?;
        let input = check::call_arguments(f, &pp)?;
        let id = tool_id(Some(id));
        blocks.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
    }
    Ok(blocks)
}

fn tool_result(m: &Value, p: &str) -> Result<Value, TranslateError> {
    let id = check::name(
        m,
        p,
        "tool_call_id",
        "a tool message needs the id of the tool call it answers",
    )?;
    let content = match m.get("content").unwrap_or(&Value::Null) {
        Value::String(s) => Value::String(s.clone()),
        other => Value::Array(content_blocks(other, p, true)?),
    };
    Ok(json!({ "type": "tool_result", "tool_use_id": tool_id(Some(id)), "content": content }))
}

#[cfg(test)]
mod tests;
