//! Budget enforcement, reserve then settle: before forwarding, the worst case of a request
//! (estimated input plus its output cap, priced at the dearest candidate) is held atomically
//! against every limit that applies; the usage record's actual numbers replace it when the
//! request ends, whichever way it ends. A refusal says which limit, its value, the usage,
//! when it resets and who can raise it, in the caller's dialect with `x-ratelimit-*` headers.

use http::{HeaderName, HeaderValue};
use serde_json::Value;

use super::body::DEFAULT_MAX_TOKENS;
use super::catalog::{Candidate, Catalog};
use super::error::{ErrorKind, GatewayError};
use super::keys::MemberKey;
use super::translate;
use super::upstream::{Endpoint, Wire};
use super::usage::Usage;
use crate::counters::Charge;
use crate::model::{LimitMetric, LimitScope, LimitWindow};
use crate::timefmt::format_rfc3339;
use crate::tz::Zone;

/// Output cap assumed when the request names none.
pub const DEFAULT_OUTPUT_CAP: i64 = 16_384;
/// Tokens assumed for each image in a request.
const IMAGE_TOKENS: i64 = 1_600;

/// A limit ready for enforcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Scope.
    pub scope: LimitScope,
    /// Target.
    pub target_id: Option<i64>,
    /// Metric.
    pub metric: LimitMetric,
    /// Window.
    pub window: LimitWindow,
    /// Cap (micro-USD for cost).
    pub cap: i64,
    /// Warning thresholds (percent).
    pub warn_at: Vec<u8>,
    /// The group's time zone, which bounds day and month windows.
    pub zone: Zone,
}

/// What a request uses (or may use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    /// Requests.
    pub requests: i64,
    /// Tokens of all kinds.
    pub tokens: i64,
    /// Cost (micro-USD).
    pub cost_micros: i64,
}

impl Amounts {
    /// The amounts of a finished request.
    pub fn actual(usage: &Usage, cost_micros: i64) -> Amounts {
        let tokens = usage.total_input().saturating_add(usage.output_tokens);
        Amounts {
            requests: 1,
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
            cost_micros,
        }
    }
}

impl Limit {
    /// Whether it applies to a request with this key (key, member and group scopes).
    pub fn applies_to(&self, key: &MemberKey) -> bool {
        self.group_id == key.group_id
            && match self.scope {
                LimitScope::Key => self.target_id == Some(key.id),
                LimitScope::Member => self.target_id == Some(key.user_id),
                LimitScope::Group => true,
                LimitScope::Account => false,
            }
    }

    /// The part of `a` this limit counts.
    pub fn amount(&self, a: &Amounts) -> i64 {
        match self.metric {
            LimitMetric::Requests => a.requests,
            LimitMetric::Tokens => a.tokens,
            LimitMetric::Cost => a.cost_micros,
        }
    }

    /// The window containing `now`: its start and when it resets (`None` for `total`, whose
    /// window starts at 0). Day and month windows follow the zone's calendar, daylight saving
    /// time included (the zone caches the current bounds).
    pub fn window_bounds(&self, now: i64) -> (i64, Option<i64>) {
        match self.window {
            LimitWindow::Minute => {
                let start = now.div_euclid(60_000) * 60_000;
                (start, Some(start + 60_000))
            }
            LimitWindow::Day => {
                let (start, end) = self.zone.day(now);
                (start, Some(end))
            }
            LimitWindow::Month => {
                let (start, end) = self.zone.month(now);
                (start, Some(end))
            }
            LimitWindow::Total => (0, None),
        }
    }

    /// The current window: its counter key and when it resets (`None` for `total`).
    pub fn window_at(&self, now: i64) -> (String, Option<i64>) {
        let (start, reset) = self.window_bounds(now);
        (
            format!("limit:{}:{}:{start}", self.id, self.cap_epoch()),
            reset,
        )
    }

