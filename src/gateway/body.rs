//! The request body: parsing and the checks each endpoint needs, translation to the account's
//! wire format and back for whole answers, and a local token estimate.

use serde_json::{Value, json};

use super::error::GatewayError;
use super::translate;
use super::upstream::{Endpoint, Wire};

/// Output cap sent to Anthropic when an OpenAI-dialect client named none (Anthropic
/// requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The longest model name taken (bytes). Provider model ids are far shorter; the name is
/// stored with each usage record and quoted in errors.
const MAX_MODEL_LEN: usize = 256;

/// Parses and checks the body: JSON object, `model`, and the fields each endpoint needs.
pub fn parse_body(endpoint: Endpoint, raw: &[u8]) -> Result<Value, GatewayError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            "body",
            "the request body is empty; send a JSON object",
        ));
    }
    if raw.starts_with(b"\xEF\xBB\xBF") {
        return Err(GatewayError::invalid(
            "body",
            "the request body starts with a UTF-8 byte order mark (EF BB BF), which JSON does \
             not allow; send the body without it (Windows editors and PowerShell's UTF8 \
             encoding add one)",
        ));
    }
    let utf16 = raw.starts_with(b"\xFF\xFE") || raw.starts_with(b"\xFE\xFF");
    if utf16 || (raw.len() > 1 && (raw[0] == 0 || raw[1] == 0)) {
        return Err(GatewayError::invalid(
            "body",
            "the request body is UTF-16 text; send the JSON in UTF-8",
        ));
    }
    let body: Value = serde_json::from_slice(raw).map_err(|e| {
        // serde_json reports depth as a syntax error, but the JSON may well be valid.
        if e.to_string().starts_with("recursion limit exceeded") {
            GatewayError::invalid(
                "body",
                "the JSON is nested deeper than 128 levels; flatten the request",
            )
        } else if e.to_string().contains("hex escape") || e.to_string().contains("surrogate") {
            // Usually a string cut in the middle of an emoji (JavaScript's slice works on
            // UTF-16 units), which leaves half of a \uD83D\uDE00 pair.
            GatewayError::invalid(
                "body",
                format!(
                    "the request body is not valid JSON: {e}; a \\uD800-\\uDFFF escape must be one of a pair (high then low surrogate), as text cut inside an emoji leaves half of one"
                ),
            )
        } else {
            GatewayError::invalid("body", format!("the request body is not valid JSON: {e}"))
        }
    })?;
    if !body.is_object() {
        return Err(GatewayError::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    match body.get("model") {
        Some(Value::String(m)) if m.len() > MAX_MODEL_LEN => {
            return Err(GatewayError::invalid(
                "model",
                format!(
                    "`model` is {} bytes long; a model name has at most {MAX_MODEL_LEN}",
                    m.len()
                ),
            ));
        }
        Some(Value::String(m)) if !m.trim().is_empty() => {}
        Some(_) => {
            return Err(GatewayError::invalid(
                "model",
                "`model` must be a non-empty string",
            ));
        }
        None => {
            return Err(GatewayError::invalid(
                "model",
                "missing required field `model`",
            ));
        }
    }
    if let Some(stream) = body.get("stream")
        && !stream.is_boolean()
        && !stream.is_null()
    {
        return Err(GatewayError::invalid(
            "stream",
            "`stream` must be true or false",
        ));
    }
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::CountTokens => {
            match body.get("messages") {
                Some(Value::Array(list)) if !list.is_empty() => {}
                Some(Value::Array(_)) => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "`messages` must hold at least one message",
                    ));
                }
                Some(_) => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "`messages` must be an array of messages",
                    ));
                }
                None => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "missing required field `messages`",
                    ));
                }
            }
            if endpoint == Endpoint::Messages {
                match body.get("max_tokens") {
                    Some(v) => {
                        translate::token_cap(v, "max_tokens")
                            .map_err(|e| GatewayError::invalid(e.param, e.message))?;
                    }
                    None => {
                        return Err(GatewayError::invalid(
                            "max_tokens",
                            "missing required field `max_tokens`",
                        ));
                    }
                }
            }
        }
        Endpoint::Responses => {
            if body.get("input").is_none() {
                return Err(GatewayError::invalid(
                    "input",
                    "missing required field `input`",
                ));
            }
            // A background response is answered `queued` and spends its tokens afterwards,
            // where no request of this gateway sees them: its usage could not be recorded,
            // charged or held against a budget.
            if body.get("background") == Some(&Value::Bool(true)) {
                return Err(GatewayError::invalid(
                    "background",
                    "`background: true` is not served through AiCarpool: a background response \
                     spends its tokens after this request has been answered, where the gateway \
                     cannot count them against your group's budget; send the request without \
                     `background` (with `stream: true` for a long task)",
                ));
            }
        }
    }
    let dialect = match endpoint {
        Endpoint::ChatCompletions => translate::BodyDialect::Chat,
        Endpoint::Messages | Endpoint::CountTokens => translate::BodyDialect::Messages,
        Endpoint::Responses => translate::BodyDialect::Responses,
    };
    translate::request_shape(dialect, &body)
        .map_err(|e| GatewayError::invalid(e.param, e.message))?;
    Ok(body)
}

