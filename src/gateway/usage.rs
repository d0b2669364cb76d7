//! Token usage in one billing-safe shape, read from and written to each wire dialect.
//!
//! `input_tokens` follows Anthropic: input that was neither read from nor written to the
//! prompt cache. OpenAI's `prompt_tokens` (and the Responses `input_tokens`) include cached
//! tokens, so readers subtract them and writers add them back.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::upstream::Wire;

/// Tokens of one call, split so each part can be priced on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens not read from or written to the prompt cache.
    pub input_tokens: u64,
    /// Generated tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens served from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
}

/// The most tokens one field of one call may report. No model comes near it (the largest
/// context windows hold a few million); a bigger figure comes from a broken or hostile
/// upstream, and taking it as is would overflow the usage sums and lock the member's budget.
pub const MAX_TOKENS: u64 = 100_000_000;

/// `n` as reported under `field`, capped at [`MAX_TOKENS`] (with a warning when it is over).
fn capped(field: &str, n: u64) -> u64 {
    if n > MAX_TOKENS {
        tracing::warn!(
            field,
            reported = n,
            "upstream reported an implausible token count; recorded as {MAX_TOKENS}"
        );
    }
    n.min(MAX_TOKENS)
}

/// The counts of one usage object, wherever they are read from: a parsed [`Value`], or
/// [`UsageCounts`] read straight from the text. A count is a non-negative integer; anything
/// else under a count's name reads as absent.
trait Counts {
    /// `key`'s count, capped.
    fn count(&self, key: &'static str) -> Option<u64>;
    /// The count `key` inside the object `outer` (`prompt_tokens_details.cached_tokens`).
    fn nested(&self, outer: &'static str, key: &'static str) -> Option<u64>;
    /// Whether `key` is there at all, whatever its value.
    fn has(&self, key: &str) -> bool;
}

impl Counts for Value {
    fn count(&self, key: &'static str) -> Option<u64> {
        self.get(key)
            .and_then(Value::as_u64)
            .map(|n| capped(key, n))
    }

    fn nested(&self, outer: &'static str, key: &'static str) -> Option<u64> {
        self.get(outer)?.count(key)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// The usage object itself, whether given directly or under `usage` / `<outer>.usage`.
fn usage_object<'a>(v: &'a Value, outer: &str, own_keys: &[&str]) -> Option<&'a Value> {
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        return Some(u);
    }
    if let Some(u) = v
        .get(outer)
        .and_then(|o| o.get("usage"))
        .filter(|u| u.is_object())
    {
        return Some(u);
    }
    own_keys
        .iter()
        .any(|k| v.get(*k).is_some())
        .then_some(v)
        .filter(|v| v.is_object())
}

/// The keys a chat usage object must have one of to be one.
const CHAT_KEYS: [&str; 2] = ["prompt_tokens", "completion_tokens"];
/// The same for Messages and Responses usage objects.
const IO_KEYS: [&str; 2] = ["input_tokens", "output_tokens"];