    /// Changing what a limit counts starts a new counter; changing its cap does not.
    fn cap_epoch(&self) -> &'static str {
        self.metric.as_str()
    }

    /// The charge of `a` against this limit at `now`.
    pub fn charge(&self, a: &Amounts, now: i64) -> Charge {
        let (key, reset) = self.window_at(now);
        Charge {
            key,
            cap: self.cap,
            amount: self.amount(a),
            // Counters outlive their window by a day, so a late settlement still finds them.
            ttl_ms: reset.map_or(0, |r| (r - now).max(0) + 86_400_000),
        }
    }

    /// A value in words (`$12.50`, `$0.00378`, `1000 tokens`, `60 requests`).
    pub fn describe(&self, value: i64) -> String {
        match self.metric {
            // Exact: a cap of $0.004 is not "$0.00".
            LimitMetric::Cost => crate::money::amount_text("$", value),
            LimitMetric::Tokens if value == 1 => "1 token".to_owned(),
            LimitMetric::Tokens => format!("{value} tokens"),
            LimitMetric::Requests if value == 1 => "1 request".to_owned(),
            LimitMetric::Requests => format!("{value} requests"),
        }
    }

    fn scope_words(&self) -> &'static str {
        match self.scope {
            LimitScope::Key => "this key's",
            LimitScope::Member => "your",
            LimitScope::Group => "the group's",
            LimitScope::Account => "the account's",
        }
    }

    fn window_words(&self) -> &'static str {
        match self.window {
            LimitWindow::Minute => "per minute",
            LimitWindow::Day => "per day",
            LimitWindow::Month => "per month",
            LimitWindow::Total => "in total",
        }
    }

    /// The refusal when this limit would be passed. The limit's own zone bounds its window.
    pub fn refusal(&self, used: i64, wanted: i64, now: i64) -> GatewayError {
        let (_, reset) = self.window_at(now);
        let when = match reset {
            Some(at) => format!(
                "it resets at {} ({} calendar: {})",
                format_rfc3339(at),
                self.zone.name(),
                self.zone.format_local(at)
            ),
            None => "it does not reset".to_owned(),
        };
        let message = format!(
            "budget reached: {} {} limit {} is {}; used {} and this request may need up to {}; {when}; a group owner or admin can raise it on the group page",
            self.scope_words(),
            self.metric.as_str(),
            self.window_words(),
            self.describe(self.cap),
            self.describe(used),
            self.describe(wanted),
        );
        let mut error = GatewayError::new(ErrorKind::RateLimit, "budget_exceeded", message);
        let metric = self.metric.as_str();
        let remaining = (self.cap - used).max(0);
        let (limit, remaining) = match self.metric {
            LimitMetric::Cost => (
                format!("{:.6}", self.cap as f64 / 1e6),
                format!("{:.6}", remaining as f64 / 1e6),
            ),
            _ => (self.cap.to_string(), remaining.to_string()),
        };
        let mut header = |what: &str, value: String| {
            if let Ok(value) = HeaderValue::try_from(value) {
                error.headers.push((header_name(metric, what), value));
            }
        };
        header("limit", limit);
        header("remaining", remaining);
        let mut retry_after = None;
        if let Some(at) = reset {
            let secs = u64::try_from((at - now).max(0)).unwrap_or(0).div_ceil(1000);
            header("reset", format!("{secs}s"));
            retry_after = Some(secs.max(1));
        }
        error.retry_after_secs = retry_after;
        error
    }
}

fn header_name(metric: &str, what: &str) -> HeaderName {
    HeaderName::from_static(match (metric, what) {
        ("requests", "limit") => "x-ratelimit-limit-requests",
        ("requests", "remaining") => "x-ratelimit-remaining-requests",
        ("requests", _) => "x-ratelimit-reset-requests",
        ("tokens", "limit") => "x-ratelimit-limit-tokens",
        ("tokens", "remaining") => "x-ratelimit-remaining-tokens",
        ("tokens", _) => "x-ratelimit-reset-tokens",
        (_, "limit") => "x-ratelimit-limit-cost-usd",
        (_, "remaining") => "x-ratelimit-remaining-cost-usd",
        _ => "x-ratelimit-reset-cost-usd",
    })
}

/// Held amounts of one request, to settle when it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    /// (counter key, limit, held amount, ttl ms).
    pub held: Vec<(String, Limit, i64, i64)>,
}

impl Reservation {
    /// Builds the reservation of `estimate` against `limits`, each in its own zone's windows.
    pub fn new(limits: &[Limit], estimate: &Amounts, now: i64) -> (Reservation, Vec<Charge>) {
        let charges: Vec<Charge> = limits.iter().map(|l| l.charge(estimate, now)).collect();
        let held = limits
            .iter()
            .zip(&charges)
            .map(|(l, c)| (c.key.clone(), l.clone(), c.amount, c.ttl_ms))
            .collect();
        (Reservation { held }, charges)
    }

