//! OpenAI Responses API (what Codex CLI speaks) <-> Chat Completions, for requests and
//! whole responses. The proxy is stateless, so what continues state OpenAI keeps
//! (`previous_response_id`, `conversation`, a stored `prompt`) is refused.

use serde_json::{Map, Value, json};

use super::{TranslateError, chat_reasoning, check, text_of};

/// Where the images (and files) of a `function_call_output` go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ToolMedia {
    /// In the tool message's content, for Anthropic, whose `tool_result` carries images.
    InResult,
    /// In a user message after the tool messages: a chat `tool` message carries only text
    /// (as Messages -> chat does with tool-result images).
    AfterResults,
}

/// Translates a Responses request body into a chat request body, for chat providers.
pub fn responses_to_chat_request(req: &Value) -> Result<Value, TranslateError> {
    to_chat(req, ToolMedia::AfterResults)
}

/// Translates a Responses request body into a Messages request body: the chat translation,
/// keeping tool outputs' images in their results, then chat -> Messages. An error about the
/// (then empty) `messages` names `input`.
pub fn responses_to_messages_request(
    req: &Value,
    default_max_tokens: u64,
) -> Result<Value, TranslateError> {
    let chat = to_chat(req, ToolMedia::InResult)?;
    super::chat_to_messages_request(&chat, default_max_tokens).map_err(|mut e| {
        if e.param == "messages" {
            e.param = "input".into();
            e.message = e.message.replace("`messages`", "`input`");
        }
        e
    })
}

