//! The proxy benchmark: what the gateway adds on top of a direct call to the provider.
//!
//! Starts the release `aicarpool` binary as N mock upstreams (`mock-upstream`) and one gateway
//! (`serve` on a temp `DATA_DIR`, `RUST_LOG=warn`), sets the gateway up through its API (admin
//! -> group -> one account per mock, bound to the group -> member key), then sends the same
//! chat-completions body straight to the mock(s) and through the gateway, interleaved in one
//! run:
//!
//! - whole answers at concurrency 1 (alternating direct / proxy request by request) and at
//!   concurrency C (alternating direct / proxy batches): latency percentiles, throughput;
//! - streams at concurrency 1: time to the response head, the first body byte and the first
//!   content token;
//! - the gateway's CPU time per proxied request and peak RSS, the mock's CPU per request;
//! - a breakdown: requests that stop at successive stages of the gateway, and the same chat
//!   request through a minimal forwarder (`forwarder.rs`, this binary in another process):
//!   the floor any proxy pays for the extra hop on this machine.
//!
//! `scripts/bench.sh --help` lists the options: the script builds the release binary with
//! `cargo leptos build --release` (nothing when it is up to date), then this small package,
//! and passes its arguments on. Child processes are killed by PID when the run ends, also
//! when it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark fails loudly"
)]

mod forwarder;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const MODEL: &str = "gpt-4o-mini";
const MOCK_KEY: &str = "mock-key";
const ADMIN_EMAIL: &str = "bench@example.com";
const ADMIN_PASSWORD: &str = "bench-password-0123";
/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Settings the gateway would otherwise inherit from the caller's environment.
const GATEWAY_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "NEXTAUTH_SECRET",
    "APP_URL",
    "NEXTAUTH_URL",
    "MASTER_KEY",
    "HOST",
    "PORT",
    "DATA_DIR",
    "LEPTOS_SITE_ROOT",
    "LEPTOS_ENV",
    "MAX_BODY_BYTES",
    "UPSTREAM_FIRST_BYTE_TIMEOUT",
    "UPSTREAM_TIMEOUT",
    "SMTP_HOST",
];

const HELP: &str = "\
proxy benchmark: the gateway vs a direct call to the mock upstream, in the same run

options:
  --upstreams N           mock upstream processes, one account each, all bound to the group [1]
  --gateway-env K=V       extra environment for the gateway (repeatable), e.g. REDIS_URL=redis://…
  --limits                the governed path: key, member, group and account limits (requests,
                          tokens, cost; minute, day, month, total) too high to refuse anything,
                          so every proxied request reserves and settles against seven counters
  --requests N            whole answers at concurrency 1, per side [2000]
  --concurrency C         the concurrent phase's concurrency [64]
  --concurrent-requests N whole answers at concurrency C, per side [20000]
  --rounds R              the concurrent phase alternates direct/proxy batches R times [10]
  --streams N             streamed answers at concurrency 1, per side [500]
  --warmup N              warm-up requests per side before measuring [500]
  --body-kb N             pad the conversation to about N KiB, as coding agents send it (a long
                          system prompt and many turns) [0: two short messages, ~0.2 KiB]
  --client-threads T      client runtime threads (1 = current-thread runtime) [1]
  --json                  also print the results as one JSON object
  --bin PATH              the aicarpool binary [$AICARPOOL_BIN, else
                          $CARGO_TARGET_DIR/release/aicarpool, else the one cargo built]
";

