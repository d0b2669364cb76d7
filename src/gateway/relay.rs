//! Relaying a committed stream to the client, event by event as each arrives (never buffered
//! to the end), translated when the client speaks another wire format than the account, with
//! the usage counted on the way. If the upstream dies mid-stream the client gets a
//! protocol-correct error event and the usage record keeps what was delivered. When the
//! client goes away the stream is dropped, which drops the upstream connection too.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::{Value, json};

use super::client::CoalesceStream;
use super::engine::BodyStream;
use super::sse::{SseEvent, SseParser};
use super::translate::{
    AnswerShape, ChatToMessagesStream, ChatToResponsesStream, MessagesToChatStream,
};
use super::upstream::Wire;
use super::upstream_event::{self, BadEvent};
use super::usage::Usage;
use super::usage_guard::UsageGuard;

/// The code of the client's error event, and the record's class, when the upstream connection
/// fails mid-stream; a stream that just stops short is recorded as `upstream_stream_truncated`.
const STREAM_ERROR: &str = "upstream_stream_error";

/// One translation step of a stream.
enum Stage {
    MessagesToChat(Box<MessagesToChatStream>),
    ChatToMessages(Box<ChatToMessagesStream>),
    ChatToResponses(Box<ChatToResponsesStream>),
}

impl Stage {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.on_event(ev),
            Self::ChatToMessages(s) => s.on_event(ev),
            Self::ChatToResponses(s) => s.on_event(ev),
        }
    }

    /// An upstream event the relay has already parsed into `v`.
    fn on_parsed(&mut self, ev: &SseEvent, v: &Value) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.on_parsed(ev, v),
            Self::ChatToMessages(s) => s.on_parsed(v),
            Self::ChatToResponses(s) => s.on_parsed(v),
        }
    }

    fn finish(&mut self) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.finish(),
            Self::ChatToMessages(s) => s.finish(),
            Self::ChatToResponses(s) => s.finish(),
        }
    }

    /// The client's error event; `code` is shown where the dialect has a code (chat chunks;
    /// `response.failed` keeps the Responses API's own `server_error`).
    fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.fail(code, message),
            Self::ChatToMessages(s) => s.fail(message),
            Self::ChatToResponses(s) => s.fail(message),
        }
    }

    fn usage(&self) -> Usage {
        match self {
            Self::MessagesToChat(s) => s.usage(),
            Self::ChatToMessages(s) => s.usage(),
            Self::ChatToResponses(s) => s.usage(),
        }
    }
}

/// How upstream events become client events.
pub struct Conversion {
    upstream: Wire,
    client: Wire,
    /// Translation steps; empty when both sides speak the same format.
    stages: Vec<Stage>,
    /// Same-format chat stream whose usage chunk the client did not ask for.
    strip_usage_chunk: bool,
    usage: Usage,
    /// Whether the upstream's final count came: a stream cut before it is billed by what it
    /// delivered ([`Relay::billed_usage`]).
    final_usage_seen: bool,
    terminal_seen: bool,
    /// A native Responses stream's response id (what a later `previous_response_id` names).
    response_id: Option<String>,
}

impl Conversion {
    /// The conversion from `upstream` to `client` events.
    pub fn new(
        upstream: Wire,
        client: Wire,
        include_usage: bool,
        client_body: &Value,
        model: &str,
    ) -> Conversion {
        let shape = AnswerShape::of_client_body(client_body);
        let stages = match (upstream, client) {
            (Wire::Messages, Wire::Chat) => vec![Stage::MessagesToChat(Box::new(
                MessagesToChatStream::new(model, include_usage).shaped(shape),
            ))],
            (Wire::Chat, Wire::Messages) => vec![Stage::ChatToMessages(Box::new(
                ChatToMessagesStream::new(model),
            ))],
            (Wire::Chat, Wire::Responses) => vec![Stage::ChatToResponses(Box::new(
                ChatToResponsesStream::new(client_body),
            ))],
            (Wire::Messages, Wire::Responses) => vec![
                Stage::MessagesToChat(Box::new(
                    MessagesToChatStream::new(model, true).shaped(shape),
                )),
                Stage::ChatToResponses(Box::new(ChatToResponsesStream::new(client_body))),
            ],
            _ => Vec::new(),
        };
        Conversion {
            upstream,
            client,
            stages,
            strip_usage_chunk: upstream == Wire::Chat && client == Wire::Chat && !include_usage,
            usage: Usage::default(),
            final_usage_seen: false,
            terminal_seen: false,
            response_id: None,
        }
    }

