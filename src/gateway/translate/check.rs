//! Type checks for the request fields a translator reads or rewrites. A field the gateway
//! translates is its responsibility: a wrong type becomes a 400 naming the field by its JSON
//! path and saying what was expected, never a silent default (a dropped `max_tokens` would
//! bill the caller for the default cap). Ranges stay the provider's business, except the
//! sampling ones every request is checked for (`temperature`, `top_p`).

use serde_json::{Value, json};

use super::TranslateError;

/// The largest output cap accepted: what every provider's token fields fit in.
pub(crate) const MAX_TOKENS_LIMIT: u64 = u32::MAX as u64;

/// Field `key` of `obj`, with JSON `null` read as absent (some chat apps send `null` for
/// options they leave unset).
pub(crate) fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// The JSON path of `key` under `prefix` (`""` is the body itself).
pub(crate) fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// What a client sent, briefly: numbers and booleans as they are, short strings quoted,
/// containers by kind (their content may be large or private).
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 24 => format!("the string {v}"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `param` holds `got` where `expected` belongs.
pub(crate) fn wrong(param: &str, expected: &str, got: &Value) -> TranslateError {
    TranslateError::new(
        param,
        format!("`{param}` must be {expected}; got {}", describe(got)),
    )
}

/// `param` is required and absent; `why` says what needs it.
pub(crate) fn missing(param: &str, why: &str) -> TranslateError {
    TranslateError::new(param, format!("`{param}` is missing: {why}"))
}

/// The dialect of a request body, for [`request_shape`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    Chat,
    /// Anthropic Messages (and token counting).
    Messages,
    /// OpenAI Responses.
    Responses,
}

/// The shape every provider of `dialect` needs, checked before a body is sent on unchanged, so
/// a malformed request gets the gateway's 400 naming the field rather than whatever an
/// upstream makes of it (a 5xx from a provider would count against the account): each message
/// an object with a role (Anthropic: `user`, `assistant` or `system`, with text or content
/// blocks),
/// content parts, tools and input items objects, token caps whole numbers, `temperature` and
/// `top_p` in their dialect's range (see [`sampling`]). Translation checks more; other values
/// and ranges stay the provider's business.
pub fn request_shape(dialect: Dialect, body: &Value) -> Result<(), TranslateError> {
    // Paths are only written out for an error: this runs on every request.
    let at = |i: usize, rest: &str| format!("messages[{i}]{rest}");
    sampling(dialect, body)?;
    match dialect {
        Dialect::Chat => {
            for key in ["max_tokens", "max_completion_tokens"] {
                if let Some(v) = field(body, key) {
                    token_cap(v, key)?;
                }
            }
            for (i, m) in list(body, "messages").iter().enumerate() {
                if role(m, i)?.is_empty() {
                    return Err(wrong(&at(i, ".role"), "a chat role", &m["role"]));
                }
                match field(m, "content") {
                    None | Some(Value::String(_)) => {}
                    Some(Value::Array(parts)) => objects(parts, || at(i, ".content"))?,
                    Some(v) => {
                        return Err(wrong(
                            &at(i, ".content"),
                            "a string or an array of content parts",
                            v,
                        ));
                    }
                }
            }
        }
        Dialect::Messages => {
            let messages = list(body, "messages");
            for (i, m) in messages.iter().enumerate() {
                let role = role(m, i)?;
                // `system`: a system message mid-conversation (Claude Opus 4.8 and later; Claude
                // Code 2.1 sends one after the first user turn).
                if !matches!(role, "user" | "assistant" | "system") {
                    return Err(wrong(
                        &at(i, ".role"),
                        "`user`, `assistant` or `system`",
                        &m["role"],
                    ));
                }
                match field(m, "content") {
                    Some(Value::String(_)) => {}
                    // As Anthropic's API: only a final assistant turn (a prefill) may be empty;
                    // an empty turn elsewhere would vanish in translation.
                    Some(Value::Array(blocks))
                        if blocks.is_empty()
                            && !(role == "assistant" && i + 1 == messages.len()) =>
                    {
                        let param = at(i, ".content");
                        return Err(TranslateError::new(
                            &param,
                            format!(
                                "`{param}` is empty: a message needs at least one content block (only a final assistant message may be empty)"
                            ),
                        ));
                    }
                    Some(Value::Array(blocks)) => {
                        objects(blocks, || at(i, ".content"))?;
                        if let Some(j) = blocks
                            .iter()
                            .position(|b| !b.get("type").is_some_and(Value::is_string))
                        {
                            return Err(missing(
                                &at(i, &format!(".content[{j}].type")),
                                "each content block needs a `type`",
                            ));
                        }
                    }
                    Some(v) => {
                        return Err(wrong(
                            &at(i, ".content"),
                            "a string or an array of content blocks",
                            v,
                        ));
                    }
                    None => {
                        return Err(missing(
                            &at(i, ".content"),
                            "each message needs its text or content blocks",
                        ));
                    }
                }
            }
        }
        Dialect::Responses => {
            if let Some(v) = field(body, "max_output_tokens") {
                token_cap(v, "max_output_tokens")?;
            }
            match field(body, "input") {
                Some(Value::String(_)) => {}
                Some(Value::Array(items)) => objects(items, || "input".to_owned())?,
                Some(v) => {
                    return Err(wrong("input", "a string or an array of input items", v));
                }
                None => return Err(missing("input", "the Responses API needs an input")),
            }
        }
    }
    match field(body, "tools") {
        None => Ok(()),
        Some(Value::Array(tools)) => objects(tools, || "tools".to_owned()),
        Some(v) => Err(wrong("tools", "an array of tools", v)),
    }
}

