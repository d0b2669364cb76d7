//! Anthropic Messages request -> OpenAI Chat Completions request.

use serde_json::{Map, Value, json};

use super::{TranslateError, chat_reasoning, check, text_of};

/// The most stop sequences OpenAI's chat API takes.
const MAX_CHAT_STOPS: usize = 4;

/// Translates a Messages request body into a chat request body. Thinking blocks (but those
/// made from a chat provider's reasoning, see [`chat_reasoning`]), `top_k` and cache-control
/// markers have no chat equivalent and are dropped.
pub fn messages_to_chat_request(req: &Value) -> Result<Value, TranslateError> {
    if !req.is_object() {
        return Err(TranslateError::new(
            "",
            "the request body must be a JSON object",
        ));
    }
    anthropic_only(req)?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::new("messages", "`messages` must be an array"))?;
    let mut out = Vec::new();
    let system = system_text(req)?;
    if !system.is_empty() {
        out.push(json!({ "role": "system", "content": system }));
    }
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        if !m.is_object() {
            return Err(check::wrong(&p, "a message object", m));
        }
        match check::field(m, "role") {
            Some(Value::String(r)) if r == "user" => user_turn(m, &p, &mut out)?,
            Some(Value::String(r)) if r == "assistant" => out.extend(assistant_turn(m, &p)?),
            Some(Value::String(r)) if r == "system" => system_turn(m, &p, &mut out)?,
            Some(v) => {
                return Err(check::wrong(
                    &format!("{p}.role"),
                    "\"user\", \"assistant\" or \"system\"",
                    v,
                ));
            }
            None => {
                return Err(check::missing(
                    &format!("{p}.role"),
                    "each message needs a role (user, assistant or system)",
                ));
            }
        }
    }
    let mut body = Map::new();
    if let Some(model) = req.get("model") {
        body.insert("model".into(), model.clone());
    }
    body.insert("messages".into(), Value::Array(out));
    if let Some(max) = check::opt_token_cap(req, "", "max_tokens")? {
        body.insert("max_tokens".into(), max.into());
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = check::opt_number(req, "", key)? {
            body.insert(key.into(), v.clone());
        }
    }
    // Read only to be dropped (chat has no top_k), but a wrong type is still the caller's bug.
    check::opt_number(req, "", "top_k")?;
    if let Some(stop) = check::field(req, "stop_sequences") {
        let mut stop = check::stop_sequences(stop, "stop_sequences", false)?;
        // An empty sequence stops nothing (Anthropic refuses it); it is dropped.
        stop.retain(|s| !s.is_empty());
        // OpenAI takes at most four; dropping the others would let the answer run past them.
        if stop.len() > MAX_CHAT_STOPS {
            return Err(TranslateError::new(
                "stop_sequences",
                format!(
                    "`stop_sequences` has {} sequences; this model takes at most \
                     {MAX_CHAT_STOPS}",
                    stop.len()
                ),
            ));
        }
        if !stop.is_empty() {
            body.insert("stop".into(), json!(stop));
        }
    }
    if let Some(metadata) = check::opt_object(req, "", "metadata", "an object {\"user_id\": ...}")?
        && let Some(user) = check::opt_str(metadata, "metadata", "user_id")?
    {
        body.insert("user".into(), user.into());
    }
    thinking(req)?;
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    super::tools::messages_tools_to_chat(req, &mut body)?;
    Ok(Value::Object(body))
}

/// Refuses what only Anthropic runs and that changes the conversation: MCP servers it
/// connects the model to (their tools and results) and a code execution container (its files
/// and state). Dropped, the model would answer without them as if they were not asked for.
fn anthropic_only(req: &Value) -> Result<(), TranslateError> {
    if req.get("mcp_servers").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::new(
            "mcp_servers",
            "`mcp_servers` has Anthropic connect the model to MCP servers, and this model is \
             served by an account that is not Anthropic's; call the MCP server's tools yourself \
             (pass them in `tools`), or use a model an Anthropic account serves",
        ));
    }
    if req.get("container").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::new(
            "container",
            "`container` names a code execution container on Anthropic's side, and this model \
             is served by an account that is not Anthropic's and has none; send the request \
             without it, or use a model an Anthropic account serves",
        ));
    }
    Ok(())
}

