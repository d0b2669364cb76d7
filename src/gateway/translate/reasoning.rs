//! Chat `reasoning_effort` as Anthropic extended thinking, and the request changes thinking
//! needs: an output cap above the thinking budget, no `temperature`, `top_p` of 0.95 or more.

use serde_json::{Map, Value, json};

use super::{TranslateError, check};

/// The thinking budget for each effort; `None` leaves thinking off.
fn budget_for(effort: &str) -> Option<Option<u64>> {
    match effort {
        "none" | "minimal" => Some(None),
        "low" => Some(Some(1024)),
        "medium" => Some(Some(2048)),
        "high" => Some(Some(4096)),
        "xhigh" => Some(Some(8192)),
        _ => None,
    }
}

/// What `reasoning_effort` accepts, for error messages.
pub(crate) const EFFORTS: &str =
    "one of \"none\", \"minimal\", \"low\", \"medium\", \"high\" or \"xhigh\"";

/// Whether `effort` is a reasoning effort this translation knows.
pub(crate) fn is_effort(effort: &str) -> bool {
    budget_for(effort).is_some()
}

/// The `max_tokens` the chat or Responses request `req` carries once translated for an
/// Anthropic account (see [`effort_to_thinking`]), which bounds what the answer can cost: the
/// client's cap (`max_completion_tokens` before `max_tokens`, or `max_output_tokens`; else
/// `default_cap`), plus the thinking budget where the translation adds one: an explicit
/// `thinking` budget only when the cap leaves no room beside it, an effort's budget always.
/// An upper bound: thinking may still stay off (a forced tool, a tool-calling last turn).
/// Budget reservations use it for such accounts.
pub fn translated_output_cap(req: &Value, default_cap: u64) -> u64 {
    let cap = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
        .iter()
        .find_map(|f| req.get(*f).and_then(Value::as_u64))
        .unwrap_or(default_cap);
    // An explicit `thinking` object wins over an effort, also when it turns thinking off.
    let added = if let Some(thinking) = req.get("thinking").filter(|t| t.is_object()) {
        Some(thinking)
            .filter(|t| t["type"] == "enabled")
            .and_then(|t| t["budget_tokens"].as_u64())
            .filter(|budget| cap <= *budget)
            .unwrap_or(0)
    } else {
        req.get("reasoning_effort")
            .or_else(|| req.get("reasoning").and_then(|r| r.get("effort")))
            .and_then(Value::as_str)
            .and_then(budget_for)
            .flatten()
            .unwrap_or(0)
    };
    if added == 0 {
        cap
    } else {
        cap.saturating_add(added).min(check::MAX_TOKENS_LIMIT)
    }
}

/// Sets `thinking` in the Messages `body` from the chat request: an Anthropic-style
/// `thinking` object is passed on as it is; otherwise `reasoning_effort` picks a budget.
/// Call it after tools and `response_format` are in `body`: thinking stays off, also when the
/// client asked for it by a `thinking` object, when a tool is forced (`tool_choice`
/// `required` or named, or `response_format`'s JSON tool: Anthropic refuses thinking with a
/// forced tool) or when the last assistant turn called tools (Anthropic then requires that
/// turn to start with its thinking blocks, which a chat history does not carry).
pub(crate) fn effort_to_thinking(
    req: &Value,
    body: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let budget = match check::field(req, "reasoning_effort") {
        None => None,
        Some(v) => v
            .as_str()
            .and_then(budget_for)
            .ok_or_else(|| check::wrong("reasoning_effort", EFFORTS, v))?,
    };
    let explicit = check::opt_object(
        req,
        "",
        "thinking",
        "an object {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}",
    )?;
    let allowed = !forces_tool(body) && !last_assistant_called_tools(body);
    if let Some(thinking) = explicit {
        if thinking["type"] != "disabled" && !allowed {
            return Ok(());
        }
        body.insert("thinking".into(), thinking.clone());
        if thinking["type"] == "enabled"
            && let Some(budget) = thinking["budget_tokens"].as_u64()
        {
            let max = body["max_tokens"].as_u64().unwrap_or(0);
            make_room(body, budget, max <= budget);
        }
        return Ok(());
    }
    let Some(budget) = budget else {
        return Ok(());
    };
    if !allowed {
        return Ok(());
    }
    body.insert(
        "thinking".into(),
        json!({ "type": "enabled", "budget_tokens": budget }),
    );
    make_room(body, budget, true);
    Ok(())
}

