//! The relay's one read of each upstream stream event: whether it has the shape the gateway
//! needs, the usage it reports and whether it ends the stream.
//!
//! A relayed event is read once. Passed through as it is, it is checked straight from its
//! text by typed views that skip everything they do not name, so no JSON tree is built for
//! content; when it is translated it is parsed into a `Value` once, the same views read that
//! tree, and the translator gets the tree. Unknown event types and extra fields are fine:
//! providers add them. What is refused is what no client could use: data that is not JSON, a
//! non-object, an Anthropic or Responses event without a string `type`, a chat chunk whose
//! `choices` is not an array.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::error::Category;

use super::sse::SseEvent;
use super::upstream::Wire;
use super::usage::Usage;
use super::usage_counts::{AnyJson, UsageCounts, deserialize_any_json};

/// An upstream event the gateway cannot relay: the answer stops there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadEvent {
    /// The data is not JSON (and not OpenAI's `[DONE]`).
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// An object without what the gateway needs of an event of this wire: a chat chunk
    /// whose `choices` is not an array, an Anthropic or Responses event without a string
    /// `type`.
    Shape(Wire),
    /// An event past the parser's bound (16 MiB), which is not buffered.
    TooLarge,
    /// The provider's own error event (`{"error": …}` in a chat stream, `type: "error"` in
    /// Anthropic's and the Responses API's): not relayed, since its text is the provider's
    /// (it may name the account), but ended with the gateway's own error event.
    ErrorEvent,
}

impl BadEvent {
    /// The class in the usage record and the code in the client's error event.
    pub const CODE: &'static str = "upstream_bad_event";

    /// What is wrong with the event, in a few words.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotJson => "an event that is not valid JSON",
            Self::NotObject => "an event that is not a JSON object",
            Self::Shape(Wire::Chat) => "a chunk whose `choices` is not an array",
            Self::Shape(_) => "an event without a string `type`",
            Self::TooLarge => "an event larger than 16 MiB",
            Self::ErrorEvent => "an error event",
        }
    }

    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotJson => {
                "the upstream sent an event that is not valid JSON; the answer is incomplete"
            }
            Self::NotObject => {
                "the upstream sent an event that is not a JSON object; the answer is incomplete"
            }
            Self::Shape(Wire::Chat) => {
                "the upstream sent a chunk whose `choices` is not an array; the answer is incomplete"
            }
            Self::Shape(_) => {
                "the upstream sent an event without a string `type`; the answer is incomplete"
            }
            Self::TooLarge => {
                "the upstream sent an event larger than 16 MiB, which the gateway does not relay; the answer is incomplete"
            }
            Self::ErrorEvent => {
                "the upstream reported an error in the middle of the stream; the answer is incomplete"
            }
        }
    }
}

/// What one upstream event told the relay.
#[derive(Debug, Default)]
pub struct Reading {
    /// The usage it reports (Anthropic's counts are cumulative: merge them).
    pub usage: Option<Usage>,
    /// It ends the stream: `[DONE]`, `message_stop`, a terminal Responses event.
    pub terminal: bool,
    /// A chat chunk that only carries usage (`choices: []` and a usage object).
    pub usage_only: bool,
    /// The parsed event, when it was asked for (to translate it); `None` for `[DONE]` and
    /// events without data.
    pub value: Option<Value>,
    /// The response's id, on a Responses lifecycle event (`response.created`, …).
    pub response_id: Option<String>,
}