/// The top-level `system`: a string or an array of text blocks (Claude Code sends blocks
/// with `cache_control`, which chat has no use for), as one text.
fn system_text(req: &Value) -> Result<String, TranslateError> {
    let blocks = match check::field(req, "system") {
        None => return Ok(String::new()),
        Some(Value::String(s)) => return Ok(s.clone()),
        Some(Value::Array(blocks)) => blocks,
        Some(v) => {
            return Err(check::wrong(
                "system",
                "a string or an array of {\"type\": \"text\", \"text\": ...} blocks",
                v,
            ));
        }
    };
    let mut texts = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let p = format!("system[{i}]");
        match check::part_type(block, &p, "text")? {
            "text" => texts.push(block_text(block, &p)?),
            other => {
                return Err(TranslateError::new(
                    format!("{p}.type"),
                    format!("`{p}.type` is `{other}`; system blocks must be text blocks"),
                ));
            }
        }
    }
    Ok(texts.join("\n"))
}

/// A system message inside `messages` (Anthropic's mid-conversation system message). Before
/// any turn it joins the system prompt. After one it is a `<system-reminder>` in the user turn
/// it follows, as Claude Code sends it to an API that refuses the role: several
/// OpenAI-compatible chat templates refuse a system message after the first.
fn system_turn(m: &Value, p: &str, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut texts = Vec::new();
    for (j, block) in blocks_of(m, p)?.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        match check::part_type(block, &pp, "text")? {
            "text" => texts.push(block_text(block, &pp)?.to_owned()),
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!(
                        "`{pp}.type` is `{other}`, which can't be translated for this model in a \
                         system message; expected text"
                    ),
                ));
            }
        }
    }
    let text = texts.join("\n");
    if text.is_empty() {
        return Ok(());
    }
    if out.iter().all(|m| m["role"] == "system") {
        match out.first_mut() {
            Some(Value::Object(first)) => {
                let joined = format!("{}\n{text}", first["content"].as_str().unwrap_or(""));
                first.insert("content".into(), joined.into());
            }
            _ => out.push(json!({ "role": "system", "content": text })),
        }
        return Ok(());
    }
    let reminder = format!("<system-reminder>\n{text}\n</system-reminder>");
    match out.last_mut() {
        Some(last) if last["role"] == "user" => match &mut last["content"] {
            Value::String(s) => {
                s.push_str("\n\n");
                s.push_str(&reminder);
            }
            Value::Array(parts) => parts.push(json!({ "type": "text", "text": reminder })),
            _ => last["content"] = reminder.into(),
        },
        _ => out.push(json!({ "role": "user", "content": reminder })),
    }
    Ok(())
}

/// The `text` of a text block, which must be a string.
fn block_text<'a>(block: &'a Value, p: &str) -> Result<&'a str, TranslateError> {
    match check::field(block, "text") {
        Some(Value::String(t)) => Ok(t),
        Some(v) => Err(check::wrong(&format!("{p}.text"), "a string", v)),
        None => Err(check::missing(
            &format!("{p}.text"),
            "a text block carries its text in `text`",
        )),
    }
}

