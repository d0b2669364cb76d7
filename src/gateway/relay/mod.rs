//! Relaying a committed stream to the client, event by event as each arrives (never buffered
//! to the end), translated when the client speaks another wire format than the account, with
//! the usage counted on the way. If the upstream dies mid-stream the client gets a
//! protocol-correct error event and the usage record keeps what was delivered. When the
//! client goes away the stream is dropped, which drops the upstream connection too.

mod conversion;
pub(super) mod delivered;

pub use conversion::Conversion;

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

use super::client::CoalesceStream;
use super::engine::BodyStream;
use super::sse::{SseEvent, SseParser};
use super::upstream_event::BadEvent;
use super::usage::Usage;
use super::usage_guard::UsageGuard;
use delivered::{Delivered, delivered_text};

/// The code of the client's error event, and the record's class, when the upstream connection
/// fails mid-stream; a stream that just stops short is recorded as `upstream_stream_truncated`.
const STREAM_ERROR: &str = "upstream_stream_error";

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

/// Called once when a stream ends, with how it ended and the tokens it used.
pub type OnEnd = Box<dyn FnOnce(StreamEnd, Usage) + Send>;

/// Called with a native Responses stream's response id as soon as the upstream names it
/// (`response.created`), before the client sees it: what pins a stored response to its
/// account.
pub type OnResponseId = Box<dyn FnOnce(&str) + Send>;

/// A stream in flight.
pub struct Relay {
    on_end: Option<OnEnd>,
    on_response_id: Option<OnResponseId>,
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
            on_response_id: None,
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

    /// Hands the response id of a native Responses stream to `on_id` once it is known.
    pub fn on_response_id(mut self, on_id: Option<OnResponseId>) -> Relay {
        self.on_response_id = on_id;
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
                if self.on_response_id.is_some()
                    && let Some(id) = self.conversion.response_id.as_deref()
                    && let Some(on_id) = self.on_response_id.take()
                {
                    on_id(id);
                }
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
            on_end(end, usage);
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
