//! Chat `response_format` for Anthropic accounts, which have no JSON mode: the schema becomes
//! the input schema of a `json_response` tool, whose input the answer side turns back into the
//! message content ([`super::AnswerShape`]). The tool is forced, or, when the client has tools
//! of its own the model may call, a tool call is required (theirs or `json_response`).

use serde_json::{Map, Value, json};

use super::{JSON_TOOL, TranslateError, check};

/// Adds the `json_response` tool when `response_format` asks for JSON, and forces it (or any
/// tool, when the client's own may be called); `{"type": "text"}` (the default) changes
/// nothing.
pub(crate) fn response_format_to_messages(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let Some(format) = check::opt_object(
        req,
        "",
        "response_format",
        "an object such as {\"type\": \"json_object\"}",
    )?
    else {
        return Ok(());
    };
    let kinds = "\"text\", \"json_object\" or \"json_schema\"";
    let (schema, description) = match check::field(format, "type") {
        Some(Value::String(k)) if k == "text" => return Ok(()),
        Some(Value::String(k)) if k == "json_object" => (
            json!({ "type": "object" }),
            "Give your answer as a JSON object: this tool's input is the answer.".to_owned(),
        ),
        Some(Value::String(k)) if k == "json_schema" => json_schema(format)?,
        Some(v) => return Err(check::wrong("response_format.type", kinds, v)),
        None => {
            return Err(check::missing(
                "response_format.type",
                &format!("a response format needs a type ({kinds})"),
            ));
        }
    };
    if let Some(choice) = body.get("tool_choice")
        && matches!(choice["type"].as_str(), Some("tool" | "any"))
    {
        let param = if check::field(req, "functions").is_some() {
            "function_call"
        } else {
            "tool_choice"
        };
        return Err(TranslateError::new(
            param,
            format!(
                "`{param}` forces a tool call, but `response_format` asks for a JSON answer, \
                 which this model gives through a forced tool of its own; send one or the other"
            ),
        ));
    }
    // With tools of the client's own that it may call, the model must be free to call them:
    // any tool is required (one of the client's, or `json_response` for the answer), as an
    // OpenAI model calls tools and then answers in JSON. Forcing `json_response` would leave
    // the client's tools uncallable.
    let own_tools = !body.get("tool_choice").is_some_and(|c| c["type"] == "none")
        && body
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
    let parallel = body
        .get("tool_choice")
        .and_then(|c| c.get("disable_parallel_tool_use"))
        .cloned();
    let tools = body
        .entry("tools")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(tools) = tools.as_array_mut() {
        if let Some(i) = tools.iter().position(|t| t["name"] == JSON_TOOL) {
            let param = if check::field(req, "functions").is_some() {
                format!("functions[{i}].name")
            } else {
                format!("tools[{i}].function.name")
            };
            return Err(TranslateError::new(
                param.clone(),
                format!(
                    "`{param}` is `{JSON_TOOL}`, the name the gateway gives the tool that \
                     carries a `response_format` answer; rename your tool"
                ),
            ));
        }
        tools
            .push(json!({ "name": JSON_TOOL, "description": description, "input_schema": schema }));
    }
    let mut choice = if own_tools {
        json!({ "type": "any" })
    } else {
        json!({ "type": "tool", "name": JSON_TOOL })
    };
    if let Some(parallel) = parallel {
        choice["disable_parallel_tool_use"] = parallel;
    }
    body.insert("tool_choice".into(), choice);
    Ok(())
}

/// The schema and tool description of a `json_schema` format.
fn json_schema(format: &Value) -> Result<(Value, String), TranslateError> {
    let p = "response_format.json_schema";
    let js = check::opt_object(format, "response_format", "json_schema", "an object {\"name\", \"schema\"}")?
        .ok_or_else(|| {
            check::missing(
                p,
                "a json_schema format is {\"type\": \"json_schema\", \"json_schema\": {\"name\", \"schema\"}}",
            )
        })?;
    let name = check::name(js, p, "name", "a json_schema format needs a name")?;
    let schema = check::opt_object(js, p, "schema", "an object (a JSON Schema)")?
        .cloned()
        .unwrap_or_else(|| json!({ "type": "object" }));
    if let Some(kind) = check::field(&schema, "type")
        && kind != "object"
    {
        return Err(check::wrong(
            &format!("{p}.schema.type"),
            "\"object\" for this model (it answers with a tool's input, which is an object; \
             wrap the value in an object)",
            kind,
        ));
    }
    check::opt_bool(js, p, "strict")?;
    let description = match check::opt_str(js, p, "description")? {
        Some(d) => format!("Give your answer as the `{name}` JSON object: {d}"),
        None => format!(
            "Give your answer as the `{name}` JSON object: this tool's input is the answer."
        ),
    };
    Ok((schema, description))
}

