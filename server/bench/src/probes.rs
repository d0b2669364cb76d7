//! The benchmark's HTTP client and the requests it times.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::REQUEST_TIMEOUT;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(300))
        .build(connector)
}

/// A JSON call to the gateway's API: (status, body).
pub(crate) async fn api(
    client: &HttpClient,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(body.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let response = client.request(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Where a measured request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Direct,
    Proxy,
}

/// Requests that stop at successive stages of the gateway, for the breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `GET /healthz`: the hop, axum and the tower layers.
    Health,
    /// A chat request with an unknown key (401): plus key hashing and the key cache.
    BadKey,
    /// A valid key and an unknown model (404): plus body read, JSON parse, catalog, usage record.
    BadModel,
    /// The chat request through the minimal forwarder to the first mock: the floor.
    Floor,
}

/// The chat-completions endpoints of both sides; direct requests go round-robin over the mocks.
pub(crate) struct Targets {
    pub(crate) direct: Vec<(Uri, HeaderValue)>,
    pub(crate) proxy: (Uri, HeaderValue),
    pub(crate) next_direct: AtomicUsize,
    pub(crate) body: Bytes,
    pub(crate) stream_body: Bytes,
    pub(crate) health: Uri,
    pub(crate) bad_key: HeaderValue,
    pub(crate) bad_model_body: Bytes,
    pub(crate) floor: Uri,
}

impl Targets {
    pub(crate) fn request(&self, side: Side, stream: bool) -> Request<Full<Bytes>> {
        let (uri, auth) = match side {
            Side::Proxy => &self.proxy,
            Side::Direct => {
                let i = self.next_direct.fetch_add(1, Ordering::Relaxed) % self.direct.len();
                &self.direct[i]
            }
        };
        let body = if stream {
            self.stream_body.clone()
        } else {
            self.body.clone()
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.insert(header::AUTHORIZATION, auth.clone());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        request
    }
}

impl Targets {
    pub(crate) fn probe(&self, probe: Probe) -> (Request<Full<Bytes>>, StatusCode) {
        let (uri, auth) = &self.proxy;
        let mut request = Request::new(Full::new(Bytes::new()));
        match probe {
            Probe::Floor => {
                let mut request = Request::new(Full::new(self.body.clone()));
                *request.method_mut() = Method::POST;
                *request.uri_mut() = self.floor.clone();
                let headers = request.headers_mut();
                headers.insert(header::AUTHORIZATION, self.direct[0].1.clone());
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return (request, StatusCode::OK);
            }
            Probe::Health => {
                *request.uri_mut() = self.health.clone();
                return (request, StatusCode::OK);
            }
            Probe::BadKey => {
                *request.body_mut() = Full::new(self.body.clone());
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, self.bad_key.clone());
            }
            Probe::BadModel => {
                *request.body_mut() = Full::new(self.bad_model_body.clone());
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, auth.clone());
            }
        }
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let expected = if probe == Probe::BadKey {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::NOT_FOUND
        };
        (request, expected)
    }
}

/// Sends one breakdown probe; its latency.
pub(crate) async fn one_probe(client: &HttpClient, targets: &Targets, probe: Probe) -> Duration {
    let (request, expected) = targets.probe(probe);
    let started = Instant::now();
    let response = tokio::time::timeout(REQUEST_TIMEOUT, client.request(request))
        .await
        .unwrap_or_else(|_| panic!("{probe:?} timed out"))
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let elapsed = started.elapsed();
    assert_eq!(
        status,
        expected,
        "{probe:?}: {}",
        String::from_utf8_lossy(&body)
    );
    elapsed
}

/// Sends one whole-answer request and reads the body; its latency.
pub(crate) async fn one_request(client: &HttpClient, targets: &Targets, side: Side) -> Duration {
    let request = targets.request(side, false);
    let started = Instant::now();
    let work = async {
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    };
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| panic!("{side:?} request timed out"));
    let elapsed = started.elapsed();
    if status != StatusCode::OK {
        panic!(
            "{side:?} request failed: {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    elapsed
}

/// The timings of one stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamTiming {
    /// Status line and headers received.
    pub(crate) head: Duration,
    /// First body byte.
    pub(crate) first_byte: Duration,
    /// First chunk with a non-empty `delta.content`.
    pub(crate) first_token: Duration,
    /// Body finished.
    pub(crate) total: Duration,
}

/// Whether a complete SSE event carries a non-empty `choices[0].delta.content`.
fn has_content(event: &[u8]) -> bool {
    let text = String::from_utf8_lossy(event);
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .any(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .is_some_and(|c| !c.is_empty())
        })
}

pub(crate) async fn one_stream(client: &HttpClient, targets: &Targets, side: Side) -> StreamTiming {
    let request = targets.request(side, true);
    let started = Instant::now();
    let work = async {
        let response = client.request(request).await.unwrap();
        let head = started.elapsed();
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            panic!(
                "{side:?} stream failed: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let mut body: Incoming = response.into_body();
        let mut first_byte = None;
        let mut first_token = None;
        let mut pending: Vec<u8> = Vec::new();
        // The last bytes seen, to find the closing `[DONE]` even when it is split.
        let mut tail: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.unwrap();
            let Some(data) = frame.data_ref() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            first_byte.get_or_insert_with(|| started.elapsed());
            if first_token.is_none() {
                pending.extend_from_slice(data);
                while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = pending.drain(..end + 2).collect();
                    if first_token.is_none() && has_content(&event) {
                        first_token = Some(started.elapsed());
                    }
                }
            }
            tail.extend_from_slice(data);
            tail.drain(..tail.len().saturating_sub(32));
        }
        let total = started.elapsed();
        assert!(
            tail.ends_with(b"data: [DONE]\n\n"),
            "{side:?} stream ended without [DONE]"
        );
        StreamTiming {
            head,
            first_byte: first_byte.unwrap_or(total),
            first_token: first_token
                .unwrap_or_else(|| panic!("{side:?} stream carried no content token")),
            total,
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| panic!("{side:?} stream timed out"))
}

/// Sends `n` requests to `side` over `concurrency` connections; the latencies and the wall time.
pub(crate) async fn batch(
    client: &HttpClient,
    targets: &Arc<Targets>,
    side: Side,
    n: usize,
    concurrency: usize,
) -> (Vec<Duration>, Duration) {
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(n) {
        let (client, targets, issued) = (client.clone(), targets.clone(), issued.clone());
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(n / concurrency + 1);
            while issued.fetch_add(1, Ordering::Relaxed) < n {
                latencies.push(one_request(&client, &targets, side).await);
            }
            latencies
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(latencies) = workers.join_next().await {
        all.extend(latencies.unwrap());
    }
    (all, started.elapsed())
}