/// Reads `ev`, an event of a `wire` stream; with `keep`, the parsed event is kept for the
/// translator.
pub fn read(wire: Wire, ev: &SseEvent, keep: bool) -> Result<Reading, BadEvent> {
    if wire == Wire::Chat && ev.is_done() {
        return Ok(Reading {
            terminal: true,
            ..Reading::default()
        });
    }
    // An event without data says nothing (the SSE standard does not even dispatch it).
    if ev.data.trim().is_empty() {
        return Ok(Reading::default());
    }
    if keep {
        let value: Value = serde_json::from_str(&ev.data).map_err(|_| BadEvent::NotJson)?;
        if !value.is_object() {
            return Err(BadEvent::NotObject);
        }
        let mut reading = view(wire, &value)?;
        reading.value = Some(value);
        return Ok(reading);
    }
    // Valid JSON that starts with `{` is an object; the views alone would also take arrays.
    if !ev.data.trim_start().starts_with('{') {
        return Err(if serde_json::from_str::<IgnoredAny>(&ev.data).is_ok() {
            BadEvent::NotObject
        } else {
            BadEvent::NotJson
        });
    }
    let mut de = serde_json::Deserializer::from_str(&ev.data);
    let reading = view(wire, &mut de)?;
    de.end().map_err(|_| BadEvent::NotJson)?;
    Ok(reading)
}

/// What the gateway reads of a whole answer passed on as it is.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Whole {
    /// Its usage (zero when it reports none).
    pub usage: Usage,
    /// Its `id`, when it is a string.
    pub id: Option<String>,
    /// What it lacks to be an answer of its wire, if anything: the `choices`, `content` or
    /// `output` array (providers add fields, but never drop these), or it is an error object
    /// sent with a 200.
    pub missing: Option<&'static str>,
}

/// The usage and id of a whole (non-stream) answer passed on as it is, read from its text by
/// the same skipping view as events: no tree is built for content. `NotJson` or `NotObject`
/// when it is no answer in any dialect; an answer without usage reads as zero.
pub fn whole_usage(wire: Wire, raw: &[u8]) -> Result<Whole, BadEvent> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(if serde_json::from_slice::<IgnoredAny>(raw).is_ok() {
            BadEvent::NotObject
        } else {
            BadEvent::NotJson
        });
    }
    let holder: UsageHolder = serde_json::from_slice(raw).map_err(|_| BadEvent::NotJson)?;
    let has_answer = match wire {
        Wire::Chat => holder.choices,
        Wire::Messages => holder.content,
        Wire::Responses => holder.output,
        Wire::CountTokens => true,
    };
    let missing = match (has_answer, holder.error, wire) {
        (true, _, _) => None,
        (false, true, _) => Some("an error object instead of an answer"),
        (false, false, Wire::Chat) => Some("no choices"),
        (false, false, Wire::Messages) => Some("no content"),
        (false, false, _) => Some("no output"),
    };
    Ok(Whole {
        usage: holder.usage.and_then(|u| u.of(wire)).unwrap_or_default(),
        id: holder.id,
        missing,
    })
}

/// Reads an event object through the wire's view. A data error (serde's word for valid JSON
/// of the wrong shape) is a shape problem; anything else means the text is not JSON.
fn view<'de, D>(wire: Wire, de: D) -> Result<Reading, BadEvent>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    let classify = |e: serde_json::Error| match e.classify() {
        Category::Data => BadEvent::Shape(wire),
        Category::Io | Category::Syntax | Category::Eof => BadEvent::NotJson,
    };
    match wire {
        Wire::Chat => {
            let chunk = ChatChunk::deserialize(de).map_err(classify)?;
            if chunk.error.0 {
                return Err(BadEvent::ErrorEvent);
            }
            let usage = chunk.usage.and_then(|u| u.chat());
            Ok(Reading {
                usage_only: chunk.choices.as_ref().is_some_and(Vec::is_empty)
                    && chunk.usage.is_some_and(|u| u.is_object()),
                usage,
                ..Reading::default()
            })
        }
        Wire::Messages | Wire::CountTokens => {
            let event = MessagesEvent::deserialize(de).map_err(classify)?;
            if event.kind == "error" {
                return Err(BadEvent::ErrorEvent);
            }
            let usage = event.usage.or(event.message.usage);
            Ok(Reading {
                usage: usage.and_then(|u| u.messages()),
                terminal: event.kind == "message_stop",
                ..Reading::default()
            })
        }
        Wire::Responses => {
            let event = ResponsesEvent::deserialize(de).map_err(classify)?;
            if event.kind == "error" {
                return Err(BadEvent::ErrorEvent);
            }
            let terminal = matches!(
                event.kind.as_ref(),
                "response.completed" | "response.incomplete" | "response.failed"
            );
            Ok(Reading {
                usage: event
                    .response
                    .usage
                    .filter(|_| terminal)
                    .and_then(|u| u.responses()),
                terminal,
                response_id: event.response.id,
                ..Reading::default()
            })
        }
    }
}

