//! Tool definitions and `tool_choice` between chat (`{type: function, function}`) and
//! Anthropic (`{name, input_schema}`, `auto` / `any` / `tool` / `none`).

use serde_json::{Map, Value, json};

use super::{TranslateError, check};

/// Chat `tools`, `tool_choice` and `parallel_tool_calls` into the Messages `body`.
pub(crate) fn chat_tools_to_messages(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = match check::field(req, "tools") {
        None => &Vec::new(),
        Some(Value::Array(tools)) => tools,
        Some(v) => {
            return Err(check::wrong(
                "tools",
                "an array of {\"type\": \"function\", \"function\": {...}} tools",
                v,
            ));
        }
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let p = format!("tools[{i}]");
        if !tool.is_object() {
            return Err(check::wrong(
                &p,
                "a tool object {\"type\": \"function\", \"function\": {...}}",
                tool,
            ));
        }
        match check::field(tool, "type") {
            None => {}
            Some(Value::String(kind)) if kind == "function" => {}
            Some(Value::String(kind)) => {
                return Err(TranslateError::new(
                    format!("{p}.type"),
                    format!(
                        "`{p}.type` is `{kind}`: only function tools can be translated for this \
                         model"
                    ),
                ));
            }
            Some(v) => return Err(check::wrong(&format!("{p}.type"), "\"function\"", v)),
        }
        let fp = format!("{p}.function");
        let f = check::opt_object(tool, &p, "function", "an object {\"name\", \"parameters\"}")?
            .ok_or_else(|| {
                check::missing(
                    &fp,
                    "a function tool needs {\"function\": {\"name\": ..., \"parameters\": ...}}",
                )
            })?;
        let name = check::name(f, &fp, "name", "every function tool needs a name")?;
        let schema = check::opt_object(f, &fp, "parameters", "an object (a JSON Schema)")?
            .cloned()
            .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
        let mut t = json!({ "name": name, "input_schema": schema });
        if let Some(d) = check::opt_str(f, &fp, "description")? {
            t["description"] = d.into();
        }
        check::opt_bool(f, &fp, "strict")?;
        out.push(t);
    }
    let no_parallel = check::opt_bool(req, "", "parallel_tool_calls")? == Some(false);
    let choice = check::field(req, "tool_choice");
    let mut choice = match choice {
        None => json!({ "type": "auto" }),
        Some(Value::String(s)) if s == "auto" => json!({ "type": "auto" }),
        Some(Value::String(s)) if s == "none" => json!({ "type": "none" }),
        Some(Value::String(s)) if s == "required" => json!({ "type": "any" }),
        Some(c @ Value::Object(_)) if c.get("type").and_then(Value::as_str) == Some("function") => {
            let f = check::opt_object(c, "tool_choice", "function", "an object {\"name\": ...}")?
                .ok_or_else(|| {
                    check::missing(
                        "tool_choice.function",
                        "a named tool_choice is {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    )
                })?;
            let name = check::name(
                f,
                "tool_choice.function",
                "name",
                "a named tool_choice names the function to call",
            )?;
            json!({ "type": "tool", "name": name })
        }
        Some(v) => {
            return Err(check::wrong(
                "tool_choice",
                "\"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                v,
            ));
        }
    };
    // A forced call of a function that is not among the tools can only fail: OpenAI refuses
    // it, and dropping it would answer as if nothing had been forced.
    if let Some(name) = choice.get("name").and_then(Value::as_str)
        && !out.iter().any(|t| t["name"] == name)
    {
        let param = if check::field(req, "functions").is_some() {
            "function_call.name"
        } else {
            "tool_choice.function.name"
        };
        return Err(TranslateError::new(
            param,
            format!(
                "`{param}` is `{name}`, which is not one of the request's tools; add its \
                 definition to the tools or name one of them"
            ),
        ));
    }
    if out.is_empty() {
        return Ok(());
    }
    body.insert("tools".into(), Value::Array(out));
    if no_parallel && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    if no_parallel || check::field(req, "tool_choice").is_some() {
        body.insert("tool_choice".into(), choice);
    }
    Ok(())
}

/// Messages `tools` and `tool_choice` (with `disable_parallel_tool_use`) into the chat `body`.
pub(crate) fn messages_tools_to_chat(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = match check::field(req, "tools") {
        None => &Vec::new(),
        Some(Value::Array(tools)) => tools,
        Some(v) => {
            return Err(check::wrong(
                "tools",
                "an array of {\"name\", \"input_schema\"} tools",
                v,
            ));
        }
    };
    if !tools.is_empty() {
        let mut out = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            let p = format!("tools[{i}]");
            if !t.is_object() {
                return Err(check::wrong(
                    &p,
                    "a tool object {\"name\", \"input_schema\"}",
                    t,
                ));
            }
            match check::field(t, "type") {
                None => {}
                Some(Value::String(kind)) if kind == "custom" => {}
                Some(Value::String(kind)) => {
                    return Err(TranslateError::new(
                        format!("{p}.type"),
                        format!(
                            "`{p}.type` is `{kind}`: Anthropic's built-in tools (server tools \
                             such as web search, and the bash, text_editor and computer tools) \
                             can't be translated for this model; only tools you define \
                             {{\"name\", \"input_schema\"}} can"
                        ),
                    ));
                }
                Some(v) => {
                    return Err(check::wrong(
                        &format!("{p}.type"),
                        "\"custom\" or absent",
                        v,
                    ));
                }
            }
            let name = check::name(t, &p, "name", "every tool needs a name")?;
            let schema = check::opt_object(t, &p, "input_schema", "an object (a JSON Schema)")?
                .ok_or_else(|| {
                    check::missing(
                        &format!("{p}.input_schema"),
                        "every tool needs an input_schema (a JSON Schema object)",
                    )
                })?;
            let mut f = json!({ "name": name, "parameters": schema });
            if let Some(d) = check::opt_str(t, &p, "description")? {
                f["description"] = d.into();
            }
            out.push(json!({ "type": "function", "function": f }));
        }
        body.insert("tools".into(), Value::Array(out));
    }
    let expected = "an object {\"type\": \"auto\" | \"any\" | \"tool\" | \"none\"} \
                    ({\"type\": \"tool\"} with a \"name\")";
    let Some(choice) = check::opt_object(req, "", "tool_choice", expected)? else {
        return Ok(());
    };
    let mapped = match check::field(choice, "type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name = check::name(
                choice,
                "tool_choice",
                "name",
                "a tool choice of type `tool` names the tool",
            )?;
            json!({ "type": "function", "function": { "name": name } })
        }
        Some(_) => {
            return Err(check::wrong(
                "tool_choice.type",
                "auto, any, tool or none",
                &choice["type"],
            ));
        }
        None => {
            return Err(match check::field(choice, "type") {
                Some(v) => check::wrong("tool_choice.type", "auto, any, tool or none", v),
                None => check::missing(
                    "tool_choice.type",
                    "tool_choice needs a type (auto, any, tool or none)",
                ),
            });
        }
    };
    let no_parallel = check::opt_bool(choice, "tool_choice", "disable_parallel_tool_use")?;
    if !tools.is_empty() {
        body.insert("tool_choice".into(), mapped);
        if no_parallel == Some(true) {
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
        assert_eq!(err.unwrap_err().param, "tools[0].type");
        let err = messages_tools_to_chat(
            &json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            &mut Map::new(),
        );
        let err = err.unwrap_err();
        assert_eq!(err.param, "tools[0].type");
        assert!(err.message.contains("built-in tools"), "{}", err.message);
    }

    /// Each bad chat tool field, the param named, and a phrase of the message.
    #[test]
    fn bad_chat_tools_name_the_field() {
        let f = |extra: Value| {
            let mut t = json!({"type": "function", "function": {"name": "f"}});
            t["function"]
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"tools": [t]})
        };
        let cases = [
            (json!({"tools": {}}), "tools", "must be an array"),
            (
                json!({"tools": [null]}),
                "tools[0]",
                "must be a tool object",
            ),
            (
                json!({"tools": [{"type": "function"}]}),
                "tools[0].function",
                "`tools[0].function` is missing: a function tool needs",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"description": "d"}}]}),
                "tools[0].function.name",
                "`tools[0].function.name` is missing: every function tool needs a name",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": ""}}]}),
                "tools[0].function.name",
                "must be a non-empty string",
            ),
            (
                f(json!({"parameters": "x"})),
                "tools[0].function.parameters",
                "must be an object",
            ),
            (
                f(json!({"description": 5})),
                "tools[0].function.description",
                "must be a string",
            ),
            (
                json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
                "tools[0].type",
                "only function tools",
            ),
            (
                f(json!({})).merged("tool_choice", json!("sometimes")),
                "tool_choice",
                "\"required\"",
            ),
            (
                json!({"tool_choice": {"type": "function", "function": {"name": "nope"}}}),
                "tool_choice.function.name",
                "`nope`, which is not one of the request's tools",
            ),
            (
                f(json!({})).merged(
                    "tool_choice",
                    json!({"type": "function", "function": {"name": "g"}}),
                ),
                "tool_choice.function.name",
                "not one of the request's tools",
            ),
            (
                f(json!({})).merged("tool_choice", json!({"type": "function"})),
                "tool_choice.function",
                "is missing",
            ),
            (
                f(json!({})).merged(
                    "tool_choice",
                    json!({"type": "function", "function": {"name": 5}}),
                ),
                "tool_choice.function.name",
                "got 5",
            ),
            (
                f(json!({})).merged("parallel_tool_calls", json!("no")),
                "parallel_tool_calls",
                "true or false",
            ),
        ];
        for (req, param, phrase) in cases {
            let err = chat_tools_to_messages(&req, &mut Map::new()).unwrap_err();
            assert_eq!(err.param, param, "{req}");
            assert!(err.message.contains(phrase), "{param}: {}", err.message);
        }
        // Nulls are absent, and tools: [] with a tool_choice is still fine.
        let mut body = Map::new();
        chat_tools_to_messages(&json!({"tools": null, "tool_choice": null}), &mut body).unwrap();
        chat_tools_to_messages(&json!({"tools": [], "tool_choice": "none"}), &mut body).unwrap();
        assert!(body.is_empty());
    }

    #[test]
    fn bad_anthropic_tools_name_the_field() {
        let t = |tool: Value| json!({"tools": [tool]});
        let ok = json!({"name": "f", "input_schema": {"type": "object"}});
        let cases = [
            (json!({"tools": "x"}), "tools", "must be an array"),
            (
                t(json!({"input_schema": {"type": "object"}})),
                "tools[0].name",
                "every tool needs a name",
            ),
            (
                t(json!({"name": "f", "input_schema": "x"})),
                "tools[0].input_schema",
                "must be an object",
            ),
            (
                t(json!({"name": "f"})),
                "tools[0].input_schema",
                "is missing",
            ),
            (
                t(json!({"type": "bash_20250124", "name": "bash"})),
                "tools[0].type",
                "the bash, text_editor and computer tools",
            ),
            (
                t(ok.clone()).merged("tool_choice", json!("auto")),
                "tool_choice",
                "must be an object",
            ),
            (
                t(ok.clone()).merged("tool_choice", json!({"type": "maybe"})),
                "tool_choice.type",
                "auto, any, tool or none",
            ),
            (
                t(ok.clone()).merged("tool_choice", json!({"type": "tool"})),
                "tool_choice.name",
                "is missing",
            ),
            (
                t(ok.clone()).merged(
                    "tool_choice",
                    json!({"type": "any", "disable_parallel_tool_use": "yes"}),
                ),
                "tool_choice.disable_parallel_tool_use",
                "true or false",
            ),
        ];
        for (req, param, phrase) in cases {
            let err = messages_tools_to_chat(&req, &mut Map::new()).unwrap_err();
            assert_eq!(err.param, param, "{req}");
            assert!(err.message.contains(phrase), "{param}: {}", err.message);
        }
        // Claude Code's shape: a custom-typed tool with cache_control.
        let claude_code = t(
            json!({"type": "custom", "name": "Read", "description": "Read a file",
            "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}),
        );
        let mut body = Map::new();
        messages_tools_to_chat(&claude_code, &mut body).unwrap();
        assert_eq!(body["tools"][0]["function"]["name"], "Read");
    }

    trait Merged {
        fn merged(self, key: &str, value: Value) -> Value;
    }

    impl Merged for Value {
        fn merged(mut self, key: &str, value: Value) -> Value {
            self[key] = value;
            self
        }
    }
}