fn chat_usage(u: &impl Counts) -> Usage {
    let prompt = u.count("prompt_tokens").unwrap_or(0);
    let cached = u
        .nested("prompt_tokens_details", "cached_tokens")
        // DeepSeek reports its cache hits at the top level.
        .or_else(|| u.count("prompt_cache_hit_tokens"))
        .unwrap_or(0)
        .min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: u.count("completion_tokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

fn messages_usage(u: &impl Counts) -> Usage {
    Usage {
        input_tokens: u.count("input_tokens").unwrap_or(0),
        output_tokens: u.count("output_tokens").unwrap_or(0),
        cache_read_tokens: u.count("cache_read_input_tokens").unwrap_or(0),
        cache_write_tokens: u.count("cache_creation_input_tokens").unwrap_or(0),
    }
}

fn responses_usage(u: &impl Counts) -> Usage {
    let input = u.count("input_tokens").unwrap_or(0);
    let cached = u
        .nested("input_tokens_details", "cached_tokens")
        .unwrap_or(0)
        .min(input);
    Usage {
        input_tokens: input - cached,
        output_tokens: u.count("output_tokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

/// The names of the counts [`UsageCounts`] keeps, in every dialect.
const COUNT_KEYS: [&str; 7] = [
    "prompt_tokens",
    "completion_tokens",
    "prompt_cache_hit_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
];
/// The objects holding a nested count (`cached_tokens`), in every dialect.
const DETAIL_KEYS: [&str; 2] = ["prompt_tokens_details", "input_tokens_details"];

/// A `usage` object as the relay reads it from an answer's or event's text: just the counts
/// of every dialect, with no tree built (a chat answer's usage has a dozen keys and two
/// nested objects; as a `Value` it cost more than the rest of the answer's reading). Read by
/// the same rules as from a `Value`: a count is a non-negative integer, anything else under
/// its name reads as absent, other keys are skipped, the last of repeated keys counts.
/// Unlike [`Usage::from_chat`] and its siblings it is the usage object itself: a `usage`
/// nested inside it is not looked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    /// It was an object: anything else holds no usage.
    object: bool,
    /// Each of [`COUNT_KEYS`]: `None` when absent, `Some(None)` when there but not a count.
    counts: [Option<Option<u64>>; 7],
    /// `cached_tokens` of each of [`DETAIL_KEYS`].
    cached: [Option<u64>; 2],
}

impl UsageCounts {
    /// The usage of a `wire` answer or event with this usage object (token counting reports
    /// none).
    pub fn of(&self, wire: Wire) -> Option<Usage> {
        match wire {
            Wire::Chat => self.chat(),
            Wire::Messages => self.messages(),
            Wire::Responses => self.responses(),
            Wire::CountTokens => None,
        }
    }

    /// Read as a chat usage object.
    pub fn chat(&self) -> Option<Usage> {
        self.is_one(&CHAT_KEYS).then(|| chat_usage(self))
    }

    /// Read as a Messages usage object.
    pub fn messages(&self) -> Option<Usage> {
        self.is_one(&IO_KEYS).then(|| messages_usage(self))
    }

    /// Read as a Responses usage object.
    pub fn responses(&self) -> Option<Usage> {
        self.is_one(&IO_KEYS).then(|| responses_usage(self))
    }

    /// It was an object (`usage: {}` included).
    pub fn is_object(&self) -> bool {
        self.object
    }

    fn is_one(&self, own_keys: &[&str]) -> bool {
        self.object && own_keys.iter().any(|k| self.has(k))
    }
}

impl Counts for UsageCounts {
    fn count(&self, key: &'static str) -> Option<u64> {
        let i = COUNT_KEYS.iter().position(|k| *k == key)?;
        self.counts[i].flatten().map(|n| capped(key, n))
    }

    fn nested(&self, outer: &'static str, key: &'static str) -> Option<u64> {
        let i = DETAIL_KEYS.iter().position(|k| *k == outer)?;
        debug_assert_eq!(key, "cached_tokens");
        self.cached[i].map(|n| capped(key, n))
    }

    fn has(&self, key: &str) -> bool {
        COUNT_KEYS
            .iter()
            .position(|k| *k == key)
            .is_some_and(|i| self.counts[i].is_some())
    }
}

/// Which of the kept names an object key is, read without copying it.
enum CountKey {
    Count(usize),
    Details(usize),
    Cached,
    Other,
}

impl<'de> Deserialize<'de> for CountKey {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = CountKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_str<E>(self, key: &str) -> Result<CountKey, E> {
                Ok(if let Some(i) = COUNT_KEYS.iter().position(|k| *k == key) {
                    CountKey::Count(i)
                } else if let Some(i) = DETAIL_KEYS.iter().position(|k| *k == key) {
                    CountKey::Details(i)
                } else if key == "cached_tokens" {
                    CountKey::Cached
                } else {
                    CountKey::Other
                })
            }
        }
        de.deserialize_str(Key)
    }
}

/// What reads any JSON value without failing on its type: an object goes to `from_map`, an
/// integer that fits a `u64` to `from_count`, anything else (consumed) is the default. Read
/// with [`deserialize_any_json`].
pub(super) trait AnyJson: Default {
    /// The value read from a count.
    fn from_count(_n: u64) -> Self {
        Self::default()
    }

    /// The value read from an object.
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Reads a `T` from any JSON value (see [`AnyJson`]).
pub(super) fn deserialize_any_json<'de, T: AnyJson, D: Deserializer<'de>>(
    de: D,
) -> Result<T, D::Error> {
    de.deserialize_any(AnyJsonVisitor(PhantomData))
}

struct AnyJsonVisitor<T>(PhantomData<T>);

impl<'de, T: AnyJson> Visitor<'de> for AnyJsonVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }

    fn visit_u64<E>(self, n: u64) -> Result<T, E> {
        Ok(T::from_count(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<T, E> {
        Ok(u64::try_from(n).map_or_else(|_| T::default(), T::from_count))
    }

    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// A value kept when it is a count (`Value::as_u64`'s rule).
#[derive(Default)]
struct Count(Option<u64>);

impl AnyJson for Count {
    fn from_count(n: u64) -> Self {
        Count(Some(n))
    }

    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Count(None))
    }
}

/// A `*_details` object's `cached_tokens`.
#[derive(Default)]
struct CachedTokens(Option<u64>);

impl AnyJson for CachedTokens {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut cached = None;
        while let Some(key) = map.next_key::<CountKey>()? {
            match key {
                CountKey::Cached => cached = map.next_value::<Count>()?.0,
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(CachedTokens(cached))
    }
}

impl AnyJson for UsageCounts {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut counts = UsageCounts {
            object: true,
            ..UsageCounts::default()
        };
        while let Some(key) = map.next_key::<CountKey>()? {
            match key {
                CountKey::Count(i) => counts.counts[i] = Some(map.next_value::<Count>()?.0),
                CountKey::Details(i) => counts.cached[i] = map.next_value::<CachedTokens>()?.0,
                CountKey::Cached | CountKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(counts)
    }
}

macro_rules! deserialize_any_json {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                deserialize_any_json(de)
            }
        }
    )*};
}
deserialize_any_json!(Count, CachedTokens, UsageCounts);

impl Usage {
    /// From a whole answer, event or bare usage object of `wire`; token counting reports none.
    pub fn from_wire(wire: Wire, v: &Value) -> Option<Usage> {
        match wire {
            Wire::Chat => Usage::from_chat(v),
            Wire::Messages => Usage::from_messages(v),
            Wire::Responses => Usage::from_responses(v),
            Wire::CountTokens => None,
        }
    }

    /// Every prompt-side token: the OpenAI `prompt_tokens` figure.
    pub fn total_input(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }

    /// Field-wise maximum. Anthropic streams report cumulative counts (`message_start`
    /// then `message_delta`, where absent fields read as 0), so the max is the total.
    #[must_use]
    pub fn merge(self, later: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.max(later.input_tokens),
            output_tokens: self.output_tokens.max(later.output_tokens),
            cache_read_tokens: self.cache_read_tokens.max(later.cache_read_tokens),
            cache_write_tokens: self.cache_write_tokens.max(later.cache_write_tokens),
        }
    }

    /// From a chat completion, a chunk, or a bare chat `usage` object; `None` when absent
    /// or `null` (OpenAI sends `"usage": null` on every chunk but the last).
    pub fn from_chat(v: &Value) -> Option<Usage> {
        usage_object(v, "response", &CHAT_KEYS).map(chat_usage)
    }

    /// From an Anthropic message, a `message_start` / `message_delta` event, or a bare
    /// Messages `usage` object.
    pub fn from_messages(v: &Value) -> Option<Usage> {
        usage_object(v, "message", &IO_KEYS).map(messages_usage)
    }

    /// From a Response object, a `response.completed` event, or a bare Responses `usage`.
    pub fn from_responses(v: &Value) -> Option<Usage> {
        usage_object(v, "response", &IO_KEYS).map(responses_usage)
    }

    /// The chat `usage` object. Cache writes have no OpenAI field; they count as prompt.
    pub fn to_chat_json(self) -> Value {
        json!({
            "prompt_tokens": self.total_input(),
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_input().saturating_add(self.output_tokens),
            "prompt_tokens_details": { "cached_tokens": self.cache_read_tokens },
        })
    }

    /// The Anthropic `usage` object.
    pub fn to_messages_json(self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "output_tokens": self.output_tokens,
        })
    }

    /// The Responses `usage` object.
    pub fn to_responses_json(self) -> Value {
        json!({
            "input_tokens": self.total_input(),
            "input_tokens_details": { "cached_tokens": self.cache_read_tokens },
            "output_tokens": self.output_tokens,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": self.total_input().saturating_add(self.output_tokens),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_cached_tokens_are_split_out_of_prompt_tokens() {
        let completion = json!({"id": "chatcmpl-1", "usage": {
            "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0}}});
        let u = Usage::from_chat(&completion).unwrap();
        assert_eq!(
            u,
            Usage {
                input_tokens: 86,
                output_tokens: 300,
                cache_read_tokens: 1920,
                cache_write_tokens: 0
            }
        );
        assert_eq!(Usage::from_chat(&u.to_chat_json()), Some(u));
        assert_eq!(
            Usage::from_chat(&json!({"usage": null, "choices": []})),
            None
        );
        // A bogus cached count larger than the prompt can't underflow.
        let odd = json!({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}});
        assert_eq!(Usage::from_chat(&odd).unwrap().input_tokens, 0);
    }

    /// `UsageCounts` read from the text and from the parsed tree agree with each other and
    /// with the tree readers, odd values included.
    #[test]
    fn counts_read_from_text_follow_the_tree_rules() {
        let objects = [
            r#"{"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 5, "accepted_prediction_tokens": 0}}"#,
            r#"{"prompt_tokens": 10, "prompt_cache_hit_tokens": 4, "completion_tokens": 1}"#,
            r#"{"prompt_tokens": 10, "prompt_tokens_details": null, "prompt_cache_hit_tokens": 3}"#,
            r#"{"prompt_tokens": 10, "prompt_tokens_details": [1, 2], "completion_tokens": {"a": 1}}"#,
            r#"{"prompt_tokens": -5, "completion_tokens": 2.5, "prompt_tokens_details": {"cached_tokens": "9"}}"#,
            r#"{"prompt_tokens": null}"#,
            r#"{"total_tokens": 7}"#,
            r#"{}"#,
            r#"{"prompt\u005ftokens": 12, "completion_tokens": 1, "completion_tokens": 8}"#,
            r#"{"prompt_tokens_details": {"cached_tokens": 9}, "prompt_tokens_details": {"x": 1}, "prompt_tokens": 20}"#,
            r#"{"input_tokens": 25, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 4000, "output_tokens": 1}"#,
            r#"{"output_tokens": 42}"#,
            r#"{"input_tokens": 328, "input_tokens_details": {"cached_tokens": 128, "cached_tokens": 64}, "output_tokens": 52}"#,
            r#"{"input_tokens": 18446744073709551615, "output_tokens": 100000001}"#,
            r#"{"input_tokens": 1e3, "output_tokens": 18446744073709551616}"#,
            r#""usage""#,
            r#"[1, {"prompt_tokens": 3}]"#,
            r#"3"#,
            r#"true"#,
        ];
        for text in objects {
            let tree: Value = serde_json::from_str(text).unwrap();
            let from_text: UsageCounts = serde_json::from_str(text).unwrap();
            let from_tree = UsageCounts::deserialize(&tree).unwrap();
            assert_eq!(from_text, from_tree, "{text}");
            assert_eq!(from_text.is_object(), tree.is_object(), "{text}");
            assert_eq!(from_text.chat(), Usage::from_chat(&tree), "{text}");
            assert_eq!(from_text.messages(), Usage::from_messages(&tree), "{text}");
            assert_eq!(
                from_text.responses(),
                Usage::from_responses(&tree),
                "{text}"
            );
        }
        let first: UsageCounts = serde_json::from_str(objects[0]).unwrap();
        assert_eq!(
            first.of(Wire::Chat),
            Some(Usage {
                input_tokens: 86,
                output_tokens: 300,
                cache_read_tokens: 1920,
                cache_write_tokens: 0
            })
        );
        assert_eq!(first.of(Wire::CountTokens), None);
    }

    #[test]
    fn implausible_counts_are_capped_not_taken() {
        let absurd = json!({"usage": {"prompt_tokens": u64::MAX, "completion_tokens": 9_223_372_036_854_775_807_u64}});
        let u = Usage::from_chat(&absurd).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (MAX_TOKENS, MAX_TOKENS));
        let absurd = json!({"usage": {"input_tokens": 1, "output_tokens": 2,
            "cache_read_input_tokens": u64::MAX, "cache_creation_input_tokens": MAX_TOKENS + 1}});
        let u = Usage::from_messages(&absurd).unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens
            ),
            (1, 2, MAX_TOKENS, MAX_TOKENS)
        );
        let u =
            Usage::from_responses(&json!({"input_tokens": u64::MAX, "output_tokens": 3})).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (MAX_TOKENS, 3));
    }

    #[test]
    fn anthropic_stream_usage_merges_start_and_delta() {
        let start = json!({"type": "message_start", "message": {"id": "msg_1", "usage": {
            "input_tokens": 25, "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 4000, "output_tokens": 1}}});
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 42}});
        let u = Usage::from_messages(&start)
            .unwrap()
            .merge(Usage::from_messages(&delta).unwrap());
        assert_eq!(
            u,
            Usage {
                input_tokens: 25,
                output_tokens: 42,
                cache_read_tokens: 4000,
                cache_write_tokens: 100
            }
        );
        assert_eq!(u.to_chat_json()["prompt_tokens"], 4125);
        assert_eq!(u.to_responses_json()["total_tokens"], 4167);
        assert_eq!(Usage::from_messages(&u.to_messages_json()), Some(u));
    }

    #[test]
    fn responses_usage_reads_completed_event() {
        let ev = json!({"type": "response.completed", "response": {"usage": {
            "input_tokens": 328, "input_tokens_details": {"cached_tokens": 128},
            "output_tokens": 52, "total_tokens": 380}}});
        let u = Usage::from_responses(&ev).unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_tokens, u.output_tokens),
            (200, 128, 52)
        );
        assert_eq!(Usage::from_responses(&u.to_responses_json()), Some(u));
    }
}