/// The fields that cap a request's output tokens, in any dialect.
pub(crate) const TOKEN_CAPS: [&str; 3] =
    ["max_tokens", "max_completion_tokens", "max_output_tokens"];

/// The upstream body for `upstream` from the client's body in `client` format.
pub fn translate_request(
    body: &Value,
    client: Wire,
    upstream: Wire,
    model: &str,
    stream: bool,
) -> Result<Value, translate::TranslateError> {
    let mut out = match (client, upstream) {
        (a, b) if a == b => body.clone(),
        (Wire::Chat, Wire::Messages) => {
            translate::chat_to_messages_request(body, DEFAULT_MAX_TOKENS)?
        }
        (Wire::Messages, Wire::Chat) => translate::messages_to_chat_request(body)?,
        (Wire::Responses, Wire::Chat) => translate::responses_to_chat_request(body)?,
        (Wire::Responses, Wire::Messages) => {
            translate::responses_to_messages_request(body, DEFAULT_MAX_TOKENS)
                .map_err(responses_names)?
        }
        _ => body.clone(),
    };
    if let Some(obj) = out.as_object_mut() {
        obj.insert("model".to_owned(), Value::String(model.to_owned()));
        // A cap the checks took as whole (`100.0`, as Python's json writes a float) goes on
        // as the integer providers require.
        for field in TOKEN_CAPS {
            if let Some(cap) = obj.get_mut(field)
                && cap.is_f64()
                && let Ok(n) = translate::token_cap(cap, field)
            {
                *cap = n.into();
            }
        }
        // Usage must come back on every stream, or the request cannot be billed; the client's
        // other stream options stay.
        if stream && upstream == Wire::Chat {
            match obj.get_mut("stream_options").and_then(Value::as_object_mut) {
                Some(options) => {
                    options.insert("include_usage".to_owned(), Value::Bool(true));
                }
                None => {
                    obj.insert("stream_options".to_owned(), json!({"include_usage": true}));
                }
            }
        }
    }
    Ok(out)
}

/// An error from the chat step of Responses -> Anthropic, naming the Responses field:
/// `text.format` is what became `response_format`.
fn responses_names(mut e: translate::TranslateError) -> translate::TranslateError {
    let rename = |s: &str| {
        s.replace("response_format.json_schema.", "text.format.")
            .replace("response_format", "text.format")
    };
    e.param = rename(&e.param);
    e.message = rename(&e.message);
    e
}

/// Whether the client's body can go upstream byte for byte: same wire format, the model the
/// account serves named once, and (for a chat stream) usage already requested. Then the
/// gateway neither copies nor re-serializes it.
pub fn passes_through(
    raw: &[u8],
    body: &Value,
    client: Wire,
    upstream: Wire,
    model: &str,
    stream: bool,
) -> bool {
    client == upstream
        && body.get("model").and_then(Value::as_str) == Some(model)
        // A second `"model"` key would let the provider read another model than the one
        // checked here; inside strings the quotes are escaped, so this counts keys (and the
        // rare string value "model", which only costs the fast path).
        && memchr::memmem::find_iter(raw, b"\"model\"").count() == 1
        // A cap written as a float is rewritten (see `translate_request`).
        && !TOKEN_CAPS.iter().any(|f| body.get(f).is_some_and(Value::is_f64))
        && (!stream
            || upstream != Wire::Chat
            || body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)))
}

