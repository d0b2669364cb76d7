//! A `usage` object read straight from an answer's or event's text into its counts, with no
//! JSON tree built, by the same rules as [`Usage`]'s readers of a parsed `Value`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::upstream::Wire;
use super::usage::{
    CHAT_KEYS, Counts, IO_KEYS, Usage, capped, chat_usage, messages_usage, responses_usage,
};

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
/// integer that fits a `u64` or a float without a fraction to `from_count`, anything else
/// (consumed) is the default. Read
/// with [`deserialize_any_json`].
pub(super) trait AnyJson: Default {
    /// The value read from a count.
    fn from_count(_n: u64) -> Self {
        Self::default()
    }

    /// The value read from an object.
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;

    /// The value read from a string.
    fn from_text(_text: &str) -> Self {
        Self::default()
    }

    /// The value read from an array (whose elements are skipped).
    fn from_array() -> Self {
        Self::default()
    }
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
        Ok(T::from_array())
    }

    fn visit_u64<E>(self, n: u64) -> Result<T, E> {
        Ok(T::from_count(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<T, E> {
        Ok(u64::try_from(n).map_or_else(|_| T::default(), T::from_count))
    }

    fn visit_f64<E>(self, n: f64) -> Result<T, E> {
        Ok(super::usage::float_count(n).map_or_else(T::default, T::from_count))
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_str<E>(self, text: &str) -> Result<T, E> {
        Ok(T::from_text(text))
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// A value kept when it is a count (the rule of [`Counts`](super::usage::Counts) on a `Value`).
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

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
            r#"{"prompt_tokens": 12.0, "completion_tokens": 3.5, "prompt_tokens_details": {"cached_tokens": 4e0}}"#,
            r#"{"input_tokens": -0.0, "output_tokens": 7.000000000000001}"#,
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
        // Counts written as floats without a fraction are counts; a fraction is none.
        let floats: UsageCounts = serde_json::from_str(objects[15]).unwrap();
        assert_eq!(
            floats.chat(),
            Some(Usage {
                input_tokens: 8,
                output_tokens: 0,
                cache_read_tokens: 4,
                cache_write_tokens: 0
            })
        );
        let thousand: UsageCounts = serde_json::from_str(objects[14]).unwrap();
        assert_eq!(
            thousand.messages().map(|u| u.input_tokens),
            Some(1_000),
            "{}",
            objects[14]
        );
    }
}