    /// The client events for one upstream event, or why it cannot be relayed. The event is
    /// read once ([`upstream_event::read`]); a translated one is parsed once, for the check
    /// and the translator both.
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<SseEvent>, BadEvent> {
        let reading = upstream_event::read(self.upstream, &ev, !self.stages.is_empty())?;
        if reading.terminal {
            self.terminal_seen = true;
        }
        if self.response_id.is_none() && self.stages.is_empty() {
            self.response_id = reading.response_id;
        }
        if let Some(u) = reading.usage {
            // Anthropic's `message_start` counts the input and 1 output token, before any.
            self.final_usage_seen |= !(self.upstream == Wire::Messages && is_message_start(&ev));
            // Anthropic reports cumulative counts over several events; the others once.
            self.usage = match self.upstream {
                Wire::Messages | Wire::CountTokens => self.usage.merge(u),
                Wire::Chat | Wire::Responses => u,
            };
        }
        let Some((first, rest)) = self.stages.split_first_mut() else {
            if self.strip_usage_chunk && reading.usage_only {
                return Ok(Vec::new());
            }
            return Ok(vec![ev]);
        };
        let mut events = match &reading.value {
            Some(v) => first.on_parsed(&ev, v),
            None if ev.is_done() => first.on_event(&ev),
            None => Vec::new(),
        };
        for stage in rest {
            events = events.iter().flat_map(|e| stage.on_event(e)).collect();
        }
        Ok(events)
    }

    /// Upstream ended normally.
    fn finish(&mut self) -> Vec<SseEvent> {
        if self.stages.is_empty() {
            return if self.terminal_seen {
                Vec::new()
            } else {
                self.fail(
                    STREAM_ERROR,
                    "the upstream ended the stream before it was complete",
                )
            };
        }
        let mut out = Vec::new();
        let n = self.stages.len();
        for i in 0..n {
            let mut events = self.stages[i].finish();
            for stage in &mut self.stages[i + 1..] {
                events = events.iter().flat_map(|e| stage.on_event(e)).collect();
            }
            out.extend(events);
        }
        out
    }

    /// Upstream died or misbehaved: the client's protocol-correct error, with `code` where the
    /// dialect carries one.
    fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        if let Some(last) = self.stages.last_mut() {
            return last.fail(code, message);
        }
        match self.client {
            Wire::Messages | Wire::CountTokens => vec![SseEvent::named(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": message}}).to_string(),
            )],
            Wire::Chat => vec![SseEvent::data(
                json!({"error": {"message": message, "type": "server_error", "param": null, "code": code}}).to_string(),
            )],
            Wire::Responses => vec![SseEvent::named(
                "error",
                json!({"type": "error", "code": code, "message": message, "param": null}).to_string(),
            )],
        }
    }

    /// The usage seen so far: the first stage's view when translating (it reads the upstream).
    fn usage(&self) -> Usage {
        match self.stages.first() {
            Some(stage) => stage.usage().merge(self.usage),
            None => self.usage,
        }
    }

    fn complete(&self) -> bool {
        self.terminal_seen
    }
}

