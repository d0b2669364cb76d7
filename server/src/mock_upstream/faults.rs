//! Fault injection: what can go wrong ([`Fault`]), on which route ([`MockRoute`]), for how many
//! requests, and how the faults matching one request combine ([`Effects`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The API routes the mock serves (the `/_mock/` control routes are not among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MockRoute {
    /// `POST /v1/chat/completions`.
    #[serde(alias = "/v1/chat/completions")]
    ChatCompletions,
    /// `POST /v1/responses`.
    #[serde(alias = "/v1/responses")]
    Responses,
    /// `POST /v1/messages`.
    #[serde(alias = "/v1/messages")]
    Messages,
    /// `POST /v1/messages/count_tokens`.
    #[serde(alias = "/v1/messages/count_tokens")]
    CountTokens,
    /// `GET /v1/models`.
    #[serde(alias = "/v1/models")]
    Models,
    /// A stored response: `GET` / `DELETE /v1/responses/{id}`,
    /// `GET /v1/responses/{id}/input_items`, `POST /v1/responses/{id}/cancel`.
    StoredResponses,
}

impl MockRoute {
    /// The route a method and path go to, if any.
    pub fn from_request(method: &http::Method, path: &str) -> Option<MockRoute> {
        let path = path.strip_suffix('/').unwrap_or(path);
        match (method.as_str(), path) {
            ("POST", "/v1/chat/completions") => Some(MockRoute::ChatCompletions),
            ("POST", "/v1/responses") => Some(MockRoute::Responses),
            ("POST", "/v1/messages") => Some(MockRoute::Messages),
            ("POST", "/v1/messages/count_tokens") => Some(MockRoute::CountTokens),
            ("GET", "/v1/models") => Some(MockRoute::Models),
            ("GET" | "DELETE", p) if stored_response_id(p).is_some_and(|(_, a)| a.is_empty()) => {
                Some(MockRoute::StoredResponses)
            }
            ("GET", p) if stored_response_id(p).is_some_and(|(_, a)| a == "input_items") => {
                Some(MockRoute::StoredResponses)
            }
            ("POST", p) if stored_response_id(p).is_some_and(|(_, a)| a == "cancel") => {
                Some(MockRoute::StoredResponses)
            }
            _ => None,
        }
    }

    /// The snake_case name used in JSON and in [`MockStats::by_route`](super::MockStats).
    pub fn name(self) -> &'static str {
        match self {
            MockRoute::ChatCompletions => "chat_completions",
            MockRoute::Responses => "responses",
            MockRoute::Messages => "messages",
            MockRoute::CountTokens => "count_tokens",
            MockRoute::Models => "models",
            MockRoute::StoredResponses => "stored_responses",
        }
    }
}

/// The id and what follows it (`""`, `input_items`, `cancel`) of a path under
/// `/v1/responses/`.
fn stored_response_id(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v1/responses/")?;
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    (!id.is_empty() && !action.contains('/')).then_some((id, action))
}

