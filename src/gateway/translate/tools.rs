//! Tool definitions and `tool_choice` between chat (`{type: function, function}`) and
//! Anthropic (`{name, input_schema}`, `auto` / `any` / `tool` / `none`).

use serde_json::{Map, Value, json};

use super::TranslateError;

/// Chat `tools`, `tool_choice` and `parallel_tool_calls` into the Messages `body`.
pub(crate) fn chat_tools_to_messages(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = req
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if tools.is_empty() {
        return Ok(());
    }
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("function");
        let f = tool
            .get("function")
            .filter(|_| kind == "function")
            .ok_or_else(|| {
                TranslateError::new(
                    format!("tools[{i}]"),
                    format!("unsupported tool type `{kind}`"),
                )
            })?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::new(format!("tools[{i}].function.name"), "missing"))?;
        let schema = f
            .get("parameters")
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
        let mut t = json!({ "name": name, "input_schema": schema });
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            t["description"] = d.into();
        }
        out.push(t);
    }
    body.insert("tools".into(), Value::Array(out));
    let mut choice = match req.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => json!({ "type": "none" }),
        Some(Value::String(s)) if s == "required" => json!({ "type": "any" }),
        Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")) {
            Some(name) => json!({ "type": "tool", "name": name }),
            None => {
                return Err(TranslateError::new(
                    "tool_choice",
                    "named tool_choice needs function.name",
                ));
            }
        },
        _ => json!({ "type": "auto" }),
    };
    let no_parallel = req.get("parallel_tool_calls") == Some(&Value::Bool(false));
    if no_parallel && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    if no_parallel || req.get("tool_choice").is_some() {
        body.insert("tool_choice".into(), choice);
    }
    Ok(())
}

/// Messages `tools` and `tool_choice` (with `disable_parallel_tool_use`) into the chat `body`.
pub(crate) fn messages_tools_to_chat(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = req
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !tools.is_empty() {
        let mut out = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            let schema = t.get("input_schema").ok_or_else(|| {
                TranslateError::new(
                    format!("tools[{i}]"),
                    "server tools are not supported for this model",
                )
            })?;
            let mut f = json!({ "name": t["name"], "parameters": schema });
            if let Some(d) = t.get("description") {
                f["description"] = d.clone();
            }
            out.push(json!({ "type": "function", "function": f }));
        }
        body.insert("tools".into(), Value::Array(out));
    }
    let Some(choice) = req.get("tool_choice") else {
        return Ok(());
    };
    let mapped = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => json!({ "type": "function", "function": { "name": choice["name"] } }),
        _ => {
            return Err(TranslateError::new(
                "tool_choice.type",
                "must be auto, any, tool or none",
            ));
        }
    };
    if !tools.is_empty() {
        body.insert("tool_choice".into(), mapped);
        if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
            body.insert("parallel_tool_calls".into(), false.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_choice(choice: Value) -> Value {
        let req = json!({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice});
        let mut body = Map::new();
        chat_tools_to_messages(&req, &mut body).unwrap();
        body["tool_choice"].clone()
    }

    fn messages_choice(choice: Value) -> Value {
        let req = json!({"tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": choice});
        let mut body = Map::new();
        messages_tools_to_chat(&req, &mut body).unwrap();
        body.get("tool_choice").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn tool_choice_maps_both_ways() {
        assert_eq!(chat_choice(json!("auto")), json!({"type": "auto"}));
        assert_eq!(chat_choice(json!("none")), json!({"type": "none"}));
        assert_eq!(chat_choice(json!("required")), json!({"type": "any"}));
        assert_eq!(messages_choice(json!({"type": "auto"})), json!("auto"));
        assert_eq!(messages_choice(json!({"type": "none"})), json!("none"));
        assert_eq!(messages_choice(json!({"type": "any"})), json!("required"));
        let err = chat_tools_to_messages(
            &json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            &mut Map::new(),
        );
        assert_eq!(err.unwrap_err().param, "tools[0]");
        let err = messages_tools_to_chat(
            &json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            &mut Map::new(),
        );
        assert_eq!(err.unwrap_err().param, "tools[0]");
    }
}