/// Whether `ev` is an Anthropic stream's `message_start` (named so, or with that type where a
/// compatible provider leaves the name out).
fn is_message_start(ev: &SseEvent) -> bool {
    match ev.event.as_deref() {
        Some(name) => name == "message_start",
        None => ev
            .data
            .trim_start()
            .starts_with(r#"{"type":"message_start""#),
    }
}

/// The characters of text an event delivers, for billing a cut stream: the chat delta's
/// content, an Anthropic text or tool-input delta, a Responses delta. Read straight from the
/// JSON text (the first string value of the field, escapes decoded), so a relayed event is not
/// parsed a second time.
fn delivered_text(client: Wire, ev: &SseEvent) -> Delivered {
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
struct Delivered {
    ascii: usize,
    /// Characters outside ASCII: CJK text runs about a token a character.
    other: usize,
}

impl Delivered {
    fn add(&mut self, d: Delivered) {
        self.ascii += d.ascii;
        self.other += d.other;
    }

    /// About four ASCII characters a token, one other character a token (the input
    /// estimate's rule, [`super::budget::estimate_input_tokens`]).
    fn tokens(self) -> u64 {
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

/// How a relayed stream ended, for the account's health and caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The upstream finished the stream.
    Complete,
    /// The upstream died or stopped early.
    UpstreamFailed,
    /// The client went away first.
    ClientGone,
}

/// Called once when a stream ends, with how it ended, the tokens it used and, for a native
/// Responses stream, the response's id.
pub type OnEnd = Box<dyn FnOnce(StreamEnd, Usage, Option<String>) + Send>;

/// A stream in flight.
pub struct Relay {
    on_end: Option<OnEnd>,
    conversion: Conversion,
    parser: SseParser,
    first: Option<Bytes>,
    upstream: BoxStream<'static, Result<Bytes, super::client::Error>>,
    pending: VecDeque<Bytes>,
    guard: UsageGuard,
    delivered: Delivered,
    done: bool,
    /// The client's request, to estimate the input of a stream the provider never reported
    /// it for (OpenAI-style streams report usage only in their last chunk).
    request: Option<Bytes>,
    /// The most output the answer can have (the request's cap), when it has one.
    output_cap: Option<u64>,
}

impl Relay {
    /// A relay that starts with the already-received `first` chunk.
    pub fn new(
        conversion: Conversion,
        first: Bytes,
        upstream: BoxStream<'static, Result<Bytes, super::client::Error>>,
        guard: UsageGuard,
        on_end: Option<OnEnd>,
    ) -> Relay {
        Relay {
            on_end,
            conversion,
            parser: SseParser::new(),
            first: Some(first),
            upstream,
            pending: VecDeque::new(),
            guard,
            delivered: Delivered::default(),
            done: false,
            request: None,
            output_cap: None,
        }
    }

    /// Bills the input of a stream that ends without the provider's usage (cut by the
    /// upstream, the deadline or the client before the usage chunk) by an estimate of
    /// `request`, instead of none: a client leaving right after the last token must not get
    /// its prompt for free.
    pub fn estimating_input_of(mut self, request: Bytes) -> Relay {
        self.request = Some(request);
        self
    }

    /// Holds the estimate of the output delivered to `cap` (the request's output cap, see
    /// [`super::budget::answer_cap`]): the provider stops there, so text counted beyond it is
    /// the estimate's error (long words, code), and billing it would overspend the budget
    /// that reserved the cap.
    pub fn capping_output_at(mut self, cap: Option<u64>) -> Relay {
        self.output_cap = cap;
        self
    }

    fn emit(&mut self, events: Vec<SseEvent>) {
        for ev in events {
            self.delivered
                .add(delivered_text(self.conversion.client, &ev));
            self.pending.push_back(Bytes::from(ev.to_bytes()));
        }
    }

    fn on_chunk(&mut self, chunk: &[u8]) {
        let (events, oversized) = self.parser.push_until_oversized(chunk);
        for ev in events {
            if !self.relay_event(ev) {
                return;
            }
        }
        if oversized {
            let bad = BadEvent::TooLarge;
            self.on_fail(BadEvent::CODE, bad.message(), BadEvent::CODE);
        }
    }

    /// Relays one upstream event; false when it could not be relayed, which ends the stream
    /// with the client's error event: what follows it would be an answer with a hole.
    fn relay_event(&mut self, ev: SseEvent) -> bool {
        match self.conversion.on_event(ev) {
            Ok(out) => {
                self.emit(out);
                true
            }
            Err(bad) => {
                // The provider's own error event is a failed stream; anything else a bad one.
                let code = if bad == BadEvent::ErrorEvent {
                    STREAM_ERROR
                } else {
                    BadEvent::CODE
                };
                self.on_fail(code, bad.message(), code);
                false
            }
        }
    }

    fn on_end(&mut self) {
        if let Some(ev) = self.parser.finish()
            && !self.relay_event(ev)
        {
            return;
        }
        self.done = true;
        if self.conversion.complete() {
            let out = self.conversion.finish();
            self.emit(out);
            let usage = self.billed_usage();
            self.guard.finish_ok(200, usage, None);
            self.ended(StreamEnd::Complete, usage);
        } else {
            let out = self.conversion.fail(
                STREAM_ERROR,
                "the upstream ended the stream before it was complete",
            );
            self.emit(out);
            let usage = self.billed_usage();
            self.guard
                .finish_ok(200, usage, Some("upstream_stream_truncated"));
            self.ended(StreamEnd::UpstreamFailed, usage);
        }
    }

    /// Ends the stream with the client's error event (`code` where the dialect has one) and
    /// records it as `class`.
    fn on_fail(&mut self, code: &str, message: &str, class: &str) {
        let out = self.conversion.fail(code, message);
        self.emit(out);
        self.done = true;
        let usage = self.billed_usage();
        self.guard.finish_ok(200, usage, Some(class));
        self.ended(StreamEnd::UpstreamFailed, usage);
    }

    fn ended(&mut self, end: StreamEnd, usage: Usage) {
        if let Some(on_end) = self.on_end.take() {
            on_end(end, usage, self.conversion.response_id.take());
        }
    }

    /// What the provider reported; until its final count came, at least an estimate of the
    /// text delivered (about four ASCII characters or one other a token, at most the
    /// request's output cap): what came before
    /// that count is no
    /// count of the answer (Anthropic's `message_start` says 1 output token before the first
    /// word). Its input likewise from the request when none was reported (see
    /// [`Relay::estimating_input_of`]).
    fn billed_usage(&self) -> Usage {
        let mut usage = self.conversion.usage();
        if !self.conversion.final_usage_seen {
            let delivered = self.delivered.tokens();
            let delivered = self.output_cap.map_or(delivered, |cap| delivered.min(cap));
            usage.output_tokens = usage.output_tokens.max(delivered);
        }
        if usage.total_input() == 0
            && let Some(request) = &self.request
            && let Ok(body) = serde_json::from_slice::<Value>(request)
        {
            let estimate = super::budget::estimate_input_tokens(&body);
            usage.input_tokens = u64::try_from(estimate).unwrap_or(0);
        }
        usage
    }

    /// The client's body stream. It reads the upstream connection from the task that polls
    /// it, so the wake-ups between the two are absorbed ([`CoalesceStream`]).
    pub fn into_stream(self) -> BodyStream {
        let stream = futures_util::stream::unfold(self, |mut relay| async move {
            loop {
                if let Some(bytes) = relay.pending.pop_front() {
                    relay.guard.first_byte();
                    return Some((Ok(bytes), relay));
                }
                if relay.done {
                    return None;
                }
                let next = match relay.first.take() {
                    Some(first) => Some(Ok(first)),
                    None => relay.upstream.next().await,
                };
                match next {
                    Some(Ok(chunk)) => relay.on_chunk(&chunk),
                    Some(Err(e)) if e.is_timeout() => relay.on_fail(
                        STREAM_ERROR,
                        "the upstream did not finish before the request deadline",
                        STREAM_ERROR,
                    ),
                    Some(Err(_)) => relay.on_fail(
                        STREAM_ERROR,
                        "the connection to the upstream was lost mid-stream",
                        STREAM_ERROR,
                    ),
                    None => relay.on_end(),
                }
            }
        });
        Box::pin(CoalesceStream::new(stream))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            let usage = self.billed_usage();
            self.guard.finish_gone(usage);
            self.ended(StreamEnd::ClientGone, usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion(upstream: Wire, client: Wire) -> Conversion {
        Conversion::new(upstream, client, false, &json!({"model": "m"}), "m")
    }

    fn json_of(ev: &SseEvent) -> Value {
        serde_json::from_str(&ev.data).unwrap()
    }

    #[test]
    fn passthrough_relays_unknown_but_valid_events_untouched_and_refuses_garbage() {
        let mut chat = conversion(Wire::Chat, Wire::Chat);
        let novel = SseEvent::data(r#"{"id":"c","choices":[],"obfuscation":"xyz","usage":null}"#);
        assert_eq!(chat.on_event(novel.clone()), Ok(vec![novel]));
        assert_eq!(
            chat.on_event(SseEvent::data(r#"{"choices":"nope"}"#)),
            Err(BadEvent::Shape(Wire::Chat))
        );
        assert_eq!(
            chat.on_event(SseEvent::data("{not json")),
            Err(BadEvent::NotJson)
        );
        let err = json_of(&chat.fail(BadEvent::CODE, BadEvent::NotJson.message())[0]);
        assert_eq!(err["error"]["code"], "upstream_bad_event");
        assert_eq!(err["error"]["type"], "server_error");

        let mut messages = conversion(Wire::Messages, Wire::Messages);
        for ev in [
            SseEvent::named("ping", r#"{"type": "ping"}"#),
            SseEvent::named("new_thing", r#"{"type":"new_thing","extra":[1,2]}"#),
        ] {
            assert_eq!(messages.on_event(ev.clone()), Ok(vec![ev]));
        }
        assert_eq!(
            messages.on_event(SseEvent::named("message_start", "{not json")),
            Err(BadEvent::NotJson)
        );
        let err = &messages.fail(BadEvent::CODE, "m")[0];
        assert_eq!(err.event.as_deref(), Some("error"));
        assert_eq!(json_of(err)["error"]["type"], "api_error");

        let mut responses = conversion(Wire::Responses, Wire::Responses);
        assert_eq!(
            responses.on_event(SseEvent::named("response.created", r#"{"response":{}}"#)),
            Err(BadEvent::Shape(Wire::Responses))
        );
        assert_eq!(
            json_of(&responses.fail(BadEvent::CODE, "m")[0])["code"],
            "upstream_bad_event"
        );
    }

    #[test]
    fn translated_streams_refuse_garbage_and_end_in_the_clients_error() {
        // Anthropic -> chat: the error chunk carries the code, a cut the same as a bad event.
        let mut to_chat = conversion(Wire::Messages, Wire::Chat);
        let start = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;
        let out = to_chat
            .on_event(SseEvent::named("message_start", start))
            .unwrap();
        assert_eq!(json_of(&out[0])["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(to_chat.usage().input_tokens, 3);
        assert_eq!(
            to_chat.on_event(SseEvent::named("content_block_delta", "{not json")),
            Err(BadEvent::NotJson)
        );
        let err = json_of(&to_chat.fail(STREAM_ERROR, "cut")[0]);
        assert_eq!(err["error"]["code"], "upstream_stream_error");
        assert!(!to_chat.complete());

        // Chat -> Anthropic.
        let mut to_messages = conversion(Wire::Chat, Wire::Messages);
        assert_eq!(
            to_messages.on_event(SseEvent::data(r#"{"choices":"nope"}"#)),
            Err(BadEvent::Shape(Wire::Chat))
        );
        let err = &to_messages.fail(BadEvent::CODE, "bad")[0];
        assert_eq!(err.event.as_deref(), Some("error"));

        // Anthropic -> Responses: both stages, and `response.failed` at the end.
        let mut to_responses = conversion(Wire::Messages, Wire::Responses);
        assert!(
            !to_responses
                .on_event(SseEvent::named("message_start", start))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            to_responses.on_event(SseEvent::named("message_delta", "null")),
            Err(BadEvent::NotObject)
        );
        let failed = json_of(&to_responses.fail(BadEvent::CODE, "bad")[0]);
        assert_eq!(failed["type"], "response.failed");
        assert_eq!(failed["response"]["error"]["message"], "bad");

        // A chat upstream's `[DONE]` still ends a translated stream.
        let mut done = conversion(Wire::Chat, Wire::Messages);
        let out = done.on_event(SseEvent::done()).unwrap();
        assert!(done.complete());
        assert_eq!(out.last().unwrap().event.as_deref(), Some("message_stop"));
    }

    #[test]
    fn only_the_final_count_of_a_stream_is_taken_for_its_output() {
        let start = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#;
        for client in [Wire::Messages, Wire::Chat] {
            let mut c = conversion(Wire::Messages, client);
            c.on_event(SseEvent::named("message_start", start)).unwrap();
            assert!(!c.final_usage_seen, "message_start's 1 is a placeholder");
            c.on_event(SseEvent::named("message_delta", delta)).unwrap();
            assert!(c.final_usage_seen);
            assert_eq!(c.usage().output_tokens, 42);
        }
        // Unnamed, as some compatible providers send it.
        let mut c = conversion(Wire::Messages, Wire::Messages);
        c.on_event(SseEvent::data(start)).unwrap();
        assert!(!c.final_usage_seen);

        let mut chat = conversion(Wire::Chat, Wire::Chat);
        chat.on_event(SseEvent::data(
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
        ))
        .unwrap();
        assert!(!chat.final_usage_seen);
        chat.on_event(SseEvent::data(
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":7}}"#,
        ))
        .unwrap();
        assert!(chat.final_usage_seen);
    }

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
}
