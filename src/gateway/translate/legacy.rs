//! The deprecated chat fields old clients still send: `functions` / `function_call` in the
//! request, assistant turns with a `function_call` and `role: "function"` results in the
//! history. They become Anthropic tools, `tool_use` and `tool_result`; the answer goes back in
//! the legacy shape ([`super::AnswerShape`]).

use serde_json::{Value, json};

use super::{TranslateError, check};

/// The id given to the legacy call in `messages[i]` (legacy calls have none); the function
/// message after it answers that id.
fn call_id(i: usize) -> String {
    format!("call_legacy_{i}")
}

/// `functions` and `function_call` as the chat `tools`, `tool_choice` and
/// `parallel_tool_calls: false` (a legacy answer holds one call), or `None` when the request
/// has no functions.
pub(crate) fn functions_as_tools(req: &Value) -> Result<Option<Value>, TranslateError> {
    let functions = match check::field(req, "functions") {
        None => return Ok(None),
        Some(Value::Array(f)) if f.is_empty() => return Ok(None),
        Some(Value::Array(f)) => f,
        Some(v) => {
            return Err(check::wrong(
                "functions",
                "an array of {\"name\", \"parameters\"} functions",
                v,
            ));
        }
    };
    if check::field(req, "tools").is_some() {
        return Err(TranslateError::new(
            "functions",
            "send either `tools` or the older `functions`, not both",
        ));
    }
    let mut tools = Vec::with_capacity(functions.len());
    for (i, f) in functions.iter().enumerate() {
        let p = format!("functions[{i}]");
        if !f.is_object() {
            return Err(check::wrong(&p, "a function {\"name\", \"parameters\"}", f));
        }
        let name = check::name(f, &p, "name", "every function needs a name")?;
        let mut function = json!({ "name": name });
        if let Some(schema) = check::opt_object(f, &p, "parameters", "an object (a JSON Schema)")? {
            function["parameters"] = schema.clone();
        }
        if let Some(d) = check::opt_str(f, &p, "description")? {
            function["description"] = d.into();
        }
        tools.push(json!({ "type": "function", "function": function }));
    }
    let expected = "\"none\", \"auto\" or {\"name\": ...}";
    let choice = match check::field(req, "function_call") {
        None => json!("auto"),
        Some(Value::String(s)) if s == "none" || s == "auto" => json!(s),
        Some(c @ Value::Object(_)) => {
            let name = check::name(
                c,
                "function_call",
                "name",
                "a named function_call names the function",
            )?;
            json!({ "type": "function", "function": { "name": name } })
        }
        Some(v) => return Err(check::wrong("function_call", expected, v)),
    };
    Ok(Some(json!({
        "tools": tools, "tool_choice": choice, "parallel_tool_calls": false,
    })))
}

/// The `tool_use` block for the `function_call` of the assistant turn `messages[i]`, if any.
pub(crate) fn function_call_block(m: &Value, i: usize) -> Result<Option<Value>, TranslateError> {
    let p = format!("messages[{i}].function_call");
    let Some(call) = check::field(m, "function_call") else {
        return Ok(None);
    };
    if !call.is_object() {
        return Err(check::wrong(
            &p,
            "an object {\"name\", \"arguments\"}",
            call,
        ));
    }
    let name = check::name(call, &p, "name", "a function call names its function")?;
    let input = check::call_arguments(call, &p)?;
    Ok(Some(
        json!({ "type": "tool_use", "id": call_id(i), "name": name, "input": input }),
    ))
}

/// The `tool_result` for the function message `messages[i]`, answering the legacy call of
/// the assistant turn `messages[call]`.
pub(crate) fn function_result(
    m: &Value,
    i: usize,
    call: Option<usize>,
) -> Result<Value, TranslateError> {
    let p = format!("messages[{i}]");
    let Some(call) = call else {
        return Err(TranslateError::new(
            p.clone(),
            format!("`{p}` is a function result, but no assistant `function_call` comes before it"),
        ));
    };
    let content = match check::field(m, "content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(check::wrong(&format!("{p}.content"), "a string", v)),
    };
    Ok(json!({ "type": "tool_result", "tool_use_id": call_id(call), "content": content }))
}

#[cfg(test)]
mod tests {
    use super::super::chat_to_messages_request;
    use super::*;

    fn legacy(extra: Value) -> Value {
        let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "weather?"}],
            "functions": [{"name": "weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        req
    }

    #[test]
    fn functions_become_single_call_tools() {
        let out = chat_to_messages_request(&legacy(json!({})), 4096).unwrap();
        assert_eq!(out["tools"][0]["name"], "weather");
        assert_eq!(out["tools"][0]["description"], "Weather");
        assert_eq!(
            out["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        let choice = |c: Value| {
            chat_to_messages_request(&legacy(json!({"function_call": c})), 4096).unwrap()
                ["tool_choice"]
                .clone()
        };
        assert_eq!(choice(json!("none")), json!({"type": "none"}));
        assert_eq!(
            choice(json!({"name": "weather"})),
            json!({"type": "tool", "name": "weather", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn legacy_history_pairs_calls_with_results() {
        let req = legacy(json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null,
             "function_call": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"role": "function", "name": "weather", "content": "18C"},
            {"role": "user", "content": "and tomorrow?"}]}));
        let out = chat_to_messages_request(&req, 4096).unwrap();
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(
            msgs[1]["content"],
            json!([{"type": "tool_use", "id": "call_legacy_1", "name": "weather",
                    "input": {"city": "Paris"}}])
        );
        assert_eq!(
            msgs[2]["content"],
            json!([{"type": "tool_result", "tool_use_id": "call_legacy_1", "content": "18C"},
                   {"type": "text", "text": "and tomorrow?"}])
        );
    }

    #[test]
    fn bad_legacy_fields_name_the_field() {
        let cases = [
            (json!({"functions": {}}), "functions", "must be an array"),
            (
                json!({"functions": [{"parameters": {}}]}),
                "functions[0].name",
                "is missing",
            ),
            (
                json!({"functions": [{"name": "f", "parameters": "x"}]}),
                "functions[0].parameters",
                "must be an object",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "g"}}]}),
                "functions",
                "not both",
            ),
            (
                json!({"function_call": "required"}),
                "function_call",
                "\"auto\"",
            ),
            (
                json!({"function_call": {}}),
                "function_call.name",
                "is missing",
            ),
            (
                json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}),
                "messages[0]",
                "no assistant `function_call`",
            ),
            (
                json!({"messages": [{"role": "assistant",
                    "function_call": {"name": "f", "arguments": "{oops"}}]}),
                "messages[0].function_call.arguments",
                "JSON object encoded as a string",
            ),
        ];
        for (extra, param, phrase) in cases {
            let err = chat_to_messages_request(&legacy(extra.clone()), 4096).unwrap_err();
            assert_eq!(err.param, param, "{extra}");
            assert!(err.message.contains(phrase), "{param}: {}", err.message);
        }
    }
}
