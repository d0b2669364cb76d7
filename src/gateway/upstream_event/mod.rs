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
    /// A Responses event's `sequence_number`.
    pub sequence_number: Option<u64>,
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
                sequence_number: event.sequence_number,
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
    #[serde(default)]
    sequence_number: Option<u64>,
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
mod tests;
