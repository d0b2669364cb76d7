//! A mock AI provider for tests and benchmarks. One server speaks OpenAI chat completions,
//! OpenAI Responses and Anthropic Messages (whole and streamed), answers deterministically,
//! counts tokens as words, and injects faults on demand: error statuses, slow first bytes,
//! reset connections, streams cut or held midway, a given raw body or event stream.
//!
//! In-process, [`MockUpstream::start`] on port 0 and drive it through the handle; as a
//! subprocess (`aicarpool mock-upstream`), drive it over HTTP:
//!
//! | route | does |
//! |---|---|
//! | `POST /_mock/faults` | adds a [`Fault`] (JSON object) or an array of them |
//! | `GET`/`DELETE /_mock/faults` | lists / clears the active faults |
//! | `POST /_mock/release` | lets held streams finish |
//! | `GET /_mock/stats` | [`MockStats`] |
//! | `GET /_mock/requests` | the last [`RecordedRequest`]s, oldest first |
//! | `POST /_mock/reset` | clears faults, stats, records and the prompt cache |
//!
//! What it answers: the reply is `mock reply: ` followed by the words of the last user text
//! (whitespace collapsed; after tool calls, of their results), cut to `max_tokens` words.
//! Tokens are words: input tokens are the words of the system prompt, the messages and the
//! tool definitions' JSON (at least 1); output tokens are the words of the reply, or of a tool
//! call's name and arguments. When tools are defined and the last user text mentions
//! "weather" (or `tool_choice` forces a tool) it calls the first (or the named) tool with
//! `{"city":"Paris"}`; `mock:call NAME {JSON}` in that text calls the defined tool `NAME` with
//! those arguments (to drive a real client's tool loop). `mock:think` in a user message of a
//! chat completion request makes the model think as DeepSeek's thinking mode does: the answer
//! starts with `reasoning_content`, and an assistant turn with tool calls sent back without
//! its `reasoning_content` is a 400. With Anthropic `cache_control`
//! anywhere in the request, the system prompt's words are reported as cache creation the
//! first time it is seen and as a cache read afterwards; with OpenAI `prompt_cache_key` they
//! are reported as `cached_tokens` on repeats.

mod anthropic;
mod faults;
mod openai;
mod responses;
mod service;
mod state;
mod stream;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aicarpool::gateway::client::Coalesce;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub use faults::{Fault, MockRoute};
pub use state::{MockStats, RecordedRequest};

use state::Shared;

/// How a mock upstream starts.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Where to listen; `127.0.0.1:0` (a free port) by default.
    pub listen: SocketAddr,
    /// The key clients must send (`Authorization: Bearer`, or `x-api-key` on Anthropic routes).
    pub api_key: String,
    /// Model ids listed by `GET /v1/models` (any model is accepted by the other routes).
    pub models: Vec<String>,
    /// Sent back in an `x-mock-upstream` header, to tell several mocks apart.
    pub name: Option<String>,
    /// How many recent requests are kept for [`MockUpstream::requests`].
    pub record_limit: usize,
}

impl Default for MockOptions {
    fn default() -> MockOptions {
        MockOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: "mock-key".to_owned(),
            models: [
                "gpt-4o-mini",
                "gpt-4.1",
                "claude-sonnet-4-5",
                "claude-haiku-4-5",
            ]
            .map(str::to_owned)
            .to_vec(),
            name: None,
            record_limit: 100,
        }
    }
}

/// A running mock upstream. Dropping it stops the server and cuts its connections.
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl MockUpstream {
    /// Binds `options.listen` and serves in the background.
    pub async fn start(options: MockOptions) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(options.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(options));
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(MockUpstream {
            addr,
            shared,
            server,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the root (and the control routes' base).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/v1`: the OpenAI SDKs' base URL.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://ADDR`: the Anthropic SDKs' base URL.
    pub fn anthropic_base_url(&self) -> String {
        self.base_url()
    }

    /// The key clients must send.
    pub fn api_key(&self) -> &str {
        &self.shared.options.api_key
    }

    /// Adds a fault; it applies together with the faults already set.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// The faults still active.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Lets every stream held by `hold_after_first_chunk` now finish.
    pub fn release(&self) {
        self.shared.release();
    }

    /// Request counters.
    pub fn stats(&self) -> MockStats {
        self.shared.stats()
    }

    /// The last requests received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.requests().pop()
    }

    /// Clears faults, stats, recorded requests and the prompt cache.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Waits until `n` streams are held by `hold_after_first_chunk`, up to `timeout`;
    /// whether they are.
    pub async fn wait_until_held(&self, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.stats().held < n {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops serving and cuts open connections.
    pub async fn shutdown(mut self) {
        self.server.abort();
        // Cancellation is the expected outcome here.
        let _ = (&mut self.server).await;
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts connections until aborted; aborting drops the set, which aborts every connection.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Stream events must leave one by one, not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    // As in the gateway, the answer is written from the connection's task, and
                    // `Coalesce` keeps hyper's wakes within one poll from bouncing it to the
                    // other worker thread. Without it the mock woke a second thread per
                    // request (strace: 1.4 futex calls a request), competing for the cores
                    // with whatever it is measured against.
                    connections.spawn(Coalesce::new(async move {
                        let service = service_fn(move |request| {
                            service::handle(Arc::clone(&shared), request)
                        });
                        // Resets and cuts end connections with errors on purpose.
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    }));
                }
                Err(err) => {
                    tracing::warn!(%err, "mock upstream: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
