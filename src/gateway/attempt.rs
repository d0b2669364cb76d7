//! One attempt at one account: translate the body to the account's wire format, send it
//! through the account's client, and either return the answer (a whole JSON body, or a
//! stream whose first chunk has arrived: the commit point) or classify the failure.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

use super::body::{missing_for_translation, passes_through, translate_request, translate_response};
use super::budget;
use super::catalog::Candidate;
use super::client;
use super::engine::{Gateway, ProxyRequest};
use super::error::{ErrorKind, GatewayError};
use super::health::HealthEvent;
use super::relay::delivered::answer_text;
use super::sse::{SseEvent, SseParser};
use super::upstream::{self, AttemptFailure, Wire};
use super::upstream_event::{self, BadEvent};
use super::usage::Usage;

/// Upstream error bodies are read up to this size.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// What a successful attempt produced.
pub enum Answer {
    /// A whole answer, already in the client's format.
    Json {
        /// The body.
        body: Bytes,
        /// Usage the provider reported.
        usage: Usage,
        /// A native Responses answer's id (what a later `previous_response_id` names).
        response_id: Option<String>,
    },
    /// A stream whose first chunk arrived.
    Stream {
        /// The first chunk.
        first: Bytes,
        /// The rest.
        rest: BoxStream<'static, Result<Bytes, client::Error>>,
    },
}

/// A successful attempt.
pub struct Attempted {
    /// The answer.
    pub answer: Answer,
    /// The wire format the account spoke.
    pub wire: Wire,
    /// From sending to the first byte (headers for a whole answer, first chunk for a stream).
    pub ttfb: Duration,
}

fn failure(
    kind: ErrorKind,
    class: &'static str,
    message: &str,
    status: Option<u16>,
) -> AttemptFailure {
    AttemptFailure {
        retryable: true,
        error: GatewayError::new(kind, class, message),
        status,
        account_fault: false,
        event: Some(HealthEvent::Failure),
    }
}

