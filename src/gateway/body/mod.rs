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
        (a, b) if a == b => {
            let mut out = body.clone();
            if is_anthropic(upstream) {
                translate::chat_reasoning::strip_from_messages(&mut out);
            } else if upstream == Wire::Responses {
                translate::chat_reasoning::strip_from_responses(&mut out);
            }
            out
        }
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
/// account serves named once, (for a chat stream) usage already requested, and no thinking
/// block or reasoning item the gateway made. Then the gateway neither copies nor
/// re-serializes it.
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
        // Thinking blocks and reasoning items made from a chat provider's reasoning would fail
        // Anthropic's and OpenAI's checks (see `translate_request`).
        && !(is_anthropic(upstream) && translate::chat_reasoning::in_messages(body))
        && !(upstream == Wire::Responses && translate::chat_reasoning::in_responses(body))
}

/// Whether `wire` is Anthropic's (Messages or its token count).
fn is_anthropic(wire: Wire) -> bool {
    matches!(wire, Wire::Messages | Wire::CountTokens)
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

/// A local estimate of input tokens for providers without a counting endpoint: the budget's
/// estimate ([`super::budget::estimate_input_tokens`]: about four ASCII characters a token,
/// one other character a token, an image a fixed amount, whatever its base64 length).
pub fn estimate_tokens(body: &Value) -> u64 {
    u64::try_from(super::budget::estimate_input_tokens(body))
        .unwrap_or(0)
        .max(1)
}
#[cfg(test)]
mod tests;