fn to_chat(req: &Value, media: ToolMedia) -> Result<Value, TranslateError> {
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
    // Both make the answer continue something OpenAI stores; without it the model would
    // answer another conversation, so they are refused rather than dropped.
    if req.get("prompt").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::new(
            "prompt",
            "`prompt` names a prompt template stored at OpenAI, and this model is served by an \
             account that is not OpenAI's and cannot read it; send the prompt's text in \
             `instructions` and `input` instead, or use a model an OpenAI account serves",
        ));
    }
    if req.get("conversation").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::new(
            "conversation",
            "`conversation` continues a conversation stored at OpenAI, and this model is \
             served by an account that is not OpenAI's and cannot read it; send the whole \
             conversation in `input` instead, or use a model an OpenAI account serves",
        ));
    }
    let mut messages: Vec<Value> = Vec::new();
    if let Some(instructions) = check::opt_str(req, "", "instructions")?.filter(|s| !s.is_empty()) {
        messages.push(json!({ "role": "system", "content": instructions }));
    }
    match req.get("input") {
        Some(Value::String(s)) => messages.push(json!({ "role": "user", "content": s })),
        Some(Value::Array(items)) => {
            // Tool outputs' media waiting for the end of the run of tool messages.
            let mut media_after = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if !matches!(
                    item.get("type").and_then(Value::as_str),
                    Some("function_call_output" | "reasoning")
                ) {
                    flush_media(&mut media_after, &mut messages);
                }
                let p = format!("input[{i}]");
                if let Some(media_parts) = input_item(item, &p, &mut messages, media)? {
                    media_after.extend(media_parts);
                }
            }
            flush_media(&mut media_after, &mut messages);
            // Reasoning that led to nothing the client kept is no turn of its own.
            messages.retain(|m| !is_reasoning_only(m));
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
    if let Some(max) = check::opt_token_cap(req, "", "max_output_tokens")? {
        body.insert("max_tokens".into(), max.into());
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = check::opt_number(req, "", key)? {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = check::opt_bool(req, "", "parallel_tool_calls")? {
        body.insert("parallel_tool_calls".into(), v.into());
    }
    if let Some(v) = check::opt_str(req, "", "user")? {
        body.insert("user".into(), v.into());
    }
    if let Some(reasoning) = check::opt_object(
        req,
        "",
        "reasoning",
        "an object such as {\"effort\": \"medium\"}",
    )? && let Some(effort) = check::opt_str(reasoning, "reasoning", "effort")?
    {
        if !super::reasoning::is_effort(effort) {
            return Err(check::wrong(
                "reasoning.effort",
                super::reasoning::EFFORTS,
                &reasoning["effort"],
            ));
        }
        body.insert("reasoning_effort".into(), effort.into());
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    let tools = function_tools(req)?;
    let choice = tool_choice(req)?;
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = text_format(req)? {
        body.insert("response_format".into(), format);
    }
    Ok(Value::Object(body))
}

/// Built-in Responses tools the client runs (the model asks, the client executes): dropping
/// one would leave the client waiting for calls that never come.
const CLIENT_RUN_BUILT_INS: [&str; 5] = [
    "local_shell",
    "shell",
    "apply_patch",
    "computer_use_preview",
    "computer_use",
];

/// The client's function tools as chat tools. Responses tools are flat (`tools[0].name`).
/// Provider-run built-in tools (web_search, file_search…) have no chat equivalent and are
/// dropped; a `custom` tool or a built-in the client runs (`local_shell`, `apply_patch`…) is
/// the client's own and is refused rather than silently lost.
fn function_tools(req: &Value) -> Result<Vec<Value>, TranslateError> {
    let tools = match check::field(req, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(v) => return Err(check::wrong("tools", "an array of tools", v)),
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let p = format!("tools[{i}]");
        let kind = check::part_type(t, &p, "function, or a built-in tool such as web_search")?;
        match kind {
            "function" => {}
            "custom" => {
                return Err(TranslateError::new(
                    format!("{p}.type"),
                    format!(
                        "`{p}.type` is `custom`: free-form custom tools can't be translated for \
                         this model; define it as a function tool"
                    ),
                ));
            }
            kind if CLIENT_RUN_BUILT_INS.contains(&kind) => {
                return Err(TranslateError::new(
                    format!("{p}.type"),
                    format!(
                        "`{p}.type` is `{kind}`, a built-in tool your client runs that only \
                         OpenAI models call; this model is served by translation and would \
                         never call it. Define it as a function tool, or use a model an OpenAI \
                         account serves"
                    ),
                ));
            }
            _ => continue,
        }
        let name = check::name(t, &p, "name", "every function tool needs a name")?;
        let parameters = check::opt_object(t, &p, "parameters", "an object (a JSON Schema)")?
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        let mut f = json!({ "name": name, "parameters": parameters });
        if let Some(d) = check::opt_str(t, &p, "description")? {
            f["description"] = d.into();
        }
        if let Some(strict) = check::opt_bool(t, &p, "strict")? {
            f["strict"] = strict.into();
        }
        out.push(json!({ "type": "function", "function": f }));
    }
    Ok(out)
}

/// `tool_choice` as chat's: `auto` / `none` / `required` or `{"type": "function", "name"}`.
fn tool_choice(req: &Value) -> Result<Option<Value>, TranslateError> {
    let expected = "\"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\": ...}";
    match check::field(req, "tool_choice") {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(Some(Value::String(s.clone())))
        }
        Some(c @ Value::Object(_)) if c.get("type").and_then(Value::as_str) == Some("function") => {
            let name = check::name(
                c,
                "tool_choice",
                "name",
                "a named tool_choice names the function",
            )?;
            Ok(Some(
                json!({ "type": "function", "function": { "name": name } }),
            ))
        }
        Some(v) => Err(check::wrong("tool_choice", expected, v)),
    }
}

/// `text.format` as chat's `response_format`; `{"type": "text"}` is the default and maps to none.
fn text_format(req: &Value) -> Result<Option<Value>, TranslateError> {
    let Some(text) = check::opt_object(
        req,
        "",
        "text",
        "an object such as {\"format\": {\"type\": \"text\"}}",
    )?
    else {
        return Ok(None);
    };
    let Some(f) = check::opt_object(text, "text", "format", "an object {\"type\": ...}")? else {
        return Ok(None);
    };
    let expected = "\"text\", \"json_object\" or \"json_schema\"";
    match check::field(f, "type") {
        Some(Value::String(k)) if k == "text" => Ok(None),
        Some(Value::String(k)) if k == "json_object" => Ok(Some(json!({ "type": "json_object" }))),
        Some(Value::String(k)) if k == "json_schema" => {
            let name = check::name(
                f,
                "text.format",
                "name",
                "a json_schema format needs a name",
            )?;
            let schema =
                check::opt_object(f, "text.format", "schema", "an object (a JSON Schema)")?
                    .ok_or_else(|| {
                        check::missing(
                            "text.format.schema",
                            "a json_schema format needs its schema",
                        )
                    })?;
            let mut js = json!({ "name": name, "schema": schema });
            if let Some(strict) = check::opt_bool(f, "text.format", "strict")? {
                js["strict"] = strict.into();
            }
            if let Some(d) = check::opt_str(f, "text.format", "description")? {
                js["description"] = d.into();
            }
            Ok(Some(json!({ "type": "json_schema", "json_schema": js })))
        }
        Some(v) => Err(check::wrong("text.format.type", expected, v)),
        None => Err(check::missing(
            "text.format.type",
            &format!("a format needs a type ({expected})"),
        )),
    }
}

/// Whether `message` is an assistant turn holding only reasoning so far (made from a
/// `reasoning` item, waiting for the answer or calls it led to).
fn is_reasoning_only(message: &Value) -> bool {
    message["role"] == "assistant"
        && message["content"].is_null()
        && message.get("tool_calls").is_none()
}

/// The media of tool outputs as a user message of their own, after the tool messages.
fn flush_media(media: &mut Vec<Value>, out: &mut Vec<Value>) {
    if !media.is_empty() {
        out.push(json!({ "role": "user", "content": std::mem::take(media) }));
    }
}

/// Appends one input item to `out` as chat messages. With [`ToolMedia::AfterResults`], a tool
/// output's images and files are returned instead, for a user message after the tool
/// messages.
fn input_item(
    item: &Value,
    p: &str,
    out: &mut Vec<Value>,
    media: ToolMedia,
) -> Result<Option<Vec<Value>>, TranslateError> {
    if !item.is_object() {
        return Err(check::wrong(p, "an input item object", item));
    }
    let kind = match check::field(item, "type") {
        None => "message",
        Some(Value::String(k)) => k.as_str(),
        Some(v) => {
            return Err(check::wrong(
                &format!("{p}.type"),
                "a string (message, function_call, function_call_output or reasoning)",
                v,
            ));
        }
    };
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
            let content = message_content(&item["content"], &format!("{p}.content"), true)?;
            match out.last_mut() {
                // The answer the reasoning before it led to.
                Some(last) if role == "assistant" && is_reasoning_only(last) => {
                    last["content"] = content;
                }
                _ => out.push(json!({ "role": role, "content": content })),
            }
        }
        "function_call" => {
            let call_id = check::name(item, p, "call_id", "a function_call needs its call_id")?;
            let name = check::name(item, p, "name", "a function_call names its function")?;
            let arguments = check::opt_str(item, p, "arguments")?.unwrap_or("{}");
            let call = json!({ "id": call_id, "type": "function", "function": {
                "name": name, "arguments": arguments } });
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
            let call_id = check::name(
                item,
                p,
                "call_id",
                "a function_call_output needs the call_id of the call it answers",
            )?;
            let output = check::field(item, "output").unwrap_or(&Value::Null);
            let content = match output {
                Value::Null => Value::String(String::new()),
                output => message_content(output, &format!("{p}.output"), true)?,
            };
            let parts = match content {
                Value::Array(parts) if media == ToolMedia::AfterResults => parts,
                content => {
                    out.push(
                        json!({ "role": "tool", "tool_call_id": call_id, "content": content }),
                    );
                    return Ok(None);
                }
            };
            let (text, rest): (Vec<Value>, Vec<Value>) =
                parts.into_iter().partition(|part| part["type"] == "text");
            out.push(json!({ "role": "tool", "tool_call_id": call_id,
                "content": text_of(&Value::Array(text)) }));
            return Ok(Some(rest));
        }
        // A chat provider's reasoning this gateway made an item goes back in its field, on
        // the assistant turn it preceded (see `chat_reasoning`); other reasoning is
        // model-private, and other providers can't use it.
        "reasoning" => {
            if let Some(field) = chat_reasoning::field_of_item(item) {
                let text = chat_reasoning::item_text(item);
                match out.last_mut() {
                    Some(last) if is_reasoning_only(last) => {
                        if let Some(Value::String(acc)) = last.get_mut(field) {
                            acc.push_str(&text);
                        }
                    }
                    _ => out.push(json!({ "role": "assistant", "content": null, field: text })),
                }
            }
        }
        other => {
            return Err(TranslateError::new(
                format!("{p}.type"),
                format!("unsupported input item `{other}`"),
            ));
        }
    }
    Ok(None)
}