    /// The corrections that turn the held amounts into `actual`.
    pub fn deltas(&self, actual: &Amounts) -> Vec<(String, i64, i64)> {
        self.held
            .iter()
            .map(|(key, limit, held, ttl)| (key.clone(), limit.amount(actual) - held, *ttl))
            .collect()
    }
}

/// What [`count_chars`] finds in a string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counted {
    /// ASCII characters.
    ascii: usize,
    /// Other characters.
    other: usize,
    /// Spaces and line feeds: a floor of the words, each at least a token.
    breaks: usize,
}

/// The ASCII and the other characters of `s`, and its spaces and line feeds, counted eight
/// bytes at a time (a coding agent's request is 100 KB of text; `chars()` took a dozen
/// instructions a byte). A character is one byte below 0x80 (ASCII) or one lead byte of 0xC0
/// and above; continuation bytes (0x80..0xC0) are not characters.
fn count_chars(s: &str) -> Counted {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The bytes of `w` equal to `b`, as bit 7 of each (exact: no carry crosses a byte).
    let equal = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        !(((x & LOW) + LOW) | x) & HIGH
    };
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let mut c = Counted::default();
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        // Bit 7 clear: ASCII. Bits 7 and 6 set: a lead byte (bit 6 shifted into bit 7's place).
        c.ascii += (!w & HIGH).count_ones() as usize;
        c.other += (w & (w << 1) & HIGH).count_ones() as usize;
        c.breaks += (equal(w, b' ') | equal(w, b'\n')).count_ones() as usize;
    }
    for &b in words.remainder() {
        c.ascii += usize::from(b < 0x80);
        c.other += usize::from(b >= 0xC0);
        c.breaks += usize::from(b == b' ' || b == b'\n');
    }
    c
}

/// A conservative estimate of a request's input tokens: a token per four ASCII characters,
/// or per word where the words are shorter (`"a a a …"` is a token a word, not one per four
/// characters), a token per other character (CJK text runs about one a character), and a
/// fixed amount per image. Text unlike prose or code (random strings, long digit runs) can
/// take more tokens than this; the request's settlement then counts what it used.
pub fn estimate_input_tokens(body: &Value) -> i64 {
    fn walk(v: &Value, acc: &mut Counted, images: &mut i64) {
        match v {
            Value::String(s) => {
                let c = count_chars(s);
                acc.ascii = acc.ascii.saturating_add(c.ascii);
                acc.other = acc.other.saturating_add(c.other);
                acc.breaks = acc.breaks.saturating_add(c.breaks);
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, acc, images)),
            Value::Object(map) => {
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("image" | "image_url" | "input_image")
                ) {
                    *images += 1;
                    return;
                }
                map.values().for_each(|v| walk(v, acc, images));
            }
            _ => {}
        }
    }
    let mut acc = Counted::default();
    let mut images = 0i64;
    for field in ["system", "messages", "tools", "input", "instructions"] {
        if let Some(v) = body.get(field) {
            walk(v, &mut acc, &mut images);
        }
    }
    let ascii = acc.ascii.div_ceil(4).max(acc.breaks);
    let tokens = i64::try_from(ascii.saturating_add(acc.other)).unwrap_or(i64::MAX);
    tokens
        .saturating_add(images.saturating_mul(IMAGE_TOKENS))
        .saturating_add(8)
}

/// The output cap of a request: the largest of its caps (a provider may honour any of them),
/// else [`DEFAULT_OUTPUT_CAP`].
pub fn output_cap(body: &Value) -> i64 {
    client_cap(body).unwrap_or(DEFAULT_OUTPUT_CAP)
}

/// The largest output cap the client set, if it set one.
fn client_cap(body: &Value) -> Option<i64> {
    super::body::TOKEN_CAPS
        .iter()
        .filter_map(|f| body.get(*f).and_then(Value::as_i64))
        .filter(|n| *n > 0)
        .max()
}

/// Whether a request to `endpoint` goes to `candidate` translated into Anthropic's messages,
/// with the `max_tokens` the translation sets.
fn translated_to_messages(endpoint: Endpoint, candidate: &Candidate) -> bool {
    endpoint.wire() != Wire::Messages
        && endpoint.upstream_wire(candidate.account.provider) == Some(Wire::Messages)
}

/// A chat request for `n` choices is billed `n` answers.
fn choices(body: &Value, endpoint: Endpoint) -> i64 {
    match endpoint.wire() {
        Wire::Chat => body
            .get("n")
            .and_then(Value::as_i64)
            .filter(|n| *n > 1)
            .unwrap_or(1),
        _ => 1,
    }
}