impl Gateway {
    /// Tries `candidate` once.
    pub(super) async fn attempt(
        &self,
        req: &ProxyRequest,
        client_body: &Value,
        candidate: &Candidate,
        stream: bool,
    ) -> Result<Attempted, AttemptFailure> {
        let account = &candidate.account;
        let client_wire = req.endpoint.wire();
        let Some(wire) = req.endpoint.upstream_wire(account.provider) else {
            let mut f = failure(
                ErrorKind::Unavailable,
                "no_account",
                "no account can serve this endpoint",
                None,
            );
            f.event = None;
            return Err(f);
        };
        let bytes = if passes_through(
            &req.body,
            client_body,
            client_wire,
            wire,
            &candidate.upstream_model,
            stream,
        ) {
            req.body.clone()
        } else {
            let upstream_body = translate_request(
                client_body,
                client_wire,
                wire,
                &candidate.upstream_model,
                stream,
            )
            .map_err(|e| AttemptFailure {
                retryable: false,
                error: GatewayError::invalid(e.param.clone(), e.message.clone()),
                status: None,
                account_fault: false,
                event: None,
            })?;
            Bytes::from(serde_json::to_vec(&upstream_body).unwrap_or_default())
        };
        let config = self.config();
        let request = upstream::request(account, wire, &req.headers, req.query.as_deref(), bytes)
            .map_err(|e| upstream::transport_failure(&e))?;
        let started = Instant::now();
        let send = account.client.send(request, config.total_timeout);
        let response = if stream {
            match tokio::time::timeout(config.first_byte_timeout, send).await {
                Ok(r) => r,
                Err(_) => return Err(first_byte_timeout()),
            }
        } else {
            send.await
        };
        let response = response.map_err(|e| upstream::transport_failure(&e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = response.headers().clone();
            let body = response.bytes_capped(ERROR_BODY_CAP).await;
            return Err(upstream::status_failure(account, status, &headers, &body));
        }
        if stream {
            let mut rest = response.into_body().boxed();
            let remaining = config.first_byte_timeout.saturating_sub(started.elapsed());
            let first = match tokio::time::timeout(remaining, rest.next()).await {
                Err(_) => return Err(first_byte_timeout()),
                Ok(None) => {
                    return Err(failure(
                        ErrorKind::BadGateway,
                        "upstream_empty",
                        "the upstream closed the stream without sending anything",
                        Some(status),
                    ));
                }
                Ok(Some(Err(e))) => return Err(upstream::transport_failure(&e)),
                Ok(Some(Ok(first))) => first,
            };
            let deadline = tokio::time::Instant::now() + remaining;
            let first = first_event_checked(wire, first, &mut rest, deadline, status).await?;
            return Ok(Attempted {
                answer: Answer::Stream { first, rest },
                wire,
                ttfb: started.elapsed(),
            });
        }
        let ttfb = started.elapsed();
        let raw = match response.bytes(MAX_ANSWER_BYTES).await {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                return Err(failure(
                    ErrorKind::BadGateway,
                    "upstream_too_large",
                    &format!(
                        "the upstream's answer is larger than {} MiB, which the gateway does not take; ask for less (max_tokens) or stream it",
                        MAX_ANSWER_BYTES >> 20
                    ),
                    Some(status),
                ));
            }
            Err(e) => return Err(upstream::transport_failure(&e)),
        };
        let not_json = || {
            failure(
                ErrorKind::BadGateway,
                "upstream_bad_json",
                "the upstream answered with something that is not JSON",
                Some(status),
            )
        };
        let unusable = |missing: &str| {
            failure(
                ErrorKind::BadGateway,
                "upstream_bad_body",
                &format!("the upstream answered {status} with an unexpected body ({missing})"),
                Some(status),
            )
        };
        // Same format: an answer of the wire passes untouched (providers add fields), its usage
        // read from the text; an object without the answer (`{"error": …}` with a 200) or
        // something else is no answer in any dialect.
        if wire == client_wire {
            let whole = upstream_event::whole_usage(wire, &raw).map_err(|bad| match bad {
                BadEvent::NotObject => unusable("not a JSON object"),
                _ => not_json(),
            })?;
            if let Some(missing) = whole.missing {
                return Err(unusable(missing));
            }
            let usage = if reported(whole.usage) {
                whole.usage
            } else {
                let answer = serde_json::from_slice(&raw).unwrap_or_default();
                estimated(req, client_body, candidate, wire, &answer)
            };
            return Ok(Attempted {
                answer: Answer::Json {
                    body: raw,
                    usage,
                    response_id: whole.id.filter(|_| wire == Wire::Responses),
                },
                wire,
                ttfb,
            });
        }
        // Translated: parsed once, and only what the translator can read passes.
        let value: Value = serde_json::from_slice(&raw).map_err(|_| not_json())?;
        if let Some(missing) = missing_for_translation(&value, wire) {
            return Err(unusable(missing));
        }
        let usage = Usage::from_wire(wire, &value)
            .filter(|u| reported(*u))
            .unwrap_or_else(|| estimated(req, client_body, candidate, wire, &value));
        let body = Bytes::from(
            translate_response(
                &value,
                wire,
                client_wire,
                client_body,
                &candidate.upstream_model,
            )
            .to_string(),
        );
        Ok(Attempted {
            answer: Answer::Json {
                body,
                usage,
                response_id: None,
            },
            wire,
            ttfb,
        })
    }
}

/// Whether a provider reported usage: an answer without any count (no `usage`, or counts
/// that are not non-negative integers) reported none.
fn reported(usage: Usage) -> bool {
    usage.total_input() > 0 || usage.output_tokens > 0
}

/// The usage of a whole answer whose provider reported none, as a cut stream's is billed: the
/// input by the gateway's estimate of the request, the output by the answer's text (a token
/// per four ASCII characters, one per other character, at most the request's output cap). A
/// provider leaving usage out must not make requests free of their budgets.
fn estimated(
    req: &ProxyRequest,
    client_body: &Value,
    candidate: &Candidate,
    wire: Wire,
    answer: &Value,
) -> Usage {
    // Counting tokens uses none.
    if wire == Wire::CountTokens {
        return Usage::default();
    }
    let output = answer_text(wire, answer).tokens();
    let cap = budget::answer_cap(client_body, req.endpoint, candidate);
    tracing::warn!(
        account = candidate.account.id,
        "the upstream's answer reported no usage; billing the gateway's estimate"
    );
    Usage {
        input_tokens: u64::try_from(budget::estimate_input_tokens(client_body)).unwrap_or(0),
        output_tokens: cap.map_or(output, |cap| output.min(cap)),
        ..Usage::default()
    }
}