/// Command-line options.
#[derive(Debug)]
struct Options {
    upstreams: usize,
    gateway_env: Vec<(String, String)>,
    limits: bool,
    requests: usize,
    concurrency: usize,
    concurrent_requests: usize,
    rounds: usize,
    streams: usize,
    warmup: usize,
    body_kb: usize,
    client_threads: usize,
    json: bool,
    bin: PathBuf,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            upstreams: 1,
            gateway_env: Vec::new(),
            limits: false,
            requests: 2000,
            concurrency: 64,
            concurrent_requests: 20_000,
            rounds: 10,
            streams: 500,
            warmup: 500,
            body_kb: 0,
            client_threads: 1,
            json: false,
            bin: default_bin(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            let number = |v: String| -> usize {
                v.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage(&format!("{name}: not a positive number: {v}")))
            };
            match name.as_str() {
                "--help" | "-h" => {
                    print!("{HELP}");
                    std::process::exit(0);
                }
                "--json" => options.json = true,
                "--limits" => options.limits = true,
                "--upstreams" => options.upstreams = number(value()),
                "--requests" => options.requests = number(value()),
                "--concurrency" => options.concurrency = number(value()),
                "--concurrent-requests" => options.concurrent_requests = number(value()),
                "--rounds" => options.rounds = number(value()),
                "--streams" => options.streams = number(value()),
                "--warmup" => options.warmup = number(value()),
                "--body-kb" => options.body_kb = number(value()),
                "--client-threads" => options.client_threads = number(value()),
                "--bin" => options.bin = PathBuf::from(value()),
                "--gateway-env" => {
                    let pair = value();
                    let Some((k, v)) = pair.split_once('=') else {
                        usage(&format!("--gateway-env wants KEY=VALUE, got {pair}"));
                    };
                    options.gateway_env.push((k.to_owned(), v.to_owned()));
                }
                other => usage(&format!("unknown option {other}")),
            }
        }
        options
    }
}

fn usage(message: &str) -> ! {
    eprint!("proxy bench: {message}\n\n{HELP}");
    std::process::exit(2);
}

/// The benchmark's messages: two short ones, or with `kb` > 0 a conversation of about `kb`
/// KiB shaped like a coding agent's (a fifth of it system prompt, the rest 2 KiB turns of
/// prose with code and escapes in it), ending with the user's turn.
fn conversation(kb: usize) -> Value {
    if kb == 0 {
        return json!([
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "say hello to the proxy benchmark in a few words please"},
        ]);
    }
    let prose = "The function `parse_config` reads \"settings.toml\", checks each key and \
                 returns a map;\n    if let Some(v) = map.get(\"port\") { use(v) }\n";
    let text = |bytes: usize| prose.repeat(bytes / prose.len() + 1);
    let mut messages = vec![json!({"role": "system", "content": text(kb * 1024 / 5)})];
    let turns = (kb * 1024 * 4 / 5 / 2048).max(1) | 1;
    for i in 0..turns {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": text(2048)}));
    }
    Value::Array(messages)
}

/// `$AICARPOOL_BIN`, else `$CARGO_TARGET_DIR/release/aicarpool`, else `target/release/aicarpool`.
fn default_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("AICARPOOL_BIN") {
        return PathBuf::from(bin);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("release").join("aicarpool")
}