/// The most output tokens an answer from `candidate` can have when the request bounds it: the
/// client's cap (times `n` choices), or for a request translated for an Anthropic account the
/// `max_tokens` the translation sets (a thinking budget included). `None` when nothing does.
/// An estimate of a cut stream's output is held to it: the provider stopped there.
pub fn answer_cap(body: &Value, endpoint: Endpoint, candidate: &Candidate) -> Option<u64> {
    let cap = if translated_to_messages(endpoint, candidate) {
        translate::translated_output_cap(body, DEFAULT_MAX_TOKENS)
    } else {
        u64::try_from(client_cap(body)?).ok()?
    };
    let choices = u64::try_from(choices(body, endpoint)).unwrap_or(1);
    Some(cap.saturating_mul(choices))
}

/// The worst case of a request to `endpoint` over its candidates, `n` answers for a chat
/// request asking for `n` choices. An Anthropic account
/// serving a chat or Responses request gets the `max_tokens` the translation sets, which may
/// include a thinking budget beyond the client's cap (its `reasoning_effort` becomes one), so
/// its output cap is that one.
pub fn estimate(
    body: &Value,
    endpoint: Endpoint,
    candidates: &[Candidate],
    catalog: &Catalog,
) -> Amounts {
    let input = estimate_input_tokens(body);
    let client_cap = output_cap(body);
    let translated = |c: &Candidate| translated_to_messages(endpoint, c);
    // Worked out only when some candidate translates (most requests go out as they came).
    let translated_cap = candidates.iter().any(translated).then(|| {
        i64::try_from(translate::translated_output_cap(body, DEFAULT_MAX_TOKENS))
            .unwrap_or(i64::MAX)
    });
    let output_of = |c: &Candidate| match translated_cap {
        Some(cap) if translated(c) => cap,
        _ => client_cap,
    };
    let choices = choices(body, endpoint);
    let output_of = |c: &Candidate| output_of(c).saturating_mul(choices);
    let output = candidates.iter().map(output_of).max().unwrap_or(client_cap);
    let cost = candidates
        .iter()
        .filter_map(|c| Some((catalog.price(&c.upstream_model)?, output_of(c))))
        .map(|(p, output)| {
            let mut worst = p;
            worst.input = p.input.max(p.cache_write);
            let usage = Usage {
                input_tokens: u64::try_from(input).unwrap_or(0),
                output_tokens: u64::try_from(output).unwrap_or(0),
                ..Usage::default()
            };
            i64::try_from(worst.cost_picos(&usage).div_ceil(1_000_000)).unwrap_or(i64::MAX)
        })
        .max()
        .unwrap_or(0);
    Amounts {
        requests: 1,
        // Output caps are the client's numbers: `max_output_tokens: 9223372036854775807` must
        // not wrap into a negative hold that no limit refuses.
        tokens: input.saturating_add(output),
        cost_micros: cost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limit(metric: LimitMetric, window: LimitWindow) -> Limit {
        Limit {
            id: 7,
            group_id: 1,
            scope: LimitScope::Group,
            target_id: None,
            metric,
            window,
            cap: 1_000_000,
            warn_at: vec![80, 100],
            zone: Zone::or_default("Asia/Shanghai"),
        }
    }

    #[test]
    fn one_request_or_token_is_singular() {
        let requests = limit(LimitMetric::Requests, LimitWindow::Day);
        assert_eq!(requests.describe(1), "1 request");
        assert_eq!(requests.describe(2), "2 requests");
        let tokens = limit(LimitMetric::Tokens, LimitWindow::Day);
        assert_eq!(tokens.describe(1), "1 token");
        assert_eq!(tokens.describe(0), "0 tokens");
    }

    #[test]
    fn refusals_explain_themselves_with_headers() {
        let l = limit(LimitMetric::Cost, LimitWindow::Month);
        let now = crate::timefmt::parse_rfc3339_ms("2026-11-26T07:00:00Z").unwrap();
        let e = l.refusal(990_000, 50_000, now);
        assert_eq!(e.status(), 429);
        assert!(
            e.message.contains("$1.00") && e.message.contains("$0.99"),
            "{}",
            e.message
        );
        assert!(e.message.contains("2026-11-30T16:00:00Z"), "{}", e.message);
        // Small amounts are exact, not rounded to cents.
        let small = Limit {
            cap: 4_000,
            ..l.clone()
        }
        .refusal(3_780, 220, now);
        assert!(
            small.message.contains("$0.004") && small.message.contains("$0.00378"),
            "{}",
            small.message
        );
        assert!(
            e.headers
                .iter()
                .any(|(n, v)| *n == "x-ratelimit-remaining-cost-usd" && v == "0.010000")
        );
        // Days away from its reset, or never reset, a retry cannot help; a minute window's
        // reset is at most a minute away.
        assert!(!e.retry_may_help());
        let total = limit(LimitMetric::Requests, LimitWindow::Total).refusal(5, 1, now);
        assert!(!total.retry_may_help());
        let minute = limit(LimitMetric::Requests, LimitWindow::Minute).refusal(5, 1, now);
        assert!(minute.retry_may_help());
        assert!(minute.retry_after_secs.is_some_and(|s| s <= 60));
    }

    #[test]
    fn estimates_are_conservative_for_cjk_text_and_images() {
        let ascii = json!({"messages": [{"role": "user", "content": "a".repeat(400)}]});
        let cjk = json!({"messages": [{"role": "user", "content": "你".repeat(100)}]});
        // 400 ASCII characters are about 100 tokens; 100 CJK characters are at least 100.
        assert!((100..=115).contains(&estimate_input_tokens(&ascii)));
        assert!(estimate_input_tokens(&cjk) >= 100);
        // Short words are a token each (a tokenizer gives " a" one), not one per four bytes.
        let words = json!({"messages": [{"role": "user", "content": "a ".repeat(4000)}]});
        assert!(estimate_input_tokens(&words) >= 4000);
        let image = json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:..."}}]}]});
        assert!(estimate_input_tokens(&image) >= 1600);
        assert_eq!(output_cap(&json!({"max_tokens": 50})), 50);
        assert_eq!(output_cap(&json!({})), DEFAULT_OUTPUT_CAP);
        // Two caps: the larger one, whichever a provider honours.
        let both = json!({"max_tokens": 10, "max_completion_tokens": 900});
        assert_eq!(output_cap(&both), 900);
        assert_eq!(
            output_cap(&json!({"max_completion_tokens": 10, "max_tokens": 900})),
            900
        );
    }

    /// Counting by byte gives what counting characters gives, for text of 1- to 4-byte
    /// characters.
    #[test]
    fn text_is_counted_by_character() {
        let text = "plain ascii, é ß ü, 你好世界, emoji 😀🚀, \"quoted\"\n".repeat(37);
        let by_char = |t: &str| {
            let ascii = t.chars().filter(char::is_ascii).count();
            let other = t.chars().count() - ascii;
            i64::try_from(ascii.div_ceil(4) + other).unwrap() + 8
        };
        // Every length, so every alignment and remainder of the eight-byte reading.
        for (end, _) in text.char_indices().take(200) {
            let part = &text[..end];
            let ascii = part.chars().filter(char::is_ascii).count();
            let breaks = part.chars().filter(|c| matches!(c, ' ' | '\n')).count();
            assert_eq!(
                count_chars(part),
                Counted {
                    ascii,
                    other: part.chars().count() - ascii,
                    breaks,
                },
                "{part}"
            );
        }
        let body = json!({"messages": [{"role": "user", "content": text}]});
        // The walk counts every string: the role's too.
        assert_eq!(
            estimate_input_tokens(&body),
            by_char(&format!("user{text}"))
        );
    }

    #[test]
    fn windows_roll_over_at_local_boundaries() {
        let l = limit(LimitMetric::Requests, LimitWindow::Day);
        let a = crate::timefmt::parse_rfc3339_ms("2026-11-26T15:59:59Z").unwrap();
        let b = crate::timefmt::parse_rfc3339_ms("2026-11-26T16:00:00Z").unwrap();
        assert_ne!(l.window_at(a).0, l.window_at(b).0);
        let utc = Limit {
            zone: Zone::or_default("UTC"),
            ..l.clone()
        };
        assert_eq!(utc.window_at(a).0, utc.window_at(b).0);
        let total = limit(LimitMetric::Tokens, LimitWindow::Total);
        assert_eq!(total.window_at(a).1, None);
        let r = Reservation::new(
            std::slice::from_ref(&l),
            &Amounts {
                requests: 1,
                tokens: 10,
                cost_micros: 5,
            },
            a,
        );
        assert_eq!(
            r.0.deltas(&Amounts {
                requests: 1,
                tokens: 3,
                cost_micros: 1
            })[0]
                .1,
            0
        );
    }
}