/// A chat chunk as the relay needs it. `choices: null` reads as absent.
#[derive(Deserialize)]
struct ChatChunk {
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    usage: Option<UsageCounts>,
    #[serde(default)]
    error: Present,
}

/// An Anthropic event: its type and usage (top-level, or the `message_start` message's).
#[derive(Deserialize)]
struct MessagesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    usage: Option<UsageCounts>,
    #[serde(default)]
    message: UsageHolder,
}

/// A Responses event: its type and, on lifecycle events, the response's usage.
#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    response: UsageHolder,
}

/// The `usage` and string `id` of a nested object; anything that is not an object holds
/// none. Only these are kept: the rest (a whole Response, say) is skipped, not built.
#[derive(Default)]
struct UsageHolder {
    usage: Option<UsageCounts>,
    id: Option<String>,
    /// Which answer arrays it has (`choices`, `content`, `output`), and an `error`.
    choices: bool,
    content: bool,
    output: bool,
    error: bool,
}

impl AnyJson for UsageHolder {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut holder = UsageHolder::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Usage => holder.usage = map.next_value::<Option<UsageCounts>>()?,
                Key::Id => holder.id = map.next_value::<AnyId>()?.0,
                Key::Choices => holder.choices = map.next_value::<IsArray>()?.0,
                Key::Content => holder.content = map.next_value::<IsArray>()?.0,
                Key::Output => holder.output = map.next_value::<IsArray>()?.0,
                Key::Error => holder.error = map.next_value::<Present>()?.0,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(holder)
    }
}

/// Whether a value is an array (its elements skipped).
#[derive(Default)]
struct IsArray(bool);

impl AnyJson for IsArray {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(IsArray(false))
    }

    fn from_array() -> Self {
        IsArray(true)
    }
}

impl<'de> Deserialize<'de> for IsArray {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        deserialize_any_json(de)
    }
}

/// Whether a value says something: an object, array, string or number (`null`, `false` and
/// an absent key say nothing).
#[derive(Default)]
struct Present(bool);

impl AnyJson for Present {
    fn from_count(_n: u64) -> Self {
        Present(true)
    }

    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Present(true))
    }

    fn from_text(_text: &str) -> Self {
        Present(true)
    }

    fn from_array() -> Self {
        Present(true)
    }
}

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        deserialize_any_json(de)
    }
}

/// An `id` value: kept when it is a string, skipped (not refused) when it is anything else.
#[derive(Default)]
struct AnyId(Option<String>);

