//! The text a stream delivered to its client, counted without parsing the events again: what
//! a stream cut before the provider's final count is billed by; and likewise the text of a
//! whole answer that came without a count.

use serde_json::Value;

use crate::gateway::sse::SseEvent;
use crate::gateway::upstream::Wire;

/// Fields whose string value is answer text in some dialect: chat's `content`, `refusal`,
/// `reasoning_content` and tool-call `arguments`; Anthropic's `text` and `thinking`; the
/// Responses API's `text`, `refusal` and `arguments`.
const TEXT_FIELDS: [&str; 6] = [
    "content",
    "text",
    "refusal",
    "arguments",
    "reasoning_content",
    "thinking",
];

/// The text of a whole `wire` answer: its message content, reasoning and tool-call arguments
/// (an Anthropic tool call's `input` as its JSON text), found under `choices`, `content` or
/// `output`. Ids, names and other fields are not answer text.
pub(in crate::gateway) fn answer_text(wire: Wire, answer: &Value) -> Delivered {
    fn walk(v: &Value, d: &mut Delivered) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, d)),
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(text) if TEXT_FIELDS.contains(&key.as_str()) => {
                            d.add(Delivered::of(text));
                        }
                        Value::Object(_) if key == "input" => {
                            d.add(Delivered::of(&value.to_string()));
                        }
                        _ => walk(value, d),
                    }
                }
            }
            _ => {}
        }
    }
    let field = match wire {
        Wire::Chat => "choices",
        Wire::Messages | Wire::CountTokens => "content",
        Wire::Responses => "output",
    };
    let mut d = Delivered::default();
    if let Some(v) = answer.get(field) {
        walk(v, &mut d);
    }
    d
}

/// The characters of text an event delivers, for billing a cut stream: the chat delta's
/// content, an Anthropic text or tool-input delta, a Responses delta. Read straight from the
/// JSON text (the first string value of the field, escapes decoded), so a relayed event is not
/// parsed a second time.
pub(super) fn delivered_text(client: Wire, ev: &SseEvent) -> Delivered {
    let data = ev.data.as_str();
    if !data.contains("delta") {
        return Delivered::default();
    }
    let fields: &[&str] = match client {
        Wire::Chat => &["\"content\""],
        Wire::Messages | Wire::CountTokens => &["\"text\"", "\"partial_json\""],
        Wire::Responses => &["\"delta\""],
    };
    fields
        .iter()
        .find_map(|field| string_value_chars(data, field))
        .unwrap_or_default()
}

/// Text delivered to a client, by kind of character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(in crate::gateway) struct Delivered {
    ascii: usize,
    /// Characters outside ASCII: CJK text runs about a token a character.
    other: usize,
}

impl Delivered {
    /// The characters of `text`.
    fn of(text: &str) -> Delivered {
        let mut d = Delivered::default();
        for c in text.chars() {
            if c.is_ascii() {
                d.ascii += 1;
            } else {
                d.other += 1;
            }
        }
        d
    }

    pub(super) fn add(&mut self, d: Delivered) {
        self.ascii += d.ascii;
        self.other += d.other;
    }

    /// About four ASCII characters a token, one other character a token (the input
    /// estimate's rule, [`super::budget::estimate_input_tokens`]).
    pub(in crate::gateway) fn tokens(self) -> u64 {
        (self.ascii.div_ceil(4) + self.other) as u64
    }
}

/// The characters of the string value of the first `field` key in `json`, if that value is a
/// string.
fn string_value_chars(json: &str, field: &str) -> Option<Delivered> {
    let at = json.find(field)? + field.len();
    let rest = json[at..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let bytes = rest.strip_prefix('"')?.as_bytes();
    let mut d = Delivered::default();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(d),
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let hex = std::str::from_utf8(bytes.get(i + 2..i + 6)?).ok()?;
                let unit = u32::from_str_radix(hex, 16).ok()?;
                match unit {
                    0..=0x7f => d.ascii += 1,
                    // The second half of a surrogate pair is the same character.
                    0xdc00..=0xdfff => {}
                    _ => d.other += 1,
                }
                i += 6;
            }
            b'\\' => {
                d.ascii += 1;
                i += 2;
            }
            b => {
                // A character is an ASCII byte or a lead byte; continuation bytes are not.
                if b < 0x80 {
                    d.ascii += 1;
                } else if b >= 0xc0 {
                    d.other += 1;
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn delivered(client: Wire, data: &str) -> Delivered {
        delivered_text(client, &SseEvent::data(data))
    }

    fn ascii(n: usize) -> Delivered {
        Delivered { ascii: n, other: 0 }
    }

    #[test]
    fn delivered_text_is_read_without_parsing_and_matches_the_decoded_characters() {
        let chat = r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"héllo \"x\"\n\u00e9\ud83d\ude00你好"},"finish_reason":null}]}"#;
        let decoded: Value = serde_json::from_str(chat).unwrap();
        let text = decoded
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .unwrap();
        let expected = Delivered {
            ascii: text.chars().filter(char::is_ascii).count(),
            other: text.chars().filter(|c| !c.is_ascii()).count(),
        };
        assert_eq!(expected, Delivered { ascii: 9, other: 5 });
        assert_eq!(delivered(Wire::Chat, chat), expected);
        // Nine ASCII characters are three tokens, each other character one.
        assert_eq!(expected.tokens(), 3 + 5);
        assert_eq!(
            delivered(
                Wire::Chat,
                r#"{"choices":[{"delta":{"content":null,"tool_calls":[]}}]}"#
            ),
            ascii(0)
        );
        let text = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}"#;
        assert_eq!(delivered(Wire::Messages, text), ascii(8));
        let tool = r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#;
        assert_eq!(delivered(Wire::Messages, tool), ascii(5));
        let responses = r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"abc"}"#;
        assert_eq!(delivered(Wire::Responses, responses), ascii(3));
        // No delta, or a cut value: nothing counted.
        assert_eq!(delivered(Wire::Chat, r#"{"choices":[]}"#), ascii(0));
        assert_eq!(
            delivered(Wire::Chat, r#"{"delta":{"content":"unterminated"#),
            ascii(0)
        );
    }

    #[test]
    fn a_whole_answers_text_is_its_content_reasoning_and_tool_input_only() {
        let chat = serde_json::json!({"id": "chatcmpl-123456789", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "abcd", "reasoning_content": "你好",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"a\":1}"}}]},
            "finish_reason": "tool_calls"}], "usage": null});
        assert_eq!(
            answer_text(Wire::Chat, &chat),
            Delivered {
                ascii: 4 + 7,
                other: 2
            }
        );
        let messages = serde_json::json!({"id": "msg_1", "content": [
            {"type": "thinking", "thinking": "ab", "signature": "sig-not-text"},
            {"type": "text", "text": "cd"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}]});
        assert_eq!(answer_text(Wire::Messages, &messages), ascii(2 + 2 + 7));
        let responses = serde_json::json!({"id": "resp_1", "output": [
            {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "abc"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]});
        assert_eq!(answer_text(Wire::Responses, &responses), ascii(3 + 2));
        assert_eq!(
            answer_text(Wire::Chat, &serde_json::json!({"choices": "x"})),
            ascii(0)
        );
    }
}
