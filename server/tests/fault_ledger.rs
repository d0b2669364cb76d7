//! A fault storm against the ledger. Many requests at once, whole and streamed, in both
//! dialects (half of them translated), against three accounts that fail in every way the mock
//! can (error statuses, resets, streams cut midway, slow first bytes, garbage), with clients
//! that hang up mid-stream. Whatever happens: no client sees a 500, every request is recorded
//! exactly once, and the group's limit counters equal the sums of the records (no reservation
//! is left behind, none is settled twice), in memory and in Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway::Gateway;
use common::routing::{MODEL, start_tuned};
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockRoute, MockUpstream};

const REQUESTS: usize = 160;
/// Requests start this far apart: the storm (3.2 s) outlasts the circuits' open time many
/// times over, so accounts come back during it.
const PACE: Duration = Duration::from_millis(20);

/// The request `i` of the storm: its path and body, and whether its client hangs up after the
/// first chunk.
fn request(i: usize) -> (&'static str, Value, bool) {
    let stream = i.is_multiple_of(2);
    let text = format!("storm request number {i}");
    let hang_up = stream && i % 10 == 4;
    if i % 4 < 2 {
        let body = json!({"model": MODEL, "stream": stream, "max_tokens": 40,
            "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
            "messages": [{"role": "user", "content": text}]});
        ("/v1/chat/completions", body, hang_up)
    } else {
        let body = json!({"model": MODEL, "stream": stream, "max_tokens": 40,
            "messages": [{"role": "user", "content": text}]});
        ("/v1/messages", body, hang_up)
    }
}

/// Sends request `i`; returns its status (0 when the client hung up on purpose).
async fn send(gw: &Gateway, i: usize) -> u16 {
    let (path, body, hang_up) = request(i);
    let response = gw
        .http
        .post(format!("{}{path}", gw.base))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("request {i} failed at the transport: {e}"));
    let status = response.status().as_u16();
    if hang_up && status == 200 {
        let mut chunks = response.bytes_stream();
        let _ = chunks.next().await;
        return 0;
    }
    // Read the whole answer: a stream's failure arrives inside it.
    let _ = response.bytes().await;
    status
}

async fn account(gw: &Gateway, provider: &str, mock: &MockUpstream) -> i64 {
    let base = if provider == "anthropic" {
        mock.anthropic_base_url()
    } else {
        mock.openai_base_url()
    };
    gw.add_account(json!({
        "name": format!("{provider}-{}", mock.addr().port()), "provider": provider,
        "base_url": base, "api_key": mock.api_key(), "models": [MODEL],
    }))
    .await
}

async fn ledger_holds_under_a_fault_storm(redis: bool) {
    // Circuits open for 200 ms: an account that failed comes back within the storm even
    // when its probes meet its next faults.
    let Some(gw) = start_tuned(redis, |c| {
        c.gateway.circuit_open = Duration::from_millis(200)
    })
    .await
    else {
        return;
    };
    let (status, body) = gw
        .api(
            "PUT",
            "/api/prices",
            Some(json!({"model": MODEL, "input": 3_000_000u64,
            "output": 15_000_000u64, "cache_read": 300_000u64, "cache_write": 3_750_000u64,
            "source": "override"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut limits = Vec::new();
    for (metric, cap) in [
        ("requests", json!(1_000_000)),
        ("tokens", json!(1_000_000_000)),
        ("cost", json!("1000")),
    ] {
        let (status, limit) = gw
            .api(
                "POST",
                &format!("/api/groups/{}/limits", gw.group_id),
                Some(json!({"scope": "group", "metric": metric, "window": "day", "cap": cap})),
            )
            .await;
        assert_eq!(status, 201, "{limit}");
        limits.push((metric, limit["id"].as_i64().unwrap()));
    }

    let mut mocks = Vec::new();
    for _ in 0..3 {
        mocks.push(MockUpstream::start(MockOptions::default()).await.unwrap());
    }
    account(&gw, "openai", &mocks[0]).await;
    account(&gw, "openai", &mocks[1]).await;
    account(&gw, "anthropic", &mocks[2]).await;
    // Streams take a while (a client that hangs up after the first chunk leaves the gateway
    // mid-stream), and every account fails the first 4 requests it sees, so some clients get
    // no answer from any and every circuit opens. Faults that match a request are all spent
    // on it, so each account's later faults count those 4 in.
    for mock in &mocks {
        mock.set_fault(Fault::chunk_delay(Duration::from_millis(15)));
        mock.set_fault(Fault::status(500).times(4));
    }
    let garbage = "data: {\"not\": \"a chunk\"\n\n";
    for fault in [
        Fault::reset().times(6),
        Fault::drop_mid_stream_after(2).times(14),
    ] {
        mocks[0].set_fault(fault);
    }
    for fault in [
        Fault::delay_first_byte(Duration::from_millis(800)).times(7),
        Fault::raw_body(garbage)
            .on(MockRoute::ChatCompletions)
            .times(12),
    ] {
        mocks[1].set_fault(fault);
    }
    for fault in [
        Fault::status(529).times(8),
        Fault::drop_mid_stream_after(1).times(14),
    ] {
        mocks[2].set_fault(fault);
    }

    let statuses: Vec<u16> = join_all((0..REQUESTS).map(|i| {
        let gw = &gw;
        async move {
            tokio::time::sleep(PACE * i as u32).await;
            send(gw, i).await
        }
    }))
    .await;
    for status in &statuses {
        assert!(
            matches!(status, 0 | 200 | 429 | 502 | 503 | 504),
            "a client got {status}: {statuses:?}"
        );
    }
    // The storm had it all: answers, failures no account could serve, hang-ups.
    for wanted in [200, 0] {
        assert!(statuses.contains(&wanted), "no {wanted}: {statuses:?}");
    }
    assert!(
        statuses.iter().any(|s| matches!(s, 502 | 503)),
        "no failure reached a client: {statuses:?}"
    );

    // Every request is recorded once (hang-ups included, once the gateway noticed them).
    let rows = gw.usage(REQUESTS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = aicarpool::db::usage::recent(gw.state.db(), gw.group_id, 10_000)
        .await
        .unwrap();
    assert_eq!(all.len(), REQUESTS, "a request was recorded twice");
    let mut ids: Vec<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), REQUESTS);

    // The counters are the sums of the records.
    let tokens: i64 = rows
        .iter()
        .map(|r| r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens)
        .sum();
    let cost: i64 = rows.iter().map(|r| r.cost_micros).sum();
    assert!(tokens > 0 && cost > 0);
    let (_, listed) = gw
        .api("GET", &format!("/api/groups/{}/limits", gw.group_id), None)
        .await;
    let used = |id: i64| {
        let limit = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("limit {id} not listed: {listed}"));
        limit["used_raw"].as_i64().unwrap()
    };
    let counted = rows.iter().filter(|r| r.attempts > 0).count() as i64;
    for (metric, id) in &limits {
        let expected = match *metric {
            "requests" => counted,
            "tokens" => tokens,
            _ => cost,
        };
        assert_eq!(used(*id), expected, "{metric}: {listed}");
    }
}

#[tokio::test]
async fn the_ledger_holds_under_a_fault_storm_in_memory() {
    ledger_holds_under_a_fault_storm(false).await;
}

#[tokio::test]
async fn the_ledger_holds_under_a_fault_storm_with_redis() {
    ledger_holds_under_a_fault_storm(true).await;
}