/// What a whole upstream answer lacks to be translated from `upstream`'s format, if anything:
/// a chat completion needs a first choice with a `message` object (the one translated), an
/// Anthropic message `type: "message"` and a `content` array, a Response an `output` array.
/// Without this check an answer like `{"foo":1}` would become an empty "successful" one.
pub fn missing_for_translation(value: &Value, upstream: Wire) -> Option<&'static str> {
    if !value.is_object() {
        return Some("not a JSON object");
    }
    match upstream {
        Wire::Chat => match value.get("choices").and_then(Value::as_array) {
            None => Some("no choices"),
            Some(choices) if choices.is_empty() => Some("no choices"),
            Some(choices) => (!choices[0].get("message").is_some_and(Value::is_object))
                .then_some("no message in the first choice"),
        },
        Wire::Messages => {
            if value.get("type").and_then(Value::as_str) != Some("message") {
                Some("not a message")
            } else if !value.get("content").is_some_and(Value::is_array) {
                Some("no content")
            } else {
                None
            }
        }
        Wire::Responses => {
            (!value.get("output").is_some_and(Value::is_array)).then_some("no output")
        }
        Wire::CountTokens => None,
    }
}

/// The client's answer from the upstream's, for a whole (non-streamed) response.
pub fn translate_response(
    value: &Value,
    upstream: Wire,
    client: Wire,
    client_body: &Value,
    model: &str,
) -> Value {
    // An Anthropic answer may need reshaping for what the client asked (JSON, legacy calls).
    let shape = translate::AnswerShape::of_client_body(client_body);
    match (upstream, client) {
        (Wire::Messages, Wire::Chat) => {
            translate::messages_response_to_chat_shaped(value, model, shape)
        }
        (Wire::Chat, Wire::Messages) => translate::chat_response_to_messages(value, model),
        (Wire::Chat, Wire::Responses) => translate::chat_response_to_responses(value, client_body),
        (Wire::Messages, Wire::Responses) => {
            let chat = translate::messages_response_to_chat_shaped(value, model, shape);
            translate::chat_response_to_responses(&chat, client_body)
        }
        _ => value.clone(),
    }
}