/// `thinking` has no chat equivalent and is dropped, but only when it is well formed:
/// `{"type": "enabled", "budget_tokens": N}`, `{"type": "disabled"}` or `{"type": "adaptive"}`.
fn thinking(req: &Value) -> Result<(), TranslateError> {
    let expected =
        "an object {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}";
    let Some(t) = check::opt_object(req, "", "thinking", expected)? else {
        return Ok(());
    };
    match check::field(t, "type") {
        Some(Value::String(k)) if k == "enabled" => {
            check::token_cap(
                check::field(t, "budget_tokens").ok_or_else(|| {
                    check::missing(
                        "thinking.budget_tokens",
                        "enabled thinking needs a token budget",
                    )
                })?,
                "thinking.budget_tokens",
            )?;
            Ok(())
        }
        Some(Value::String(k)) if k == "disabled" || k == "adaptive" => Ok(()),
        Some(v) => Err(check::wrong(
            "thinking.type",
            "\"enabled\", \"disabled\" or \"adaptive\"",
            v,
        )),
        None => Err(check::missing("thinking.type", expected)),
    }
}

fn blocks_of(m: &Value, p: &str) -> Result<Vec<Value>, TranslateError> {
    match m.get("content") {
        Some(Value::String(s)) => Ok(vec![json!({ "type": "text", "text": s })]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(v) => Err(check::wrong(
            &format!("{p}.content"),
            "a string or an array of content blocks",
            v,
        )),
        None => Err(check::missing(
            &format!("{p}.content"),
            "each message needs content (a string or an array of content blocks)",
        )),
    }
}

/// One user turn: its tool results become `tool` messages first (they must follow the
/// assistant's tool calls directly), then the rest as one user message.
fn user_turn(m: &Value, p: &str, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks_of(m, p)?.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        match check::part_type(block, &pp, USER_BLOCKS)? {
            "tool_result" => {
                let id = check::name(
                    block,
                    &pp,
                    "tool_use_id",
                    "a tool_result needs the id of the tool_use it answers",
                )?;
                let content = tool_result_content(block, &pp)?;
                // Images inside a tool result can't ride in a `tool` message; they follow
                // in the user message instead.
                if let Value::Array(inner) = content {
                    for b in inner.iter().filter(|b| b["type"] == "image") {
                        parts.push(image_part(b, &pp)?);
                    }
                }
                let mut text = text_of(content);
                // A chat tool message has no error flag: the text says it, so the model still
                // knows the call failed.
                if check::opt_bool(block, &pp, "is_error")? == Some(true) {
                    text = if text.is_empty() {
                        "Error".to_owned()
                    } else {
                        format!("Error: {text}")
                    };
                }
                out.push(json!({ "role": "tool", "tool_call_id": id, "content": text }));
            }
            "text" => parts.push(json!({ "type": "text", "text": block_text(block, &pp)? })),
            "image" => parts.push(image_part(block, &pp)?),
            "document" => parts.push(document_part(block, &pp)?),
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!(
                        "`{pp}.type` is `{other}`, which can't be translated for this model in a \
                         user message; expected {USER_BLOCKS}"
                    ),
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

/// The block types a user message may hold when translated.
const USER_BLOCKS: &str = "text, image, document or tool_result";

/// A tool result's content: absent, a string, or text and image blocks.
fn tool_result_content<'a>(block: &'a Value, p: &str) -> Result<&'a Value, TranslateError> {
    let content = check::field(block, "content").unwrap_or(&Value::Null);
    match content {
        Value::Null | Value::String(_) => {}
        Value::Array(inner) => {
            for (k, b) in inner.iter().enumerate() {
                let bp = format!("{p}.content[{k}]");
                match check::part_type(b, &bp, "text or image")? {
                    "text" => {
                        block_text(b, &bp)?;
                    }
                    "image" => {
                        image_part(b, &bp)?;
                    }
                    other => {
                        return Err(TranslateError::new(
                            format!("{bp}.type"),
                            format!(
                                "`{bp}.type` is `{other}`, which can't be translated for this \
                                 model in a tool result; expected text or image"
                            ),
                        ));
                    }
                }
            }
        }
        v => {
            return Err(check::wrong(
                &format!("{p}.content"),
                "a string or an array of text and image blocks",
                v,
            ));
        }
    }
    Ok(content)
}

/// A block's `source` object and its `type`.
fn source<'a>(block: &'a Value, p: &str) -> Result<(&'a Value, &'a str), TranslateError> {
    let sp = format!("{p}.source");
    let src = check::opt_object(block, p, "source", "an object {\"type\", ...}")?
        .ok_or_else(|| check::missing(&sp, "an image or document block needs a source"))?;
    let kind = check::name(
        src,
        &sp,
        "type",
        "a source needs a type (base64, url or text)",
    )?;
    Ok((src, kind))
}