impl AnyJson for AnyId {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AnyId(None))
    }

    fn from_text(text: &str) -> Self {
        AnyId(Some(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for AnyId {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        deserialize_any_json(de)
    }
}

impl<'de> Deserialize<'de> for UsageHolder {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        deserialize_any_json(de)
    }
}

/// The object keys the holder reads, told apart without copying the key (an answer has a
/// dozen keys; `Cow<str>` would allocate each).
enum Key {
    Usage,
    Id,
    Choices,
    Content,
    Output,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "usage" => Key::Usage,
                    "id" => Key::Id,
                    "choices" => Key::Choices,
                    "content" => Key::Content,
                    "output" => Key::Output,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `data` both ways (from the text, and parsed for a translator); they must agree.
    fn both(wire: Wire, data: &str) -> Result<Reading, BadEvent> {
        let ev = SseEvent::data(data);
        let text = read(wire, &ev, false);
        let kept = read(wire, &ev, true);
        match (&text, &kept) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    (a.usage, a.terminal, a.usage_only, &a.response_id),
                    (b.usage, b.terminal, b.usage_only, &b.response_id),
                    "{data}"
                );
                assert!(a.value.is_none());
                assert_eq!(
                    b.value.is_some(),
                    !data.trim().is_empty() && data != "[DONE]"
                );
            }
            (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "{data}"),
        }
        text
    }

    /// The providers' own error events end the stream as errors (their text is not relayed);
    /// `error: null` in a chunk is no error.
    #[test]
    fn error_events_are_errors_in_every_wire() {
        for (wire, data) in [
            (
                Wire::Chat,
                r#"{"error":{"message":"Incorrect API key provided: sk-1"}}"#,
            ),
            (Wire::Chat, r#"{"choices":[],"error":"quota"}"#),
            (
                Wire::Messages,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
            (
                Wire::Responses,
                r#"{"type":"error","code":"server_error","message":"x"}"#,
            ),
        ] {
            assert_eq!(both(wire, data).err(), Some(BadEvent::ErrorEvent), "{data}");
        }
        assert!(both(Wire::Chat, r#"{"choices":[],"error":null}"#).is_ok());
        let failed =
            r#"{"type":"response.failed","response":{"id":"resp_1","error":{"code":"x"}}}"#;
        assert!(both(Wire::Responses, failed).unwrap().terminal);
    }

    /// A whole answer passed on as it is must be one of its wire: its answer array present
    /// (anything else the provider adds passes), and an error object sent with a 200 is named.
    #[test]
    fn whole_answers_need_their_answer_array() {
        let missing = |wire, text: &str| whole_usage(wire, text.as_bytes()).unwrap().missing;
        assert_eq!(
            missing(Wire::Chat, r#"{"choices":[],"extra":{"content":1}}"#),
            None
        );
        assert_eq!(missing(Wire::Chat, r#"{"foo":1}"#), Some("no choices"));
        assert_eq!(
            missing(Wire::Chat, r#"{"choices":"x"}"#),
            Some("no choices")
        );
        assert_eq!(
            missing(
                Wire::Chat,
                r#"{"error":{"message":"quota exhausted for key sk-1"}}"#
            ),
            Some("an error object instead of an answer")
        );
        assert_eq!(
            missing(Wire::Messages, r#"{"type":"message","content":[]}"#),
            None
        );
        assert_eq!(
            missing(Wire::Messages, r#"{"type":"message"}"#),
            Some("no content")
        );
        assert_eq!(missing(Wire::Responses, r#"{"output":[{"a":[1]}]}"#), None);
        assert_eq!(
            missing(Wire::Responses, r#"{"output":null}"#),
            Some("no output")
        );
        assert_eq!(missing(Wire::CountTokens, r#"{"input_tokens":3}"#), None);
    }

    /// The response id (what a later `previous_response_id` names) comes from the lifecycle
    /// events and from a whole Response; an id of another type is none, not a bad event.
    #[test]
    fn a_responses_id_is_read_from_lifecycle_events_and_whole_answers() {
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}"#;
        let reading = both(Wire::Responses, created).unwrap();
        assert_eq!(reading.response_id.as_deref(), Some("resp_1"));
        let delta = r#"{"type":"response.output_text.delta","item_id":"msg_1","delta":"hi"}"#;
        assert_eq!(both(Wire::Responses, delta).unwrap().response_id, None);
        let odd = r#"{"type":"response.created","response":{"id":7}}"#;
        assert_eq!(both(Wire::Responses, odd).unwrap().response_id, None);
        let whole = br#"{"id":"resp_\u0032","object":"response","output":[]}"#;
        let whole = whole_usage(Wire::Responses, whole).unwrap();
        assert_eq!(whole.id.as_deref(), Some("resp_2"));
        let odd = br#"{"id":{"a":[1,{"b":null}]},"output":[]}"#;
        assert_eq!(whole_usage(Wire::Responses, odd).unwrap().id, None);
    }

    /// A whole answer passed on as it is reads the same usage from its text as the tree
    /// readers do, and the same refusals.
    #[test]
    fn whole_answers_read_from_text_as_from_a_tree() {
        let cases = [
            (
                Wire::Chat,
                r#"{"id":"x","choices":[{"message":{"content":"{\"usage\":{}}"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
            ),
            (
                Wire::Chat,
                r#"{"choices":[],"usage":{"prompt_tokens":7,"prompt_cache_hit_tokens":5,"completion_tokens":1}}"#,
            ),
            (Wire::Chat, r#"{"choices":[],"usage":null}"#),
            // Escaped keys are keys too.
            (
                Wire::Chat,
                r#"{"\u0069d":"x","choices":[],"us\u0061ge":{"prompt_tokens":3,"completion_tokens":2}}"#,
            ),
            (Wire::Chat, r#" {"choices":[]} "#),
            (
                Wire::Messages,
                r#"{"type":"message","content":[],"usage":{"input_tokens":4,"output_tokens":9,"cache_read_input_tokens":1,"cache_creation_input_tokens":2}}"#,
            ),
            (
                Wire::Responses,
                r#"{"object":"response","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":6}}"#,
            ),
            (Wire::CountTokens, r#"{"input_tokens":12}"#),
        ];
        for (wire, text) in cases {
            let tree: Value = serde_json::from_str(text).unwrap();
            let expected = Usage::from_wire(wire, &tree).unwrap_or_default();
            assert_eq!(
                whole_usage(wire, text.as_bytes()).map(|w| w.usage),
                Ok(expected),
                "{text}"
            );
        }
        let first = whole_usage(Wire::Chat, cases[0].1.as_bytes())
            .unwrap()
            .usage;
        assert_eq!(
            (
                first.input_tokens,
                first.cache_read_tokens,
                first.output_tokens
            ),
            (10, 2, 3)
        );
        for (text, bad) in [
            (&b" [1]"[..], BadEvent::NotObject),
            (b"\"x\"", BadEvent::NotObject),
            (b"{\"usage\":", BadEvent::NotJson),
            (b"<html>", BadEvent::NotJson),
            (b"{} trailing", BadEvent::NotJson),
            (b"", BadEvent::NotJson),
        ] {
            assert_eq!(whole_usage(Wire::Chat, text), Err(bad));
        }
    }

    #[test]
    fn chat_chunks_must_be_objects_with_an_array_of_choices() {
        let bad = [
            ("{not json", BadEvent::NotJson),
            (r#"{"choices":[]} trailing"#, BadEvent::NotJson),
            (r#"{"choices":"nope"}"#, BadEvent::Shape(Wire::Chat)),
            (r#"{"choices":{"0":{}}}"#, BadEvent::Shape(Wire::Chat)),
            ("null", BadEvent::NotObject),
            ("[1,2]", BadEvent::NotObject),
            (r#""text""#, BadEvent::NotObject),
            ("42", BadEvent::NotObject),
        ];
        for (data, expected) in bad {
            assert_eq!(both(Wire::Chat, data).err(), Some(expected), "{data}");
        }
        assert!(
            !BadEvent::NotJson.message().is_empty()
                && BadEvent::Shape(Wire::Chat).message().contains("choices")
        );
        // Providers' extras pass: unknown fields, `choices: null`, an empty object.
        for data in [
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null,"x_new":{"a":[1]}}"#,
            r#"{"choices":null}"#,
            "{}",
        ] {
            let r = both(Wire::Chat, data).unwrap();
            assert!(!r.terminal && !r.usage_only && r.usage.is_none(), "{data}");
        }
        let done = both(Wire::Chat, "[DONE]").unwrap();
        assert!(done.terminal);
        let usage = both(
            Wire::Chat,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
        )
        .unwrap();
        assert!(usage.usage_only);
        assert_eq!(
            usage.usage,
            Some(Usage {
                input_tokens: 5,
                output_tokens: 3,
                cache_read_tokens: 2,
                cache_write_tokens: 0
            })
        );
        // Usage on a chunk that also carries content is read but the chunk is not usage-only.
        let mixed = both(
            Wire::Chat,
            r#"{"choices":[{"delta":{}}],"usage":{"completion_tokens":1}}"#,
        )
        .unwrap();
        assert!(!mixed.usage_only && mixed.usage.is_some());
    }

    #[test]
    fn anthropic_events_need_a_string_type() {
        for (data, expected) in [
            ("{not json", BadEvent::NotJson),
            (r#"{"foo":1}"#, BadEvent::Shape(Wire::Messages)),
            (r#"{"type":7}"#, BadEvent::Shape(Wire::Messages)),
            (r#"{"type":null}"#, BadEvent::Shape(Wire::Messages)),
            ("null", BadEvent::NotObject),
        ] {
            assert_eq!(both(Wire::Messages, data).err(), Some(expected), "{data}");
        }
        // Pings, new event types and odd extra fields pass.
        for data in [
            r#"{"type": "ping"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}}"#,
            r#"{"type":"brand_new_event","message":"a string here","usage":null}"#,
        ] {
            let r = both(Wire::Messages, data).unwrap();
            assert!(!r.terminal && r.usage.is_none(), "{data}");
        }
        let start = both(
            Wire::Messages,
            r#"{"type":"message_start","message":{"id":"msg_1","content":[],"usage":{"input_tokens":25,"cache_read_input_tokens":4000,"output_tokens":1}}}"#,
        )
        .unwrap();
        assert_eq!(
            start.usage.map(|u| (u.input_tokens, u.cache_read_tokens)),
            Some((25, 4000))
        );
        let delta = both(
            Wire::Messages,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#,
        )
        .unwrap();
        assert_eq!(delta.usage.map(|u| u.output_tokens), Some(42));
        // Escapes in the type still compare as text.
        assert!(
            both(Wire::Messages, r#"{"type":"message\u005fstop"}"#)
                .unwrap()
                .terminal
        );
    }

    #[test]
    fn responses_events_need_a_type_and_only_terminal_ones_report_usage() {
        assert_eq!(
            both(Wire::Responses, r#"{"sequence_number":1}"#).err(),
            Some(BadEvent::Shape(Wire::Responses))
        );
        let usage = r#"{"usage":{"input_tokens":9,"output_tokens":4}}"#;
        let created = both(
            Wire::Responses,
            &format!(r#"{{"type":"response.created","response":{usage}}}"#),
        )
        .unwrap();
        assert!(!created.terminal && created.usage.is_none());
        let completed = both(
            Wire::Responses,
            &format!(
                r#"{{"type":"response.completed","response":{{"output":[{{"type":"message"}}],{}}}}}"#,
                &usage[1..usage.len() - 1]
            ),
        )
        .unwrap();
        assert!(completed.terminal);
        assert_eq!(completed.usage.map(|u| u.output_tokens), Some(4));
        let odd = both(
            Wire::Responses,
            r#"{"type":"response.output_text.delta","response":"not an object","delta":"x"}"#,
        )
        .unwrap();
        assert!(!odd.terminal);
    }

    #[test]
    fn an_event_without_data_is_neither_bad_nor_anything() {
        for wire in [Wire::Chat, Wire::Messages, Wire::Responses] {
            let r = both(wire, " ").unwrap();
            assert!(!r.terminal && r.usage.is_none() && r.value.is_none());
        }
    }
}
