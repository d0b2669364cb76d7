//! The direct lane: the proxy's POST endpoints served straight from the connection, with what
//! the router's layers would add (request id, log span and events, CORS and security headers).

use aicarpool::gateway::Endpoint;
use aicarpool::gateway::client::Coalesce;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, Method, header};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument as _;

use super::proxy;
use crate::{REQUEST_ID, SECURITY_HEADERS, ServerState};
/// The proxy's POST endpoints, served straight from the connection: no router, no tower
/// layers. They are nearly all of a gateway's traffic, and matching the route through axum
/// and passing the request and answer through the six layers took about 20 µs of CPU per
/// request, as much as the gateway's own work before the upstream call (perf, 2026-11-27).
///
/// The answers are the router's: [`Direct::serve`] does what the layers do for these routes
/// (the request id made up or kept, the log span and its events under tower-http's targets, a
/// stream's body polled in the span, the CORS answer headers, the security headers), and
/// `tests/hostile_clients.rs` compares both lanes' headers. Everything else
/// (other methods, preflights, the `/api` aliases, `/v1/models`, unknown paths) goes through
/// the router.
#[derive(Clone, Debug)]
pub struct Direct {
    state: Arc<ServerState>,
}

/// CORS answer headers of the proxy's routes (see [`cors`]); a preflight is the router's.
const CORS_VARY: &str = "origin, access-control-request-method, access-control-request-headers";

impl Direct {
    /// The lane over `state`.
    pub fn new(state: ServerState) -> Direct {
        Direct {
            state: Arc::new(state),
        }
    }

    /// The state the lane serves from.
    pub(crate) fn state(&self) -> &ServerState {
        &self.state
    }

    /// The endpoint `method path` asks for, when this lane serves it.
    pub fn endpoint(method: &Method, path: &str) -> Option<Endpoint> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/v1/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/messages" => Some(Endpoint::Messages),
            "/v1/messages/count_tokens" => Some(Endpoint::CountTokens),
            "/v1/responses" => Some(Endpoint::Responses),
            _ => None,
        }
    }

    /// Answers a request for `endpoint`.
    pub async fn serve(self, endpoint: Endpoint, mut req: Request) -> Response {
        let request_id = match req.headers().get(REQUEST_ID) {
            Some(id) if crate::usable_request_id(id) => id.clone(),
            _ => {
                let mut text = uuid::Uuid::encode_buffer();
                let id = HeaderValue::from_str(
                    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text),
                )
                .unwrap_or_else(|_| HeaderValue::from_static("-"));
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let span = crate::request_span(&req);
        let started = Instant::now();
        let mut response = async {
            tracing::debug!(target: ON_REQUEST, "started processing request");
            Coalesce::new(proxy(&self.state, endpoint, req)).await
        }
        .instrument(span.clone())
        .await;

        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static(CORS_VARY));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("*"),
        );
        headers.entry(REQUEST_ID).or_insert(request_id);
        for (name, value) in SECURITY_HEADERS {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }

        span.in_scope(|| {
            let latency = Millis(started.elapsed());
            let status = response.status();
            tracing::debug!(target: ON_RESPONSE, %latency, status = status.as_u16(), "finished processing request");
            if status.is_server_error() {
                let classification = format!("Status code: {status}");
                tracing::error!(target: ON_FAILURE, %classification, %latency, "response failed");
            }
        });
        // A stream is relayed after this returns: its body is polled in the span too.
        if HttpBody::size_hint(response.body()).exact().is_none() {
            response = response.map(|body| {
                Body::new(InSpan {
                    body,
                    span,
                    started: Instant::now(),
                })
            });
        }
        response
    }
}

/// The targets of the router's trace layer (tower-http's), so that `RUST_LOG` filters both
/// lanes' request logs alike.
const ON_REQUEST: &str = "tower_http::trace::on_request";
const ON_RESPONSE: &str = "tower_http::trace::on_response";
const ON_FAILURE: &str = "tower_http::trace::on_failure";
const ON_EOS: &str = "tower_http::trace::on_eos";

/// A duration as tower-http's trace layer writes it (`12 ms`), formatted only when the event
/// is logged.
struct Millis(std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms", self.0.as_millis())
    }
}

/// A streamed answer's body, polled inside its request's span as the router's trace layer
/// polls it: what is logged while the stream is relayed carries the request id, and its end
/// is logged (DEBUG) as there.
struct InSpan {
    body: Body,
    span: tracing::Span,
    started: Instant,
}

impl HttpBody for InSpan {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let _in_span = this.span.enter();
        let frame = std::task::ready!(std::pin::Pin::new(&mut this.body).poll_frame(cx));
        if frame.is_none() {
            let stream_duration = Millis(this.started.elapsed());
            tracing::debug!(target: ON_EOS, %stream_duration, "end of stream");
        }
        std::task::Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
