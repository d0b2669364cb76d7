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
//! The concurrency-1 phases (whole answers, breakdown, streams) run with every process pinned
//! to one CPU (`--c1-cpus`, see pin.rs), the concurrent phase on all of them.
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
mod options;
mod pin;
mod probes;
mod procs;
mod report;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{Value, json};

use options::Options;
use probes::{
    HttpClient, Probe, Side, StreamTiming, Targets, api, batch, http_client, one_probe,
    one_request, one_stream,
};
use procs::{Proc, cpu_micros, cpu_of, free_port, gateway_command, spawn_mock, status_kib};
use report::{Results, loadavg, machine, print_table, summarize, to_json};

pub(crate) const MODEL: &str = "gpt-4o-mini";
pub(crate) const MOCK_KEY: &str = "mock-key";
const ADMIN_EMAIL: &str = "bench@example.com";
const ADMIN_PASSWORD: &str = "bench-password-0123";
/// No single request may take longer than this.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Settings the gateway would otherwise inherit from the caller's environment.
pub(crate) const GATEWAY_VARS: &[&str] = &[
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

/// The benchmark's messages: two short ones, or with `kb` > 0 a conversation of about `kb`
/// KiB shaped like a coding agent's (a fifth of it system prompt, the rest 2 KiB turns of
/// prose with code and escapes in it), ending with the user's turn.
pub(crate) fn conversation(kb: usize) -> Value {
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

    // The concurrency-1 phases run with every process pinned to `--c1-cpus` (see pin.rs).
    let all_cpus = pin::allowed();
    let mut pids = vec![std::process::id(), gw, forwarder.pid()];
    pids.extend(&mock_pids);
    if let Some(list) = &options.c1_cpus {
        pin::set(&pids, list);
    }

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

    // The concurrent phase on every CPU, warmed up again after the move.
    if options.c1_cpus.is_some() {
        pin::set(&pids, &all_cpus);
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
    print_table(
        &options,
        &results,
        &machine,
        &all_cpus,
        &load_before,
        &load_after,
    );
    if options.json {
        println!(
            "{}",
            to_json(
                &options,
                &results,
                &machine,
                &all_cpus,
                &load_before,
                &load_after
            )
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