/// A local estimate of input tokens (about four characters a token) for providers without
/// a counting endpoint.
pub fn estimate_tokens(body: &Value) -> u64 {
    let mut chars = 0usize;
    for field in ["system", "messages", "tools"] {
        if let Some(v) = body.get(field) {
            chars += v.to_string().len();
        }
    }
    (chars as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(raw: &str, client: Wire, upstream: Wire, model: &str, stream: bool) -> bool {
        let body: Value = serde_json::from_str(raw).unwrap_or_default();
        passes_through(raw.as_bytes(), &body, client, upstream, model, stream)
    }

    #[test]
    fn a_byte_order_mark_or_utf16_is_named() {
        let json = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(json.as_bytes());
        let err = parse_body(Endpoint::ChatCompletions, &bom).unwrap_err();
        assert!(err.message.contains("byte order mark"), "{}", err.message);
        let utf16: Vec<u8> = json.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let err = parse_body(Endpoint::ChatCompletions, &utf16).unwrap_err();
        assert!(err.message.contains("UTF-16"), "{}", err.message);
        assert!(parse_body(Endpoint::ChatCompletions, json.as_bytes()).is_ok());
    }

    #[test]
    fn a_model_name_is_a_short_string() {
        let body = |model: &str| {
            format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
        };
        let longest = "m".repeat(MAX_MODEL_LEN);
        assert!(parse_body(Endpoint::ChatCompletions, body(&longest).as_bytes()).is_ok());
        let err = parse_body(
            Endpoint::ChatCompletions,
            body(&format!("{longest}m")).as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("257 bytes"), "{}", err.message);
        assert!(parse_body(Endpoint::ChatCompletions, body(" ").as_bytes()).is_err());
    }

    #[test]
    fn unchanged_bodies_pass_through_and_others_are_rewritten() {
        let chat = r#"{"model":"m","messages":[{"role":"user","content":"say \"model\""}]}"#;
        assert!(check(chat, Wire::Chat, Wire::Chat, "m", false));
        // Another model (alias), another wire, a chat stream without usage: rewritten.
        assert!(!check(chat, Wire::Chat, Wire::Chat, "m-2024", false));
        assert!(!check(chat, Wire::Chat, Wire::Messages, "m", false));
        assert!(!check(chat, Wire::Chat, Wire::Chat, "m", true));
        let with_usage =
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
        assert!(check(with_usage, Wire::Chat, Wire::Chat, "m", true));
        // Anthropic streams always carry usage.
        let messages = r#"{"model":"m","stream":true,"max_tokens":5,"messages":[]}"#;
        assert!(check(messages, Wire::Messages, Wire::Messages, "m", true));
        // A duplicate key is never passed on as it is: the provider might read the other one.
        let twice = r#"{"model":"cheap","messages":[],"model":"m"}"#;
        assert!(!check(twice, Wire::Chat, Wire::Chat, "m", false));
        // A cap written as a float (Python's `100.0`) goes on as the integer.
        let float = r#"{"model":"m","max_tokens":100.0,"messages":[]}"#;
        assert!(!check(float, Wire::Messages, Wire::Messages, "m", false));
        let body: Value = serde_json::from_str(float).unwrap();
        let out = translate_request(&body, Wire::Messages, Wire::Messages, "m", false).unwrap();
        assert_eq!(out["max_tokens"], json!(100));
        assert!(out["max_tokens"].is_u64());
    }

    #[test]
    fn answers_without_what_translation_reads_are_refused() {
        let missing = |v: Value, wire| missing_for_translation(&v, wire);
        let chat_ok =
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]});
        assert_eq!(missing(chat_ok, Wire::Chat), None);
        assert_eq!(missing(json!({"foo": 1}), Wire::Chat), Some("no choices"));
        assert_eq!(
            missing(json!({"choices": []}), Wire::Chat),
            Some("no choices")
        );
        assert_eq!(
            missing(json!({"choices": "x"}), Wire::Chat),
            Some("no choices")
        );
        assert_eq!(
            missing(json!({"choices": [{"delta": {}}]}), Wire::Chat),
            Some("no message in the first choice")
        );
        assert_eq!(missing(Value::Null, Wire::Chat), Some("not a JSON object"));
        let message_ok = json!({"type": "message", "content": [], "usage": {}});
        assert_eq!(missing(message_ok, Wire::Messages), None);
        assert_eq!(
            missing(json!({"foo": 1}), Wire::Messages),
            Some("not a message")
        );
        assert_eq!(
            missing(json!({"type": "message", "content": null}), Wire::Messages),
            Some("no content")
        );
        assert_eq!(missing(json!({"output": []}), Wire::Responses), None);
        assert_eq!(
            missing(json!([1]), Wire::Responses),
            Some("not a JSON object")
        );
    }

    #[test]
    fn usage_is_requested_on_chat_streams_keeping_the_clients_options() {
        let body = serde_json::json!({"model": "a", "stream": true,
            "stream_options": {"include_obfuscation": false}, "messages": []});
        let out = translate_request(&body, Wire::Chat, Wire::Chat, "b", true).unwrap();
        assert_eq!(out["model"], "b");
        assert_eq!(
            out["stream_options"],
            serde_json::json!({"include_obfuscation": false, "include_usage": true})
        );
        let bare = serde_json::json!({"model": "a", "stream": true, "messages": []});
        let out = translate_request(&bare, Wire::Chat, Wire::Chat, "a", true).unwrap();
        assert_eq!(
            out["stream_options"],
            serde_json::json!({"include_usage": true})
        );
    }

    #[test]
    fn responses_format_errors_name_the_responses_field() {
        let body = json!({"model": "m", "input": "hi", "text": {"format": {
            "type": "json_schema", "name": "x", "schema": {"type": "array"}}}});
        let err =
            translate_request(&body, Wire::Responses, Wire::Messages, "m", false).unwrap_err();
        assert_eq!(err.param, "text.format.schema.type");
        assert!(
            err.message.starts_with("`text.format.schema.type` must be"),
            "{}",
            err.message
        );
    }

    #[test]
    fn malformed_messages_are_refused_before_any_provider_sees_them() {
        let refused = |endpoint, body: Value| {
            parse_body(endpoint, body.to_string().as_bytes())
                .map(|_| ())
                .map_err(|e| (e.param.unwrap_or_default(), e.message))
        };
        let chat = |messages: Value| json!({"model": "m", "messages": messages});
        let user = json!({"role": "user", "content": "hi"});
        for (body, param, says) in [
            (
                chat(json!([null])),
                "messages[0]",
                "a message object; got null",
            ),
            (chat(json!([user, 5])), "messages[1]", "got 5"),
            (
                chat(json!([{"content": "hi"}])),
                "messages[0].role",
                "needs a role",
            ),
            (
                chat(json!([{"role": 1, "content": "hi"}])),
                "messages[0].role",
                "a string",
            ),
            (
                chat(json!([{"role": "", "content": "hi"}])),
                "messages[0].role",
                "a chat role",
            ),
            (
                chat(json!([{"role": "user", "content": 5}])),
                "messages[0].content",
                "got 5",
            ),
            (
                chat(json!([{"role": "user", "content": ["hi"]}])),
                "messages[0].content[0]",
                "an object",
            ),
            (
                json!({"model": "m", "max_tokens": "lots", "messages": [user]}),
                "max_tokens",
                "whole number",
            ),
            (
                json!({"model": "m", "tools": {"a": 1}, "messages": [user]}),
                "tools",
                "an array of tools",
            ),
            (
                json!({"model": "m", "tools": ["f"], "messages": [user]}),
                "tools[0]",
                "an object",
            ),
        ] {
            let (p, message) = refused(Endpoint::ChatCompletions, body.clone()).unwrap_err();
            assert_eq!(p, param, "{body}");
            assert!(message.contains(says), "{body}: {message}");
        }
        let messages =
            |messages: Value| json!({"model": "m", "max_tokens": 5, "messages": messages});
        for (body, param) in [
            (
                messages(json!([{"role": "system", "content": "x"}])),
                "messages[0].role",
            ),
            (messages(json!([{"role": "user"}])), "messages[0].content"),
            (
                messages(json!([{"role": "user", "content": 3}])),
                "messages[0].content",
            ),
            (
                messages(json!([{"role": "user", "content": [{"text": "x"}]}])),
                "messages[0].content[0].type",
            ),
            (
                messages(json!([{"role": "user", "content": ["x"]}])),
                "messages[0].content[0]",
            ),
        ] {
            for endpoint in [Endpoint::Messages, Endpoint::CountTokens] {
                assert_eq!(
                    refused(endpoint, body.clone()).unwrap_err().0,
                    param,
                    "{body}"
                );
            }
        }
        for (body, param) in [
            (json!({"model": "m", "input": null}), "input"),
            (json!({"model": "m", "input": 5}), "input"),
            (json!({"model": "m", "input": ["x"]}), "input[0]"),
            (
                json!({"model": "m", "input": "x", "max_output_tokens": -1}),
                "max_output_tokens",
            ),
        ] {
            assert_eq!(
                refused(Endpoint::Responses, body.clone()).unwrap_err().0,
                param,
                "{body}"
            );
        }
        // What real clients send passes: null options, tool turns, content parts and blocks.
        let ok = [
            (
                Endpoint::ChatCompletions,
                json!({"model": "m", "max_tokens": null, "tools": null, "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "42"}]}),
            ),
            (
                Endpoint::Messages,
                json!({"model": "m", "max_tokens": 9, "tools": [{"name": "f", "input_schema": {}}], "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}]}]}),
            ),
            (
                Endpoint::Responses,
                json!({"model": "m", "input": [{"role": "user", "content": "hi"}, {"type": "function_call_output", "call_id": "c", "output": "42"}]}),
            ),
            (
                Endpoint::Responses,
                json!({"model": "m", "input": "hi", "max_output_tokens": 64}),
            ),
        ];
        for (endpoint, body) in ok {
            assert_eq!(refused(endpoint, body.clone()), Ok(()), "{body}");
        }
    }

    #[test]
    fn deep_json_is_called_deep_not_invalid() {
        let deep = format!(
            "{{\"model\":\"m\",\"x\":{}1{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let err = parse_body(Endpoint::ChatCompletions, deep.as_bytes()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("body"));
        assert_eq!(
            err.message,
            "the JSON is nested deeper than 128 levels; flatten the request"
        );
        // Half of a surrogate pair (a string cut inside an emoji) is named as such.
        for cut in [r#""ab\ud83d""#, r#""ab\ud83dcd""#, r#""\ude00""#] {
            let raw = format!(r#"{{"model":"m","messages":[{{"role":"user","content":{cut}}}]}}"#);
            let err = parse_body(Endpoint::ChatCompletions, raw.as_bytes()).unwrap_err();
            assert!(err.message.contains("surrogate"), "{cut}: {}", err.message);
        }
        let err = parse_body(Endpoint::ChatCompletions, b"{\"model\":").unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
    }

    #[test]
    fn messages_max_tokens_fits_u32() {
        let raw =
            br#"{"model":"m","max_tokens":4294967296,"messages":[{"role":"user","content":"x"}]}"#;
        let err = parse_body(Endpoint::Messages, raw).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("max_tokens"));
        assert!(
            err.message.contains("from 1 to 4294967295"),
            "{}",
            err.message
        );
    }
}
