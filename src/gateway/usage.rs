//! Token usage in one billing-safe shape, read from and written to each wire dialect.
//!
//! `input_tokens` follows Anthropic: input that was neither read from nor written to the
//! prompt cache. OpenAI's `prompt_tokens` (and the Responses `input_tokens`) include cached
//! tokens, so readers subtract them and writers add them back.

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
pub(super) fn capped(field: &str, n: u64) -> u64 {
    if n > MAX_TOKENS {
        tracing::warn!(
            field,
            reported = n,
            "upstream reported an implausible token count; recorded as {MAX_TOKENS}"
        );
    }
    n.min(MAX_TOKENS)
}

/// A count written as a float: one with no fraction (`1e3`, `12.0`, as some OpenAI-compatible
/// servers write their counts) is that count; a fraction, a negative or a non-finite number is
/// none.
pub(super) fn float_count(n: f64) -> Option<u64> {
    // `as` saturates: a float past u64::MAX is u64::MAX, which `capped` then caps.
    (n.is_finite() && n >= 0.0 && n.fract() == 0.0).then_some(n as u64)
}

/// The counts of one usage object, wherever they are read from: a parsed [`Value`], or
/// [`UsageCounts`](super::usage_counts::UsageCounts) read straight from the text. A count is
/// a non-negative integer, or a float without a fraction ([`float_count`]); anything else
/// under a count's name reads as absent.
pub(super) trait Counts {
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
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().and_then(float_count)))
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
pub(super) const CHAT_KEYS: [&str; 2] = ["prompt_tokens", "completion_tokens"];
/// The same for Messages and Responses usage objects.
pub(super) const IO_KEYS: [&str; 2] = ["input_tokens", "output_tokens"];

pub(super) fn chat_usage(u: &impl Counts) -> Usage {
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

pub(super) fn messages_usage(u: &impl Counts) -> Usage {
    Usage {
        input_tokens: u.count("input_tokens").unwrap_or(0),
        output_tokens: u.count("output_tokens").unwrap_or(0),
        cache_read_tokens: u.count("cache_read_input_tokens").unwrap_or(0),
        cache_write_tokens: u.count("cache_creation_input_tokens").unwrap_or(0),
    }
}

pub(super) fn responses_usage(u: &impl Counts) -> Usage {
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