fn image_part(block: &Value, p: &str) -> Result<Value, TranslateError> {
    let (src, kind) = source(block, p)?;
    let sp = format!("{p}.source");
    let url = match kind {
        "base64" => format!(
            "data:{};base64,{}",
            check::name(
                src,
                &sp,
                "media_type",
                "a base64 image needs its media type"
            )?,
            check::name(src, &sp, "data", "a base64 image needs its data")?
        ),
        "url" => check::name(src, &sp, "url", "a url image needs its URL")?.to_owned(),
        other => {
            return Err(TranslateError::new(
                format!("{sp}.type"),
                format!("`{sp}.type` is `{other}`; images translate from base64 or url sources"),
            ));
        }
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

fn document_part(block: &Value, p: &str) -> Result<Value, TranslateError> {
    let (src, kind) = source(block, p)?;
    let sp = format!("{p}.source");
    match kind {
        "base64" => Ok(json!({ "type": "file", "file": {
            "filename": check::opt_str(block, p, "title")?.unwrap_or("document.pdf"),
            "file_data": format!("data:{};base64,{}",
                check::opt_str(src, &sp, "media_type")?.unwrap_or("application/pdf"),
                check::name(src, &sp, "data", "a base64 document needs its data")?),
        }})),
        "text" => Ok(json!({ "type": "text",
            "text": check::name(src, &sp, "data", "a text document needs its text")? })),
        other => Err(TranslateError::new(
            format!("{sp}.type"),
            format!("`{sp}.type` is `{other}`; documents translate from base64 or text sources"),
        )),
    }
}

/// One assistant turn as a chat message. A `thinking` block this gateway made from a chat
/// provider's reasoning goes back in the field it came in (DeepSeek and Kimi refuse a tool
/// call's turn without it); other thinking blocks are dropped.
fn assistant_turn(m: &Value, p: &str) -> Result<Option<Value>, TranslateError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut reasoning: Option<(&str, String)> = None;
    for (j, block) in blocks_of(m, p)?.iter().enumerate() {
        let pp = format!("{p}.content[{j}]");
        match check::part_type(block, &pp, "text or tool_use")? {
            "text" => text.push_str(block_text(block, &pp)?),
            "tool_use" => {
                // The id pairs the call with its tool_result; without one the result is orphaned.
                let id = check::name(block, &pp, "id", "a tool_use block needs its id")?;
                let name = check::name(block, &pp, "name", "a tool_use block names its tool")?;
                let input = check::opt_object(block, &pp, "input", "an object")?;
                let arguments = serde_json::to_string(input.unwrap_or(&json!({})))
                    .unwrap_or_else(|_| "{}".to_owned());
                calls.push(json!({ "id": id, "type": "function",
                    "function": { "name": name, "arguments": arguments } }));
            }
            "thinking" => {
                if let Some(field) = chat_reasoning::field_of(block)
                    && let Some(thought) = block.get("thinking").and_then(Value::as_str)
                {
                    reasoning
                        .get_or_insert_with(|| (field, String::new()))
                        .1
                        .push_str(thought);
                }
            }
            "redacted_thinking" => {}
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!(
                        "`{pp}.type` is `{other}`, which can't be translated for this model in \
                         an assistant message; expected text or tool_use"
                    ),
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
    if let Some((field, thought)) = reasoning {
        msg[field] = thought.into();
    }
    Ok(Some(msg))
}

#[cfg(test)]
mod tests;