/// A message's content (string or parts) as chat content; `p` is the content's own path.
fn message_content(content: &Value, p: &str, allow_media: bool) -> Result<Value, TranslateError> {
    let parts = match content {
        Value::String(s) => return Ok(Value::String(s.clone())),
        Value::Array(parts) => parts,
        v => return Err(check::wrong(p, "a string or an array of content parts", v)),
    };
    let kinds = "input_text, output_text, refusal, input_image or input_file";
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{p}[{j}]");
        match check::part_type(part, &pp, kinds)? {
            "input_text" | "output_text" | "text" => {
                let text = check::opt_str(part, &pp, "text")?.ok_or_else(|| {
                    check::missing(
                        &format!("{pp}.text"),
                        "a text part carries its text in `text`",
                    )
                })?;
                out.push(json!({ "type": "text", "text": text }));
            }
            "refusal" => {
                let text = check::opt_str(part, &pp, "refusal")?.ok_or_else(|| {
                    check::missing(
                        &format!("{pp}.refusal"),
                        "a refusal part carries its text in `refusal`",
                    )
                })?;
                out.push(json!({ "type": "text", "text": text }));
            }
            "input_image" if allow_media => {
                let url = match check::field(part, "image_url") {
                    Some(Value::String(u)) => u,
                    Some(v) => {
                        return Err(check::wrong(
                            &format!("{pp}.image_url"),
                            "a string (an http(s) or data URL)",
                            v,
                        ));
                    }
                    None => {
                        return Err(TranslateError::new(
                            format!("{pp}.image_url"),
                            format!(
                                "`{pp}.image_url` is missing: only images given by URL can be translated (not file_id)"
                            ),
                        ));
                    }
                };
                out.push(json!({ "type": "image_url", "image_url": { "url": url } }));
            }
            "input_file" if allow_media => {
                let data = match check::field(part, "file_data") {
                    Some(Value::String(d)) => d,
                    Some(v) => {
                        return Err(check::wrong(
                            &format!("{pp}.file_data"),
                            "a string (a base64 data URL)",
                            v,
                        ));
                    }
                    None => {
                        return Err(TranslateError::new(
                            format!("{pp}.file_data"),
                            format!(
                                "`{pp}.file_data` is missing: only inline file_data can be translated (not file_id or file_url)"
                            ),
                        ));
                    }
                };
                let mut file = json!({ "file_data": data });
                if let Some(name) = check::opt_str(part, &pp, "filename")? {
                    file["filename"] = name.into();
                }
                out.push(json!({ "type": "file", "file": file }));
            }
            other => {
                return Err(TranslateError::new(
                    format!("{pp}.type"),
                    format!(
                        "`{pp}.type` is `{other}`, which can't be translated here; expected {kinds}"
                    ),
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
pub(crate) mod tests;