/// Something that goes wrong on the next `times` requests (every request when `None`) to
/// `route` (every API route when `None`). Several effects may be combined in one fault.
///
/// Over HTTP (`POST /_mock/faults`) it is the same object in JSON, e.g.
/// `{"status": 429, "retry_after_secs": 2, "times": 1, "route": "messages"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// Answer with this HTTP status and the dialect's error body instead of a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error message of a `status` fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `retry-after` of a `status` fault (429 and 503 send it; 1 when not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Wait this long before sending anything (headers included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_first_byte_ms: Option<u64>,
    /// Close the connection after reading the request, without any response.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// Send this many stream deltas, then cut the connection before the closing events.
    /// A non-streamed reply is cut halfway through its body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_mid_stream_after: Option<u32>,
    /// Wait this long before each stream event after the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_delay_ms: Option<u64>,
    /// Send the first stream event (for a non-streamed reply, the first half of the body),
    /// then wait for a release (`POST /_mock/release`, [`MockUpstream::release`]).
    ///
    /// [`MockUpstream::release`]: super::MockUpstream::release
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hold_after_first_chunk: bool,
    /// Answer 200 with exactly this body instead of the reply: for a streamed request as
    /// `text/event-stream`, one frame per event (split after each blank line), for a whole one
    /// as `application/json`. For upstreams that misbehave: garbage events, odd bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
    /// Only requests to this route; every API route when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<MockRoute>,
    /// For this many requests; for every request when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Fault {
    /// Answer with `status` and the dialect's error body.
    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Wait `delay` before the first byte of the response.
    pub fn delay_first_byte(delay: Duration) -> Fault {
        Fault {
            delay_first_byte_ms: Some(millis(delay)),
            ..Fault::default()
        }
    }

    /// Close the connection without a response.
    pub fn reset() -> Fault {
        Fault {
            reset: true,
            ..Fault::default()
        }
    }

    /// Cut the connection after `deltas` stream deltas.
    pub fn drop_mid_stream_after(deltas: u32) -> Fault {
        Fault {
            drop_mid_stream_after: Some(deltas),
            ..Fault::default()
        }
    }

    /// Wait `delay` between stream events.
    pub fn chunk_delay(delay: Duration) -> Fault {
        Fault {
            chunk_delay_ms: Some(millis(delay)),
            ..Fault::default()
        }
    }

    /// Send the first chunk, then wait for a release.
    pub fn hold_after_first_chunk() -> Fault {
        Fault {
            hold_after_first_chunk: true,
            ..Fault::default()
        }
    }

    /// Answer 200 with `body` as it is.
    pub fn raw_body(body: impl Into<String>) -> Fault {
        Fault {
            raw_body: Some(body.into()),
            ..Fault::default()
        }
    }

    /// Only for the next `n` requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Only on `route`.
    #[must_use]
    pub fn on(mut self, route: MockRoute) -> Fault {
        self.route = Some(route);
        self
    }

    /// `retry-after` seconds of a status fault.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Why this fault cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.status.is_some_and(|s| !(100..=999).contains(&s)) {
            return Some("status must be between 100 and 999");
        }
        if self.times == Some(0) {
            return Some("times must be at least 1 (leave it out for always)");
        }
        let effective = self.status.is_some()
            || self.delay_first_byte_ms.is_some()
            || self.reset
            || self.drop_mid_stream_after.is_some()
            || self.chunk_delay_ms.is_some()
            || self.hold_after_first_chunk
            || self.raw_body.is_some();
        (!effective).then_some(
            "a fault needs one of status, delay_first_byte_ms, reset, drop_mid_stream_after, \
             chunk_delay_ms, hold_after_first_chunk, raw_body",
        )
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the faults matching one request do to it, combined: the first status and raw body
/// win, the longest delays, the earliest cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    pub status: Option<(u16, Option<String>, Option<u64>)>,
    pub delay_first_byte: Option<Duration>,
    pub reset: bool,
    pub drop_after: Option<u32>,
    pub chunk_delay: Option<Duration>,
    pub hold: bool,
    pub raw_body: Option<String>,
}

impl Effects {
    /// Takes the faults that apply to a request to `route` out of `faults`, spending one of
    /// each one's `times`.
    pub(crate) fn take(faults: &mut Vec<Fault>, route: MockRoute) -> Effects {
        let mut effects = Effects::default();
        for fault in faults.iter_mut() {
            if fault.route.is_some_and(|r| r != route) {
                continue;
            }
            if effects.status.is_none()
                && let Some(status) = fault.status
            {
                effects.status = Some((status, fault.message.clone(), fault.retry_after_secs));
            }
            if let Some(ms) = fault.delay_first_byte_ms {
                let d = Duration::from_millis(ms);
                effects.delay_first_byte = Some(effects.delay_first_byte.map_or(d, |e| e.max(d)));
            }
            if let Some(ms) = fault.chunk_delay_ms {
                let d = Duration::from_millis(ms);
                effects.chunk_delay = Some(effects.chunk_delay.map_or(d, |e| e.max(d)));
            }
            if let Some(n) = fault.drop_mid_stream_after {
                effects.drop_after = Some(effects.drop_after.map_or(n, |e| e.min(n)));
            }
            if effects.raw_body.is_none() {
                effects.raw_body.clone_from(&fault.raw_body);
            }
            effects.reset |= fault.reset;
            effects.hold |= fault.hold_after_first_chunk;
            if let Some(times) = fault.times.as_mut() {
                *times = times.saturating_sub(1);
            }
        }
        faults.retain(|f| f.times != Some(0));
        effects
    }

    /// Whether the body must be sent piece by piece.
    pub(crate) fn shapes_body(&self) -> bool {
        self.drop_after.is_some() || self.chunk_delay.is_some() || self.hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_spent_per_matching_request() {
        let mut faults = vec![
            Fault::status(429).times(1).on(MockRoute::Messages),
            Fault::chunk_delay(Duration::from_millis(5)),
        ];
        let other = Effects::take(&mut faults, MockRoute::ChatCompletions);
        assert_eq!(other.status, None);
        assert_eq!(other.chunk_delay, Some(Duration::from_millis(5)));
        let hit = Effects::take(&mut faults, MockRoute::Messages);
        assert_eq!(hit.status, Some((429, None, None)));
        assert_eq!(faults.len(), 1);
        assert_eq!(Effects::take(&mut faults, MockRoute::Messages).status, None);
    }

    #[test]
    fn json_shape() {
        let fault: Fault =
            serde_json::from_str(r#"{"status": 503, "times": 2, "route": "/v1/chat/completions"}"#)
                .unwrap();
        assert_eq!(
            fault,
            Fault::status(503).times(2).on(MockRoute::ChatCompletions)
        );
        assert!(serde_json::from_str::<Fault>(r#"{"statsu": 1}"#).is_err());
        assert!(Fault::default().problem().is_some());
    }
}
