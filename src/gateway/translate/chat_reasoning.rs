//! A chat provider's reasoning (`reasoning_content`: DeepSeek, Qwen, Kimi; `reasoning`:
//! OpenRouter, Ollama, vLLM) carried to an Anthropic client as `thinking` blocks, to a
//! Responses client as `reasoning` items, and back.
//!
//! The way back matters: DeepSeek's and Kimi's thinking models refuse (400) a conversation
//! whose assistant turns with tool calls lost their reasoning. Claude Code keeps each
//! `thinking` block with its `signature`, Codex CLI each `reasoning` item with its
//! `encrypted_content`, and both send them back; so that opaque value names where the
//! reasoning came from ([`signature`]), and a block or item marked so goes upstream as that
//! field again ([`field_of`], [`field_of_item`]). Anthropic and OpenAI check those values, so
//! what this gateway marked never reaches their accounts ([`strip_from_messages`],
//! [`strip_from_responses`]); what they signed means nothing to a chat provider and is dropped
//! on the way there.

use serde_json::Value;

/// What every signature this gateway writes starts with.
const SIGNATURE_PREFIX: &str = "aicarpool.chat.";

/// The chat fields reasoning arrives in, the usual one first.
const FIELDS: [&str; 2] = ["reasoning_content", "reasoning"];

/// The reasoning a chat message or stream delta carries, with the field it came in: `None`
/// when there is none (absent, null, empty or not text).
pub(crate) fn of(message: &Value) -> Option<(&'static str, &str)> {
    FIELDS.into_iter().find_map(|field| {
        message
            .get(field)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(|text| (field, text))
    })
}

/// The signature of a `thinking` block made from the chat field `field`.
pub(crate) fn signature(field: &str) -> String {
    format!("{SIGNATURE_PREFIX}{field}")
}

/// The chat field a `thinking` block's reasoning goes back in: `None` unless this gateway
/// signed the block (see [`signature`]).
pub(crate) fn field_of(block: &Value) -> Option<&'static str> {
    marked_field(block.get("signature"))
}

/// The chat field a Responses `reasoning` item's text goes back in: `None` unless this
/// gateway made the item (its `encrypted_content` is a [`signature`]).
pub(crate) fn field_of_item(item: &Value) -> Option<&'static str> {
    marked_field(item.get("encrypted_content"))
}

/// The text of a Responses `reasoning` item: its summary texts, then its reasoning texts.
pub(crate) fn item_text(item: &Value) -> String {
    ["summary", "content"]
        .iter()
        .filter_map(|key| item.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect()
}

fn marked_field(mark: Option<&Value>) -> Option<&'static str> {
    let field = mark?.as_str()?.strip_prefix(SIGNATURE_PREFIX)?;
    FIELDS.into_iter().find(|f| *f == field)
}

/// Whether a Messages request holds a `thinking` block this gateway signed (one an Anthropic
/// account would refuse).
pub fn in_messages(body: &Value) -> bool {
    thinking_blocks(body).any(|b| field_of(b).is_some())
}

/// Removes the `thinking` blocks this gateway signed from a Messages request's turns, for an
/// Anthropic account; a turn left without content goes too (Anthropic refuses an empty one
/// and joins the turns around it).
pub fn strip_from_messages(body: &mut Value) {
    let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) else {
        return;
    };
    messages.retain_mut(|m| {
        let Some(blocks) = m.get_mut("content").and_then(Value::as_array_mut) else {
            return true;
        };
        let before = blocks.len();
        blocks.retain(|b| !(is_thinking(b) && field_of(b).is_some()));
        blocks.len() == before || !blocks.is_empty()
    });
}

/// Whether a Responses request's `input` holds a `reasoning` item this gateway made (one
/// OpenAI would refuse: its `encrypted_content` is not OpenAI's).
pub fn in_responses(body: &Value) -> bool {
    responses_input(body).is_some_and(|items| items.iter().any(is_our_item))
}

/// Removes the `reasoning` items this gateway made from a Responses request's `input`, for
/// an OpenAI account.
pub fn strip_from_responses(body: &mut Value) {
    if let Some(items) = body.get_mut("input").and_then(Value::as_array_mut) {
        items.retain(|item| !is_our_item(item));
    }
}

fn responses_input(body: &Value) -> Option<&Vec<Value>> {
    body.get("input").and_then(Value::as_array)
}

fn is_our_item(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("reasoning") && field_of_item(item).is_some()
}

fn is_thinking(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("thinking")
}

/// The `thinking` blocks of a Messages request.
fn thinking_blocks(body: &Value) -> impl Iterator<Item = &Value> {
    body.get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| is_thinking(b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reasoning_is_read_from_either_field_and_signed_with_it() {
        let deepseek = json!({"role": "assistant", "content": null, "reasoning_content": "hmm"});
        assert_eq!(of(&deepseek), Some(("reasoning_content", "hmm")));
        let openrouter = json!({"content": "x", "reasoning": "let me see"});
        assert_eq!(of(&openrouter), Some(("reasoning", "let me see")));
        for none in [
            json!({"content": "x"}),
            json!({"reasoning_content": ""}),
            json!({"reasoning_content": null}),
            json!({"reasoning": {"effort": "high"}}),
        ] {
            assert_eq!(of(&none), None, "{none}");
        }
        let block = json!({"type": "thinking", "thinking": "hmm",
                           "signature": signature("reasoning_content")});
        assert_eq!(field_of(&block), Some("reasoning_content"));
        let claude =
            json!({"type": "thinking", "thinking": "hmm", "signature": "EqQBCgIYAhIM1gbcDa9"});
        assert_eq!(field_of(&claude), None);
        let unknown = json!({"type": "thinking", "signature": "aicarpool.chat.content"});
        assert_eq!(field_of(&unknown), None);
    }

    #[test]
    fn only_the_gateways_own_thinking_blocks_are_stripped() {
        let ours =
            json!({"type": "thinking", "thinking": "a", "signature": signature("reasoning")});
        let claude = json!({"type": "thinking", "thinking": "b", "signature": "EqQBCgIYAhIM"});
        let mut body = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [ours.clone(), claude.clone(), {"type": "text", "text": "c"}]},
            {"role": "user", "content": []},
            {"role": "assistant", "content": [ours.clone()]},
            {"role": "user", "content": "go on"},
        ]});
        assert!(in_messages(&body));
        strip_from_messages(&mut body);
        assert!(!in_messages(&body));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [claude, {"type": "text", "text": "c"}]},
                // Not emptied here: left for Anthropic to judge, as the client sent it.
                {"role": "user", "content": []},
                {"role": "user", "content": "go on"},
            ])
        );
    }

    #[test]
    fn only_the_gateways_own_reasoning_items_are_stripped() {
        let ours = json!({"type": "reasoning", "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
            "content": [{"type": "reasoning_text", "text": "c"}],
            "encrypted_content": signature("reasoning_content")});
        assert_eq!(field_of_item(&ours), Some("reasoning_content"));
        assert_eq!(item_text(&ours), "abc");
        let openai = json!({"type": "reasoning", "id": "rs_2", "summary": [],
                            "encrypted_content": "gAAAAABo"});
        let mut body = json!({"input": [
            {"role": "user", "content": "hi"}, ours, openai.clone(),
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]});
        assert!(in_responses(&body));
        strip_from_responses(&mut body);
        assert!(!in_responses(&body));
        assert_eq!(body["input"].as_array().unwrap().len(), 3);
        assert_eq!(body["input"][1], openai);
        assert!(!in_responses(&json!({"input": "hi"})));
    }
}