fn main() {
    // The forwarder process: `proxy-bench --forwarder PORT UPSTREAM_ADDR`.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--forwarder") {
        forwarder::run(args[2].parse().unwrap(), args[3].parse().unwrap());
        return;
    }
    let options = Options::parse();
    let runtime = if options.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.client_threads)
            .enable_all()
            .build()
    }
    .unwrap();
    runtime.block_on(run(options));
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child process, killed (by its PID) and reaped when dropped, also during a panic.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics with `log`'s tail when the process has exited.
    fn assert_running(&mut self, log: Option<&Path>) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let tail = log
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.lines().rev().take(30).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            panic!(
                "{} exited early ({status}); last log lines, newest first:\n{tail}",
                self.name
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock upstream process and its OpenAI base URL.
fn spawn_mock(bin: &Path, dir: &Path, index: usize) -> (Proc, String) {
    let mut child = Command::new(bin)
        .args([
            "mock-upstream",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            MOCK_KEY,
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().unwrap();
    let proc = Proc {
        name: format!("mock upstream {index}"),
        child,
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let root = line
        .trim()
        .strip_prefix("mock upstream listening on ")
        .unwrap_or_else(|| panic!("unexpected mock upstream output: {line:?}"))
        .to_owned();
    (proc, root)
}

/// A command for the gateway binary with the benchmark's environment.
fn gateway_command(options: &Options, dir: &Path, port: u16) -> Command {
    let mut command = Command::new(&options.bin);
    // The temp dir as working directory keeps a `.env` of the checkout out of the way.
    command.current_dir(dir).stdin(Stdio::null());
    for var in GATEWAY_VARS {
        command.env_remove(var);
    }
    command
        .env("DATA_DIR", dir.join("data"))
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    for (k, v) in &options.gateway_env {
        command.env(k, v);
    }
    command
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// CPU time (user + system) a process has used so far, in microseconds.
fn cpu_micros(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; the fields after it are space-separated.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `after` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 * 1e6 / clock_ticks()
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(300))
        .build(connector)
}

/// A JSON call to the gateway's API: (status, body).
async fn api(
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
enum Side {
    Direct,
    Proxy,
}

/// Requests that stop at successive stages of the gateway, for the breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
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
struct Targets {
    direct: Vec<(Uri, HeaderValue)>,
    proxy: (Uri, HeaderValue),
    next_direct: AtomicUsize,
    body: Bytes,
    stream_body: Bytes,
    health: Uri,
    bad_key: HeaderValue,
    bad_model_body: Bytes,
    floor: Uri,
}

impl Targets {
    fn request(&self, side: Side, stream: bool) -> Request<Full<Bytes>> {
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
    fn probe(&self, probe: Probe) -> (Request<Full<Bytes>>, StatusCode) {
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
async fn one_probe(client: &HttpClient, targets: &Targets, probe: Probe) -> Duration {
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
async fn one_request(client: &HttpClient, targets: &Targets, side: Side) -> Duration {
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
struct StreamTiming {
    /// Status line and headers received.
    head: Duration,
    /// First body byte.
    first_byte: Duration,
    /// First chunk with a non-empty `delta.content`.
    first_token: Duration,
    /// Body finished.
    total: Duration,
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

async fn one_stream(client: &HttpClient, targets: &Targets, side: Side) -> StreamTiming {
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
async fn batch(
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

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/// Percentiles of a set of durations, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Summary {
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
}

fn summarize(samples: &[Duration]) -> Summary {
    let mut micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    micros.sort_by(f64::total_cmp);
    // Nearest rank.
    let at = |q: f64| {
        let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
        micros[rank - 1]
    };
    Summary {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        mean: micros.iter().sum::<f64>() / micros.len() as f64,
    }
}

impl Summary {
    fn json(&self) -> Value {
        json!({
            "p50_us": round(self.p50), "p90_us": round(self.p90),
            "p99_us": round(self.p99), "mean_us": round(self.mean),
        })
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Everything measured.
#[derive(Debug, Default)]
struct Results {
    c1: [Summary; 2],
    /// Health, bad key, bad model (p50s), at concurrency 1.
    breakdown: [Summary; 4],
    cn: [Summary; 2],
    throughput: [f64; 2],
    stream_head: [Summary; 2],
    stream_first_byte: [Summary; 2],
    stream_first_token: [Summary; 2],
    stream_total: [Summary; 2],
    gateway_cpu_us_c1: f64,
    gateway_cpu_us_cn: f64,
    gateway_cpu_us_stream: f64,
    mock_cpu_us_c1: f64,
    /// The minimal forwarder's CPU per request, in the breakdown.
    forwarder_cpu_us: f64,
    mock_cpu_us_cn: f64,
    gateway_hwm_kib: u64,
    gateway_rss_kib: u64,
    mock_hwm_kib: u64,
}

/// Total CPU of a set of processes (microseconds).
fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().map(|p| cpu_micros(*p)).sum()
}

async fn run(options: Options) {
    assert!(
        options.bin.exists(),
        "{} does not exist: run the benchmark with scripts/bench.sh, which builds it with \
         `cargo leptos build --release`, or point AICARPOOL_BIN at a binary",
        options.bin.display()
    );
    let load_before = loadavg();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let mut mocks = Vec::new();
    let mut mock_roots = Vec::new();
    for i in 0..options.upstreams {
        let (proc, root) = spawn_mock(&options.bin, dir.path(), i);
        mocks.push(proc);
        mock_roots.push(root);
    }

    // The floor: a minimal forwarder to the first mock, this binary in another process.
    let floor_port = free_port();
    let floor_upstream = mock_roots[0].trim_start_matches("http://").to_owned();
    let mut forwarder = Proc {
        name: "minimal forwarder".into(),
        child: Command::new(std::env::current_exe().unwrap())
            .args(["--forwarder", &floor_port.to_string(), &floor_upstream])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", floor_port)).is_err() {
        forwarder.assert_running(None);
        assert!(Instant::now() < deadline, "the forwarder did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    // First-run setup without a pre-made admin: the CLI, on the same data directory.
    let port = free_port();
    let created = gateway_command(&options, dir.path(), port)
        .args([
            "admin",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "admin create failed: {}{}",
        String::from_utf8_lossy(&created.stdout),
        String::from_utf8_lossy(&created.stderr)
    );
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = gateway_command(&options, dir.path(), port)
        .arg("serve")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut gateway = Proc {
        name: "gateway".into(),
        child,
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    wait_ready(&client, &base, &mut gateway, &log_path).await;

    let key = set_up(&client, &base, &mock_roots, options.limits).await;
    let auth = |k: &str| HeaderValue::from_str(&format!("Bearer {k}")).unwrap();
    let body = json!({
        "model": MODEL,
        "messages": conversation(options.body_kb),
        "max_tokens": 16,
    });
    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    let targets = Arc::new(Targets {
        direct: mock_roots
            .iter()
            .map(|r| {
                (
                    format!("{r}/v1/chat/completions").parse().unwrap(),
                    auth(MOCK_KEY),
                )
            })
            .collect(),
        proxy: (
            format!("{base}/v1/chat/completions").parse().unwrap(),
            auth(&key),
        ),
        next_direct: AtomicUsize::new(0),
        body: Bytes::from(body.to_string()),
        stream_body: Bytes::from(stream_body.to_string()),
        health: format!("{base}/healthz").parse().unwrap(),
        bad_key: auth("acp_NotAKeyOfThisGatewayNotAKeyOfThisGateway0"),
        bad_model_body: Bytes::from(
            json!({"model": "no-such-model", "messages": body["messages"], "max_tokens": 16})
                .to_string(),
        ),
        floor: format!("http://127.0.0.1:{floor_port}/v1/chat/completions")
            .parse()
            .unwrap(),
    });

    let gw = gateway.pid();
    let mock_pids: Vec<u32> = mocks.iter().map(Proc::pid).collect();
    let sides = [Side::Direct, Side::Proxy];
    let index = |side: Side| usize::from(side == Side::Proxy);
    let mut results = Results::default();

    // Warm-up: connections, the key cache, the catalog, allocator arenas.
    eprintln!("warming up…");
    for i in 0..options.warmup {
        for side in order(i) {
            one_request(&client, &targets, side).await;
        }
    }
    for i in 0..(options.warmup / 10).max(5) {
        for side in order(i) {
            one_stream(&client, &targets, side).await;
        }
    }
    for side in sides {
        batch(
            &client,
            &targets,
            side,
            options.warmup.max(options.concurrency * 4),
            options.concurrency,
        )
        .await;
    }

    // Concurrency 1, request by request, alternating which side goes first.
    eprintln!("concurrency 1: {} requests per side…", options.requests);
    let mut c1: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let (gw_before, mock_before) = (cpu_micros(gw), cpu_of(&mock_pids));
    for i in 0..options.requests {
        for side in order(i) {
            c1[index(side)].push(one_request(&client, &targets, side).await);
        }
    }
    let n = options.requests as f64;
    results.gateway_cpu_us_c1 = (cpu_micros(gw) - gw_before) / n;
    // Each proxied request is one mock request too.
    results.mock_cpu_us_c1 = (cpu_of(&mock_pids) - mock_before) / (2.0 * n);
    results.c1 = [summarize(&c1[0]), summarize(&c1[1])];

    // Where the added time goes: requests that stop at earlier stages, at concurrency 1.
    eprintln!("breakdown: {} probes per stage…", options.requests);
    let probes = [Probe::Health, Probe::BadKey, Probe::BadModel, Probe::Floor];
    let mut staged: [Vec<Duration>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let forwarder_before = cpu_micros(forwarder.pid());
    for i in 0..options.requests {
        for k in 0..probes.len() {
            let k = (i + k) % probes.len();
            staged[k].push(one_probe(&client, &targets, probes[k]).await);
        }
    }
    results.forwarder_cpu_us = (cpu_micros(forwarder.pid()) - forwarder_before) / n;
    results.breakdown = staged.map(|s| summarize(&s));

    // Concurrency C, in alternating batches so that each side's throughput is its own.
    eprintln!(
        "concurrency {}: {} requests per side in {} rounds…",
        options.concurrency, options.concurrent_requests, options.rounds
    );
    let per_round = options.concurrent_requests.div_ceil(options.rounds);
    let mut cn: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut wall = [Duration::ZERO; 2];
    let (mut gw_cpu, mut mock_cpu) = (0.0, 0.0);
    for round in 0..options.rounds {
        for side in order(round) {
            let (gw_before, mock_before) = (cpu_micros(gw), cpu_of(&mock_pids));
            let (latencies, elapsed) =
                batch(&client, &targets, side, per_round, options.concurrency).await;
            match side {
                Side::Proxy => gw_cpu += cpu_micros(gw) - gw_before,
                Side::Direct => mock_cpu += cpu_of(&mock_pids) - mock_before,
            }
            cn[index(side)].extend(latencies);
            wall[index(side)] += elapsed;
        }
    }
    let per_side = (per_round * options.rounds) as f64;
    results.gateway_cpu_us_cn = gw_cpu / per_side;
    results.mock_cpu_us_cn = mock_cpu / per_side;
    results.cn = [summarize(&cn[0]), summarize(&cn[1])];
    results.throughput = [
        per_side / wall[0].as_secs_f64(),
        per_side / wall[1].as_secs_f64(),
    ];

    // Streams at concurrency 1.
    eprintln!("streams: {} per side…", options.streams);
    let mut streams: [Vec<StreamTiming>; 2] = [Vec::new(), Vec::new()];
    let gw_before = cpu_micros(gw);
    for i in 0..options.streams {
        for side in order(i) {
            streams[index(side)].push(one_stream(&client, &targets, side).await);
        }
    }
    results.gateway_cpu_us_stream = (cpu_micros(gw) - gw_before) / options.streams as f64;
    let pick = |f: fn(&StreamTiming) -> Duration| {
        [0, 1].map(|i| summarize(&streams[i].iter().map(f).collect::<Vec<_>>()))
    };
    results.stream_head = pick(|t| t.head);
    results.stream_first_byte = pick(|t| t.first_byte);
    results.stream_first_token = pick(|t| t.first_token);
    results.stream_total = pick(|t| t.total);

    gateway.assert_running(Some(&log_path));
    results.gateway_hwm_kib = status_kib(gw, "VmHWM");
    results.gateway_rss_kib = status_kib(gw, "VmRSS");
    results.mock_hwm_kib = mock_pids
        .iter()
        .map(|p| status_kib(*p, "VmHWM"))
        .max()
        .unwrap_or(0);
    let load_after = loadavg();

    let machine = machine();
    print_table(&options, &results, &machine, &load_before, &load_after);
    if options.json {
        println!(
            "{}",
            to_json(&options, &results, &machine, &load_before, &load_after)
        );
    }
    drop(gateway);
    drop(forwarder);
    drop(mocks);
}

/// Which side goes first in step `i`: alternating, so neither always enjoys a warm cache.
fn order(i: usize) -> [Side; 2] {
    if i.is_multiple_of(2) {
        [Side::Direct, Side::Proxy]
    } else {
        [Side::Proxy, Side::Direct]
    }
}

async fn wait_ready(client: &HttpClient, base: &str, gateway: &mut Proc, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        gateway.assert_running(Some(log));
        let url = format!("{base}/healthz");
        let request = Request::get(url.as_str())
            .body(Full::new(Bytes::new()))
            .unwrap();
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(2), client.request(request)).await
            && response.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not answer /healthz within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Login -> group -> one account per mock, bound to the group -> member key (-> limits).
async fn set_up(client: &HttpClient, base: &str, mock_roots: &[String], limits: bool) -> String {
    let url = |path: &str| format!("{base}{path}");
    let (status, login) = api(
        client,
        Method::POST,
        &url("/api/auth/login"),
        None,
        Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "login: {login}");
    let token = login["token"].as_str().unwrap().to_owned();
    let token = Some(token.as_str());
    let (status, group) = api(
        client,
        Method::POST,
        &url("/api/groups"),
        token,
        Some(json!({"name": "Benchmark"})),
    )
    .await;
    assert_eq!(status, 201, "group: {group}");
    let group_id = group["id"].as_i64().unwrap();
    let mut account_ids = Vec::new();
    for (i, root) in mock_roots.iter().enumerate() {
        let (status, account) = api(
            client,
            Method::POST,
            &url("/api/accounts"),
            token,
            Some(json!({
                "name": format!("mock-{i}"), "provider": "openai",
                "base_url": format!("{root}/v1"), "api_key": MOCK_KEY, "models": [MODEL],
            })),
        )
        .await;
        assert_eq!(status, 201, "account: {account}");
        account_ids.push(account["id"].as_i64().unwrap());
        let (status, binding) = api(
            client,
            Method::POST,
            &url(&format!("/api/groups/{group_id}/accounts")),
            token,
            Some(json!({"account_id": account["id"]})),
        )
        .await;
        assert_eq!(status, 201, "binding: {binding}");
    }
    let (status, key) = api(
        client,
        Method::POST,
        &url(&format!("/api/groups/{group_id}/keys")),
        token,
        Some(json!({"name": "benchmark"})),
    )
    .await;
    assert_eq!(status, 201, "key: {key}");
    if limits {
        let (_, me) = api(client, Method::GET, &url("/api/auth/me"), token, None).await;
        let user_id = me["id"]
            .as_i64()
            .or_else(|| me["user"]["id"].as_i64())
            .unwrap();
        let mut rules = vec![
            json!({"scope": "key", "target_id": key["id"], "metric": "requests", "window": "minute", "cap": 100_000_000}),
            json!({"scope": "key", "target_id": key["id"], "metric": "tokens", "window": "day", "cap": 1_000_000_000_000_i64}),
            json!({"scope": "member", "target_id": user_id, "metric": "cost", "window": "month", "cap": 1_000_000}),
            json!({"scope": "group", "metric": "cost", "window": "month", "cap": 1_000_000}),
            json!({"scope": "group", "metric": "requests", "window": "total", "cap": 1_000_000_000_i64}),
        ];
        for id in &account_ids {
            rules.push(json!({"scope": "account", "target_id": id, "metric": "cost", "window": "day", "cap": 1_000_000}));
            rules.push(json!({"scope": "account", "target_id": id, "metric": "tokens", "window": "minute", "cap": 1_000_000_000_000_i64}));
        }
        for rule in rules {
            let (status, limit) = api(
                client,
                Method::POST,
                &url(&format!("/api/groups/{group_id}/limits")),
                token,
                Some(rule),
            )
            .await;
            assert_eq!(status, 201, "limit: {limit}");
        }
    }
    key["key"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Machine {
    cores: usize,
    model: String,
    kernel: String,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Machine {
        cores,
        model,
        kernel,
    }
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

fn added(us: f64) -> String {
    format!("{:+.3}", us / 1000.0)
}

fn print_table(
    options: &Options,
    r: &Results,
    machine: &Machine,
    load_before: &str,
    load_after: &str,
) {
    let c = options.concurrency;
    println!();
    println!(
        "Machine: {} cores ({}), Linux {}; load average before {load_before}, after {load_after}.",
        machine.cores, machine.model, machine.kernel
    );
    let env: Vec<&str> = options
        .gateway_env
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    println!(
        "Setup: {} mock upstream(s), gateway env: {}, {}; chat completions of {} bytes, {} \
         requests at c=1, {} at c={c}, {} streams at c=1, per side.",
        options.upstreams,
        if env.is_empty() {
            "default (SQLite, counters in memory)".to_owned()
        } else {
            env.join(", ")
        },
        if options.limits {
            "governed (7 limits per request: key, member, group, account)"
        } else {
            "no limits"
        },
        json!({"model": MODEL, "messages": conversation(options.body_kb), "max_tokens": 16})
            .to_string()
            .len(),
        options.requests,
        options.concurrent_requests,
        options.streams
    );
    println!();
    println!("| measure (ms) | direct | proxy | added |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, s: &[Summary; 2], f: fn(&Summary) -> f64| {
        println!(
            "| {name} | {} | {} | {} |",
            ms(f(&s[0])),
            ms(f(&s[1])),
            added(f(&s[1]) - f(&s[0]))
        );
    };
    row("latency p50, c=1", &r.c1, |s| s.p50);
    row("latency p90, c=1", &r.c1, |s| s.p90);
    row("latency p99, c=1", &r.c1, |s| s.p99);
    row(&format!("latency p50, c={c}"), &r.cn, |s| s.p50);
    row(&format!("latency p90, c={c}"), &r.cn, |s| s.p90);
    row(&format!("latency p99, c={c}"), &r.cn, |s| s.p99);
    row("stream: headers p50", &r.stream_head, |s| s.p50);
    row("stream: first token p50", &r.stream_first_token, |s| s.p50);
    row("stream: first token p99", &r.stream_first_token, |s| s.p99);
    row("stream: whole stream p50", &r.stream_total, |s| s.p50);
    println!();
    let b = &r.breakdown;
    println!("| gateway stage, c=1 (ms) | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, s) in [
        ("`GET /healthz` (hop + axum + layers)", &b[0]),
        ("chat, unknown key: 401 (+ key check)", &b[1]),
        (
            "chat, unknown model: 404 (+ body, parse, catalog, record)",
            &b[2],
        ),
        ("chat, proxied (+ upstream call)", &r.c1[1]),
        ("chat, direct to the mock (reference)", &r.c1[0]),
        (
            "chat through a minimal forwarder to the mock (the floor of any proxy here)",
            &b[3],
        ),
    ] {
        println!("| {name} | {} | {} |", ms(s.p50), ms(s.p99));
    }
    println!();
    println!("| measure | direct | proxy | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| throughput at c={c} (req/s) | {:.0} | {:.0} | {:.2} |",
        r.throughput[0],
        r.throughput[1],
        r.throughput[1] / r.throughput[0]
    );
    println!();
    println!("| process | CPU per request (µs) | peak RSS (MiB) |");
    println!("|---|---:|---:|");
    println!(
        "| gateway | {:.0} at c=1, {:.0} at c={c}, {:.0} per stream | {:.1} (now {:.1}) |",
        r.gateway_cpu_us_c1,
        r.gateway_cpu_us_cn,
        r.gateway_cpu_us_stream,
        r.gateway_hwm_kib as f64 / 1024.0,
        r.gateway_rss_kib as f64 / 1024.0
    );
    println!(
        "| mock upstream (reference) | {:.0} at c=1, {:.0} at c={c} | {:.1} |",
        r.mock_cpu_us_c1,
        r.mock_cpu_us_cn,
        r.mock_hwm_kib as f64 / 1024.0
    );
    println!(
        "| minimal forwarder (reference) | {:.0} at c=1 | |",
        r.forwarder_cpu_us
    );
    println!();
    let p50 = (r.c1[1].p50 - r.c1[0].p50) / 1000.0;
    let ttft = (r.stream_first_token[1].p50 - r.stream_first_token[0].p50) / 1000.0;
    println!(
        "Targets: added p50 at c=1 {p50:.3} ms (target < 0.1: {}); added first-token p50 \
         {ttft:.3} ms (target < 0.3: {}).",
        if p50 < 0.1 { "met" } else { "MISSED" },
        if ttft < 0.3 { "met" } else { "MISSED" }
    );
    // The hop alone, measured in the breakdown against the direct call of the c=1 phase (two
    // phases of one run: short runs can put the floor above the gateway).
    let floor = (r.breakdown[3].p50 - r.c1[0].p50) / 1000.0;
    let share = p50 - floor;
    println!(
        "Floor: a minimal forwarder added {floor:.3} ms at p50 over the direct call in this run, \
         so the gateway's own share of its {p50:.3} ms is {share:.3} ms{}.",
        if share < 0.0 {
            " (below zero: the two phases differ by more than the gateway's work; run longer)"
        } else {
            ""
        }
    );
}

fn to_json(
    options: &Options,
    r: &Results,
    machine: &Machine,
    load_before: &str,
    load_after: &str,
) -> Value {
    let pair = |s: &[Summary; 2]| {
        json!({
            "direct": s[0].json(), "proxy": s[1].json(),
            "added_p50_us": round(s[1].p50 - s[0].p50), "added_p99_us": round(s[1].p99 - s[0].p99),
        })
    };
    json!({
        "machine": {
            "cores": machine.cores, "cpu": machine.model, "kernel": machine.kernel,
            "load_before": load_before, "load_after": load_after,
        },
        "setup": {
            "upstreams": options.upstreams,
            "gateway_env": options.gateway_env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            "limits": options.limits,
            "requests_c1": options.requests, "concurrency": options.concurrency,
            "requests_concurrent": options.concurrent_requests, "streams": options.streams,
        },
        "latency_c1": pair(&r.c1),
        "latency_concurrent": pair(&r.cn),
        "breakdown_c1": {
            "healthz": r.breakdown[0].json(), "unknown_key": r.breakdown[1].json(),
            "unknown_model": r.breakdown[2].json(), "minimal_forwarder": r.breakdown[3].json(),
            "minimal_forwarder_added_p50_us": round(r.breakdown[3].p50 - r.c1[0].p50),
        },
        "throughput_rps": {
            "direct": round(r.throughput[0]), "proxy": round(r.throughput[1]),
            "ratio": (r.throughput[1] / r.throughput[0] * 1000.0).round() / 1000.0,
        },
        "stream_headers": pair(&r.stream_head),
        "stream_first_byte": pair(&r.stream_first_byte),
        "stream_first_token": pair(&r.stream_first_token),
        "stream_total": pair(&r.stream_total),
        "gateway": {
            "cpu_us_per_request_c1": round(r.gateway_cpu_us_c1),
            "cpu_us_per_request_concurrent": round(r.gateway_cpu_us_cn),
            "cpu_us_per_stream": round(r.gateway_cpu_us_stream),
            "peak_rss_kib": r.gateway_hwm_kib, "rss_kib": r.gateway_rss_kib,
        },
        "mock": {
            "cpu_us_per_request_c1": round(r.mock_cpu_us_c1),
            "forwarder_cpu_us_per_request": round(r.forwarder_cpu_us),
            "cpu_us_per_request_concurrent": round(r.mock_cpu_us_cn),
            "peak_rss_kib": r.mock_hwm_kib,
        },
    })
}