/// `temperature` and `top_p` as the caller's own API takes them: OpenAI's temperature from 0 to
/// 2, Anthropic's from 0 to 1, `top_p` from 0 to 1 in both. Checked on every request, sent on
/// or translated: a translation would otherwise change a value out of range without a word
/// (Anthropic's range is narrower, so -5 would become 0), and a provider's 400 for it would
/// differ from provider to provider.
fn sampling(dialect: Dialect, body: &Value) -> Result<(), TranslateError> {
    let top_temperature = match dialect {
        Dialect::Chat | Dialect::Responses => 2.0,
        Dialect::Messages => 1.0,
    };
    for (key, top) in [("temperature", top_temperature), ("top_p", 1.0)] {
        if let Some(v) = field(body, key)
            && !v.as_f64().is_some_and(|x| (0.0..=top).contains(&x))
        {
            return Err(wrong(key, &format!("a number from 0 to {top}"), v));
        }
    }
    Ok(())
}

/// The array at `key`, empty when it is anything else (checked elsewhere).
fn list<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The role of message `i`, which must be an object with a string role.
fn role(m: &Value, i: usize) -> Result<&str, TranslateError> {
    if !m.is_object() {
        return Err(wrong(&format!("messages[{i}]"), "a message object", m));
    }
    match field(m, "role") {
        Some(Value::String(r)) => Ok(r),
        Some(v) => Err(wrong(&format!("messages[{i}].role"), "a string", v)),
        None => Err(missing(
            &format!("messages[{i}].role"),
            "each message needs a role",
        )),
    }
}

/// Every item of `items` (at the path `param` gives) is an object.
fn objects(items: &[Value], param: impl Fn() -> String) -> Result<(), TranslateError> {
    match items.iter().position(|v| !v.is_object()) {
        Some(i) => Err(wrong(&format!("{}[{i}]", param()), "an object", &items[i])),
        None => Ok(()),
    }
}

/// A token cap: a whole number from 1 to `u32::MAX` (`100.0` counts as 100).
pub(crate) fn token_cap(v: &Value, param: &str) -> Result<u64, TranslateError> {
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= MAX_TOKENS_LIMIT as f64)
            .map(|f| f as u64)
    });
    n.filter(|n| (1..=MAX_TOKENS_LIMIT).contains(n))
        .ok_or_else(|| {
            wrong(
                param,
                &format!("a whole number of tokens from 1 to {MAX_TOKENS_LIMIT}"),
                v,
            )
        })
}

/// An optional token cap at `obj.key`.
pub(crate) fn opt_token_cap(
    obj: &Value,
    prefix: &str,
    key: &str,
) -> Result<Option<u64>, TranslateError> {
    field(obj, key)
        .map(|v| token_cap(v, &path(prefix, key)))
        .transpose()
}