/// The largest whole (non-streamed) answer taken from a provider. Real ones are far smaller
/// (an answer with generated images is a few MiB); past this a broken or hostile upstream
/// would only cost memory, most of all when the answer is translated (parsed into a tree).
/// Streams are relayed event by event and have their own bound per event.
pub(super) const MAX_ANSWER_BYTES: usize = 32 << 20;

/// Reading on past the first chunk for the first whole event stops after this much.
const FIRST_EVENT_PROBE_BYTES: usize = 1024 * 1024;

/// Reads on from `first` to the stream's first whole event and checks it; returns every byte
/// read, for the relay. Nothing has reached the client yet, so garbage there fails this
/// attempt and the next account is tried, and so does a stream that ends before any event
/// that says something (not a ping, not without data), or whose first is chat's `[DONE]` (an
/// empty answer is no answer); later garbage can only end the stream. Comments, keep-alives,
/// pings or events without data alone until the first-byte deadline, or a first event over
/// 1 MiB, commit unchecked (the relay checks every event anyway).
async fn first_event_checked(
    wire: Wire,
    first: Bytes,
    rest: &mut BoxStream<'static, Result<Bytes, client::Error>>,
    deadline: tokio::time::Instant,
    status: u16,
) -> Result<Bytes, AttemptFailure> {
    let first_said = |events: &[SseEvent]| events.iter().position(says_something);
    let mut parser = SseParser::new();
    let mut events = parser.push(&first);
    // Only a first chunk without an event with data is copied (the usual stream never is).
    let mut more_read: Option<BytesMut> = None;
    let mut ended = false;
    while first_said(&events).is_none()
        && more_read.as_ref().map_or(first.len(), BytesMut::len) < FIRST_EVENT_PROBE_BYTES
    {
        match tokio::time::timeout_at(deadline, rest.next()).await {
            Ok(Some(Ok(more))) => {
                events.extend(parser.push(&more));
                more_read
                    .get_or_insert_with(|| BytesMut::from(&first[..]))
                    .extend_from_slice(&more);
            }
            Ok(Some(Err(e))) => return Err(upstream::transport_failure(&e)),
            Ok(None) => {
                events.extend(parser.finish());
                ended = true;
                break;
            }
            Err(_) => break,
        }
    }
    let bad_start = |what: &str| {
        failure(
            ErrorKind::BadGateway,
            BadEvent::CODE,
            &format!("the upstream {what}; nothing was sent on"),
            Some(status),
        )
    };
    match first_said(&events).map(|i| &events[i]) {
        Some(ev) if wire == Wire::Chat && ev.is_done() => {
            Err(bad_start("ended its stream ([DONE]) before any answer"))
        }
        Some(ev) => match upstream_event::read(wire, ev, false) {
            Err(bad) => Err(bad_start(&format!(
                "began its stream with {}",
                bad.reason()
            ))),
            Ok(_) => Ok(more_read.map_or(first, BytesMut::freeze)),
        },
        None if ended => Err(bad_start("ended its stream before its first event")),
        None => Ok(more_read.map_or(first, BytesMut::freeze)),
    }
}

/// Whether a stream event says anything: one without data (the SSE standard does not even
/// dispatch it) or Anthropic's keep-alive `ping` does not.
fn says_something(ev: &SseEvent) -> bool {
    let data = ev.data.trim();
    !data.is_empty()
        && ev.event.as_deref() != Some("ping")
        && !data.starts_with(r#"{"type":"ping""#)
        && !data.starts_with(r#"{"type": "ping""#)
}

fn first_byte_timeout() -> AttemptFailure {
    failure(
        ErrorKind::Timeout,
        "upstream_first_byte_timeout",
        "the upstream sent nothing before the first-byte deadline",
        None,
    )
}