/// Drops the sampling settings Anthropic refuses with thinking, and (when `raise`) adds the
/// budget to `max_tokens` so the answer keeps the room the client asked for.
fn make_room(body: &mut Map<String, Value>, budget: u64, raise: bool) {
    if raise {
        let max = body["max_tokens"].as_u64().unwrap_or(0);
        let raised = max.saturating_add(budget).min(check::MAX_TOKENS_LIMIT);
        body.insert("max_tokens".into(), raised.into());
    }
    body.remove("temperature");
    if body
        .get("top_p")
        .and_then(Value::as_f64)
        .is_some_and(|p| p < 0.95)
    {
        body.remove("top_p");
    }
}

/// Whether `body`'s `tool_choice` makes the model call a tool (`any` or a named `tool`).
fn forces_tool(body: &Map<String, Value>) -> bool {
    matches!(
        body.get("tool_choice").and_then(|c| c["type"].as_str()),
        Some("tool" | "any")
    )
}

fn last_assistant_called_tools(body: &Map<String, Value>) -> bool {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "assistant"))
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_use"))
}

#[cfg(test)]
mod tests {
    use super::super::chat_to_messages_request;
    use super::super::tests::chat_with as with;
    use super::*;

    fn thinking(extra: Value) -> Value {
        chat_to_messages_request(&with(extra), 4096).unwrap()
    }

    #[test]
    fn efforts_map_to_budgets_with_room_for_the_answer() {
        for (effort, budget) in [
            ("low", 1024),
            ("medium", 2048),
            ("high", 4096),
            ("xhigh", 8192),
        ] {
            let out = thinking(json!({"reasoning_effort": effort, "max_tokens": 500,
                "temperature": 0.3, "top_p": 0.5}));
            assert_eq!(
                out["thinking"],
                json!({"type": "enabled", "budget_tokens": budget})
            );
            assert_eq!(out["max_tokens"], budget + 500);
            assert!(out.get("temperature").is_none() && out.get("top_p").is_none());
        }
        let out = thinking(json!({"reasoning_effort": "medium", "top_p": 0.97}));
        assert_eq!(out["max_tokens"], 2048 + 4096);
        assert_eq!(out["top_p"], 0.97);
        for off in ["none", "minimal"] {
            let out = thinking(json!({"reasoning_effort": off, "temperature": 0.3}));
            assert!(out.get("thinking").is_none());
            assert_eq!(out["max_tokens"], 4096);
            assert_eq!(out["temperature"], 0.3);
        }
    }