#[cfg(test)]
mod tests {
    use super::super::chat_to_messages_request;
    use super::super::tests::chat_with as with;
    use super::*;

    #[test]
    fn json_schema_becomes_a_forced_tool() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]});
        let req = with(json!({"response_format": {"type": "json_schema",
            "json_schema": {"name": "place", "schema": schema, "strict": true}},
            "tools": [{"type": "function", "function": {"name": "weather"}}]}));
        let out = chat_to_messages_request(&req, 4096).unwrap();
        assert_eq!(out["tools"][0]["name"], "weather");
        assert_eq!(out["tools"][1]["name"], "json_response");
        assert_eq!(out["tools"][1]["input_schema"], schema);
        assert!(
            out["tools"][1]["description"]
                .as_str()
                .unwrap()
                .contains("`place`")
        );
        // The client's `weather` stays callable: a tool is required, not `json_response`.
        assert_eq!(out["tool_choice"], json!({"type": "any"}));

        // Without tools of its own, or with `tool_choice: "none"`, the answer's tool is forced.
        for extra in [
            json!({}),
            json!({"tools": [{"type": "function", "function": {"name": "weather"}}],
                   "tool_choice": "none"}),
        ] {
            let mut req = with(json!({"response_format": {"type": "json_schema",
                "json_schema": {"name": "place", "schema": schema}}}));
            req.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let out = chat_to_messages_request(&req, 4096).unwrap();
            assert_eq!(
                out["tool_choice"],
                json!({"type": "tool", "name": "json_response"}),
                "{extra}"
            );
        }
        // `parallel_tool_calls: false` still holds.
        let req = with(json!({"response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "weather"}}],
            "parallel_tool_calls": false}));
        let out = chat_to_messages_request(&req, 4096).unwrap();
        assert_eq!(
            out["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn json_object_is_permissive_and_text_changes_nothing() {
        let out = chat_to_messages_request(
            &with(json!({"response_format": {"type": "json_object"}})),
            9,
        )
        .unwrap();
        assert_eq!(out["tools"][0]["input_schema"], json!({"type": "object"}));
        assert_eq!(out["tool_choice"]["name"], "json_response");
        let out = chat_to_messages_request(&with(json!({"response_format": {"type": "text"}})), 9)
            .unwrap();
        assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    }

    #[test]
    fn bad_formats_and_conflicts_are_refused() {
        let f = json!({"type": "function", "function": {"name": "f"}});
        let cases = [
            (
                json!({"response_format": "json"}),
                "response_format",
                "must be an object",
            ),
            (
                json!({"response_format": {"type": "xml"}}),
                "response_format.type",
                "\"json_schema\"",
            ),
            (
                json!({"response_format": {}}),
                "response_format.type",
                "is missing",
            ),
            (
                json!({"response_format": {"type": "json_schema"}}),
                "response_format.json_schema",
                "is missing",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
                "response_format.json_schema.name",
                "needs a name",
            ),
            (
                json!({"response_format": {"type": "json_schema",
                    "json_schema": {"name": "x", "schema": "{}"}}}),
                "response_format.json_schema.schema",
                "`response_format.json_schema.schema` must be an object",
            ),
            (
                json!({"response_format": {"type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "array"}}}}),
                "response_format.json_schema.schema.type",
                "wrap the value in an object",
            ),
            (
                json!({"response_format": {"type": "json_object"}, "tools": [f],
                    "tool_choice": {"type": "function", "function": {"name": "f"}}}),
                "tool_choice",
                "send one or the other",
            ),
            (
                json!({"response_format": {"type": "json_object"}, "tools": [f],
                    "tool_choice": "required"}),
                "tool_choice",
                "forces a tool call",
            ),
            (
                json!({"response_format": {"type": "json_object"},
                    "tools": [{"type": "function", "function": {"name": "json_response"}}]}),
                "tools[0].function.name",
                "rename your tool",
            ),
        ];
        for (extra, param, phrase) in cases {
            let err = chat_to_messages_request(&with(extra.clone()), 4096).unwrap_err();
            assert_eq!(err.param, param, "{extra}");
            assert!(err.message.contains(phrase), "{param}: {}", err.message);
        }
    }
}