/// An optional number at `obj.key` (sampling parameters; their ranges are the provider's).
pub(crate) fn opt_number<'a>(
    obj: &'a Value,
    prefix: &str,
    key: &str,
) -> Result<Option<&'a Value>, TranslateError> {
    match field(obj, key) {
        Some(v) if !v.is_number() => Err(wrong(&path(prefix, key), "a number", v)),
        other => Ok(other),
    }
}

/// An optional string at `obj.key`.
pub(crate) fn opt_str<'a>(
    obj: &'a Value,
    prefix: &str,
    key: &str,
) -> Result<Option<&'a str>, TranslateError> {
    match field(obj, key) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong(&path(prefix, key), "a string", v)),
        None => Ok(None),
    }
}

/// The input of a function call at `obj.arguments` (path `prefix.arguments`): a JSON object
/// encoded as a string, as OpenAI sends it (empty or missing means `{}`), or the object
/// itself.
pub(crate) fn call_arguments(obj: &Value, prefix: &str) -> Result<Value, TranslateError> {
    let param = path(prefix, "arguments");
    let expected = "a JSON object encoded as a string";
    match field(obj, "arguments") {
        None => Ok(json!({})),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| TranslateError::new(&param, format!("`{param}` must be {expected}"))),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(v) => Err(wrong(&param, expected, v)),
    }
}

/// An optional `true` / `false` at `obj.key`.
pub(crate) fn opt_bool(
    obj: &Value,
    prefix: &str,
    key: &str,
) -> Result<Option<bool>, TranslateError> {
    match field(obj, key) {
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(wrong(&path(prefix, key), "true or false", v)),
        None => Ok(None),
    }
}

/// An optional object at `obj.key`.
pub(crate) fn opt_object<'a>(
    obj: &'a Value,
    prefix: &str,
    key: &str,
    expected: &str,
) -> Result<Option<&'a Value>, TranslateError> {
    match field(obj, key) {
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(v) => Err(wrong(&path(prefix, key), expected, v)),
        None => Ok(None),
    }
}

/// A required non-empty string at `obj.key`; `why` says what needs it.
pub(crate) fn name<'a>(
    obj: &'a Value,
    prefix: &str,
    key: &str,
    why: &str,
) -> Result<&'a str, TranslateError> {
    let param = path(prefix, key);
    match field(obj, key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(v) => Err(wrong(&param, "a non-empty string", v)),
        None => Err(missing(&param, why)),
    }
}

/// Stop sequences: one string or an array of strings, as a list.
pub(crate) fn stop_sequences<'a>(
    v: &'a Value,
    param: &str,
    allow_single: bool,
) -> Result<Vec<&'a str>, TranslateError> {
    let expected = if allow_single {
        "a string or an array of strings"
    } else {
        "an array of strings"
    };
    match v {
        Value::String(s) if allow_single => Ok(vec![s]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .ok_or_else(|| wrong(&format!("{param}[{i}]"), "a string", s))
            })
            .collect(),
        _ => Err(wrong(param, expected, v)),
    }
}