    #[test]
    fn thinking_stays_off_for_forced_tools_and_after_tool_calls() {
        let f = json!([{"type": "function", "function": {"name": "f"}}]);
        let out =
            thinking(json!({"reasoning_effort": "high", "tools": f, "tool_choice": "required"}));
        assert!(out.get("thinking").is_none());
        let out = thinking(json!({"reasoning_effort": "high",
            "response_format": {"type": "json_object"}}));
        assert!(out.get("thinking").is_none());
        assert_eq!(out["max_tokens"], 4096);
        let out = thinking(json!({"reasoning_effort": "high", "tools": f, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"}]}));
        assert!(out.get("thinking").is_none());
        let out = thinking(json!({"reasoning_effort": "high", "tools": f, "tool_choice": "auto"}));
        assert_eq!(out["thinking"]["budget_tokens"], 4096);
    }

    /// The probe's requests: a `thinking` object with a JSON answer, a forced tool, or after a
    /// tool-calling turn went upstream as it was, and Anthropic refused the request.
    #[test]
    fn explicit_thinking_stays_off_where_anthropic_refuses_it() {
        let on = json!({"type": "enabled", "budget_tokens": 2000});
        let f = json!([{"type": "function", "function": {"name": "f"}}]);
        let tool_turn = json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]);
        for extra in [
            json!({"response_format": {"type": "json_object"}}),
            json!({"tools": f, "tool_choice": "required"}),
            json!({"tools": f, "tool_choice": {"type": "function", "function": {"name": "f"}}}),
            json!({"tools": f, "messages": tool_turn}),
        ] {
            let mut req = extra.clone();
            req["thinking"] = on.clone();
            req["temperature"] = json!(0.4);
            let out = thinking(req);
            assert!(out.get("thinking").is_none(), "{extra}");
            assert_eq!(out["max_tokens"], 4096, "{extra}");
            assert_eq!(out["temperature"], 0.4, "{extra}");
        }
        // Turning thinking off is always allowed, and a free tool choice keeps it on.
        let out = thinking(json!({"tools": f, "tool_choice": "required",
            "thinking": {"type": "disabled"}}));
        assert_eq!(out["thinking"], json!({"type": "disabled"}));
        let out = thinking(json!({"tools": f, "tool_choice": "auto", "thinking": on}));
        assert_eq!(out["thinking"], on);
    }

    #[test]
    fn the_translated_cap_is_what_the_messages_request_carries() {
        for req in [
            json!({"reasoning_effort": "xhigh"}),
            json!({"reasoning_effort": "minimal", "max_tokens": 100}),
            json!({"reasoning_effort": "low", "max_completion_tokens": 300, "max_tokens": 10}),
            json!({"reasoning_effort": "low",
                "thinking": {"type": "enabled", "budget_tokens": 3000}}),
            json!({"thinking": {"type": "enabled", "budget_tokens": 5000}}),
            json!({"thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 20000}),
            json!({"thinking": {"type": "disabled"}}),
            json!({"reasoning_effort": "high", "thinking": {"type": "disabled"}}),
            json!({"max_tokens": 7}),
            json!({}),
        ] {
            let translated = thinking(req.clone())["max_tokens"].as_u64().unwrap();
            assert_eq!(translated_output_cap(&req, 4096), translated, "{req}");
        }
        // Through the Responses API's names too; with a forced tool the effort is an upper
        // bound (thinking stays off).
        assert_eq!(
            translated_output_cap(
                &json!({"reasoning": {"effort": "low"}, "max_output_tokens": 50}),
                4096
            ),
            50 + 1024
        );
    }

    #[test]
    fn explicit_thinking_wins_and_bad_efforts_are_refused() {
        let out = thinking(json!({"reasoning_effort": "low", "max_tokens": 20000,
            "thinking": {"type": "enabled", "budget_tokens": 16000}, "temperature": 1}));
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": 16000})
        );
        assert_eq!(out["max_tokens"], 20000);
        assert!(out.get("temperature").is_none());
        // An explicit budget is trusted with the cap it came with, unless the cap leaves no
        // room for an answer.
        let out = thinking(json!({"thinking": {"type": "enabled", "budget_tokens": 3000}}));
        assert_eq!(out["max_tokens"], 4096);
        let out = thinking(json!({"thinking": {"type": "enabled", "budget_tokens": 5000}}));
        assert_eq!(out["max_tokens"], 5000 + 4096);
        let out = thinking(json!({"thinking": {"type": "disabled"}, "temperature": 0.2}));
        assert_eq!(out["thinking"], json!({"type": "disabled"}));
        assert_eq!(out["temperature"], 0.2);
        for bad in [json!("ultra"), json!(3)] {
            let err =
                chat_to_messages_request(&with(json!({"reasoning_effort": bad})), 10).unwrap_err();
            assert_eq!(err.param, "reasoning_effort");
            assert!(
                err.message
                    .contains("\"none\", \"minimal\", \"low\", \"medium\", \"high\" or \"xhigh\""),
                "{}",
                err.message
            );
        }
        let err = chat_to_messages_request(&with(json!({"thinking": "on"})), 10).unwrap_err();
        assert_eq!(err.param, "thinking");
    }
}
