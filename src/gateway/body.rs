//! The request body: parsing and the checks each endpoint needs, translation to the account's
//! wire format and back for whole answers, and a local token estimate.

use serde_json::{Value, json};

use super::error::GatewayError;
use super::translate;
use super::upstream::{Endpoint, Wire};

/// Output cap sent to Anthropic when an OpenAI-dialect client named none (Anthropic
/// requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Parses and checks the body: JSON object, `model`, and the fields each endpoint needs.
pub fn parse_body(endpoint: Endpoint, raw: &[u8]) -> Result<Value, GatewayError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            "body",
            "the request body is empty; send a JSON object",
        ));
    }
    let body: Value = serde_json::from_slice(raw).map_err(|e| {
        GatewayError::invalid("body", format!("the request body is not valid JSON: {e}"))
    })?;
    if !body.is_object() {
        return Err(GatewayError::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    match body.get("model") {
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
                    Some(v) if v.as_u64().is_some_and(|n| n > 0) => {}
                    Some(_) => {
                        return Err(GatewayError::invalid(
                            "max_tokens",
                            "`max_tokens` must be a positive integer",
                        ));
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
        }
    }
    Ok(body)
}

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
            let chat = translate::responses_to_chat_request(body)?;
            translate::chat_to_messages_request(&chat, DEFAULT_MAX_TOKENS)?
        }
        _ => body.clone(),
    };
    if let Some(obj) = out.as_object_mut() {
        obj.insert("model".to_owned(), Value::String(model.to_owned()));
        // Usage must come back on every stream, or the request cannot be billed.
        if stream && upstream == Wire::Chat {
            obj.insert("stream_options".to_owned(), json!({"include_usage": true}));
        }
    }
    Ok(out)
}

/// The client's answer from the upstream's, for a whole (non-streamed) response.
pub fn translate_response(
    value: &Value,
    upstream: Wire,
    client: Wire,
    client_body: &Value,
    model: &str,
) -> Value {
    match (upstream, client) {
        (Wire::Messages, Wire::Chat) => translate::messages_response_to_chat(value, model),
        (Wire::Chat, Wire::Messages) => translate::chat_response_to_messages(value, model),
        (Wire::Chat, Wire::Responses) => translate::chat_response_to_responses(value, client_body),
        (Wire::Messages, Wire::Responses) => {
            let chat = translate::messages_response_to_chat(value, model);
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