/// The `type` of a content part or block, which must be a string.
pub(crate) fn part_type<'a>(
    part: &'a Value,
    p: &str,
    kinds: &str,
) -> Result<&'a str, TranslateError> {
    if !part.is_object() {
        return Err(wrong(
            p,
            &format!("an object with a `type` ({kinds})"),
            part,
        ));
    }
    match field(part, "type") {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(wrong(&path(p, "type"), &format!("a string ({kinds})"), v)),
        None => Err(missing(
            &path(p, "type"),
            &format!("each part needs a type ({kinds})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_caps_are_whole_positive_and_fit_u32() {
        assert_eq!(token_cap(&json!(100), "m"), Ok(100));
        assert_eq!(token_cap(&json!(100.0), "m"), Ok(100));
        assert_eq!(token_cap(&json!(4_294_967_295u64), "m"), Ok(4_294_967_295));
        for bad in [
            json!("100"),
            json!(-5),
            json!(0),
            json!(10.5),
            json!(4_294_967_296u64),
            json!(18_446_744_073_709_551_615u64),
            json!(1e300),
            json!(true),
        ] {
            let err = token_cap(&bad, "max_tokens").unwrap_err();
            assert_eq!(err.param, "max_tokens");
            assert!(
                err.message.starts_with(
                    "`max_tokens` must be a whole number of tokens from 1 to 4294967295; got "
                ),
                "{}",
                err.message
            );
        }
        assert_eq!(
            token_cap(&json!("100"), "max_tokens").unwrap_err().message,
            "`max_tokens` must be a whole number of tokens from 1 to 4294967295; got the string \"100\""
        );
    }

    /// An empty turn would vanish in translation (and Anthropic refuses it): only a final
    /// assistant prefill may be empty.
    #[test]
    fn only_a_final_assistant_turn_may_be_empty() {
        let body = |messages| json!({"model": "m", "max_tokens": 5, "messages": messages});
        let empty_user = body(json!([{"role": "user", "content": []}]));
        let err = request_shape(Dialect::Messages, &empty_user).unwrap_err();
        assert_eq!(err.param, "messages[0].content");
        assert!(err.message.contains("is empty"), "{}", err.message);
        let empty_middle = body(json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": []},
            {"role": "user", "content": "and?"},
        ]));
        let err = request_shape(Dialect::Messages, &empty_middle).unwrap_err();
        assert_eq!(err.param, "messages[1].content");
        let prefill = body(json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": []},
        ]));
        assert!(request_shape(Dialect::Messages, &prefill).is_ok());
    }

    /// OpenAI's dialects take a temperature from 0 to 2, Anthropic's from 0 to 1, and `top_p`
    /// is 0 to 1 in all; outside, a 400 naming the field, never a value changed quietly.
    #[test]
    fn sampling_values_are_in_the_callers_range() {
        let chat = |extra: Value| {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        for ok in [
            json!({"temperature": 0}),
            json!({"temperature": 2}),
            json!({"temperature": 1.3, "top_p": 1}),
            json!({"temperature": null, "top_p": 0.0}),
        ] {
            request_shape(Dialect::Chat, &chat(ok.clone())).unwrap();
            let responses = json!({"model": "m", "input": "hi"});
            let mut responses = responses.as_object().unwrap().clone();
            responses.extend(ok.as_object().unwrap().clone());
            request_shape(Dialect::Responses, &Value::Object(responses)).unwrap();
        }
        for (dialect, extra, message) in [
            (
                Dialect::Chat,
                json!({"temperature": 2.5}),
                "`temperature` must be a number from 0 to 2; got 2.5",
            ),
            (
                Dialect::Chat,
                json!({"temperature": -5}),
                "`temperature` must be a number from 0 to 2; got -5",
            ),
            (
                Dialect::Chat,
                json!({"temperature": "hot"}),
                "`temperature` must be a number from 0 to 2; got the string \"hot\"",
            ),
            (
                Dialect::Chat,
                json!({"top_p": 1.5}),
                "`top_p` must be a number from 0 to 1; got 1.5",
            ),
            (
                Dialect::Messages,
                json!({"max_tokens": 5, "temperature": 1.5}),
                "`temperature` must be a number from 0 to 1; got 1.5",
            ),
            (
                Dialect::Messages,
                json!({"max_tokens": 5, "top_p": -0.1}),
                "`top_p` must be a number from 0 to 1; got -0.1",
            ),
        ] {
            let err = request_shape(dialect, &chat(extra)).unwrap_err();
            assert_eq!(err.message, message);
        }
        let hot = json!({"model": "m", "input": "hi", "temperature": 3});
        assert_eq!(
            request_shape(Dialect::Responses, &hot).unwrap_err().param,
            "temperature"
        );
    }

    #[test]
    fn null_is_absent_and_long_strings_are_not_echoed() {
        let obj = json!({"t": null, "s": "x".repeat(100)});
        assert_eq!(opt_number(&obj, "", "t"), Ok(None));
        assert_eq!(
            opt_number(&obj, "", "s").unwrap_err().message,
            "`s` must be a number; got a string"
        );
        assert_eq!(
            stop_sequences(&json!(["a", 5]), "stop", true)
                .unwrap_err()
                .param,
            "stop[1]"
        );
    }
}
