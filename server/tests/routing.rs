//! Smart routing against several mock upstreams: weights, failover for each fault class,
//! circuit breaking and recovery, rate-limit cooldowns, refused keys, concurrency caps,
//! sticky conversations, fallback chains across providers; with the counters in memory and,
//! when the test command provides Redis, in Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway::{self, Gateway};
use futures_util::future::join_all;
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockUpstream};

const MODEL: &str = "route-model";

fn body(text: &str) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}]})
}

/// The test server's URL; the Redis / MariaDB variants fail, not skip, without it.
fn redis_url() -> Option<String> {
    let url = std::env::var("AICARPOOL_TEST_REDIS_URL").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "AICARPOOL_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts Redis"
    );
    Some(url)
}

async fn start(redis: bool) -> Option<Gateway> {
    start_tuned(redis, |_| {}).await
}

/// [`start`] with settings changed after the routing tests' own.
async fn start_tuned(
    redis: bool,
    extra: impl Fn(&mut aicarpool::config::Config) + Copy + Send + 'static,
) -> Option<Gateway> {
    let tune = move |c: &mut aicarpool::config::Config| {
        c.gateway.circuit_failures = 3;
        c.gateway.circuit_open = Duration::from_secs(1);
        c.gateway.first_byte_timeout = Duration::from_millis(500);
        c.gateway.total_timeout = Duration::from_secs(2);
        extra(c);
    };
    if redis {
        let url = redis_url()?;
        // Account ids repeat across test databases: each gateway gets its own key space.
        let prefix = format!("test-{}:", aicarpool::gateway::keys::generate());
        let tune = move |c: &mut aicarpool::config::Config| {
            tune(c);
            c.gateway.redis_prefix = prefix;
        };
        Some(gateway::start_on(tune, Some(&url), None).await)
    } else {
        Some(gateway::start_with(tune).await)
    }
}

/// Sends `n` requests, `concurrency` at a time; returns how many succeeded.
async fn storm(gw: &Gateway, n: usize, concurrency: usize) -> usize {
    let mut ok = 0;
    let mut sent = 0;
    while sent < n {
        let batch = concurrency.min(n - sent);
        let results = join_all((0..batch).map(|i| {
            gw.post(
                "/v1/chat/completions",
                &body(&format!("storm {}", sent + i)),
            )
            .send()
        }))
        .await;
        ok += results
            .into_iter()
            .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 200))
            .count();
        sent += batch;
    }
    ok
}

fn served(mocks: &[(MockUpstream, i64)]) -> Vec<u64> {
    mocks.iter().map(|(m, _)| m.stats().total).collect()
}

async fn weights_split_traffic(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let ups = gw.add_upstreams(MODEL, &[1, 2, 3]).await;
    let n = 1800;
    assert_eq!(storm(&gw, n, 32).await, n);
    let counts = served(&ups);
    for (count, weight) in counts.iter().zip([1.0, 2.0, 3.0]) {
        let p: f64 = weight / 6.0;
        let expected = n as f64 * p;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (*count as f64 - expected).abs() < 5.0 * sigma,
            "counts {counts:?} do not follow the weights 1:2:3"
        );
    }
}

#[tokio::test]
async fn weights_split_traffic_in_memory() {
    weights_split_traffic(false).await;
}

#[tokio::test]
async fn weights_split_traffic_with_redis() {
    weights_split_traffic(true).await;
}

async fn retryable_faults_are_invisible(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
    let faults = [
        Fault::status(500),
        Fault::status(503),
        Fault::status(429).retry_after(30),
        Fault::reset(),
        Fault::delay_first_byte(Duration::from_secs(3)),
    ];
    for fault in faults {
        for (m, _) in &ups {
            m.reset();
        }
        let label = format!("{fault:?}");
        ups[0].0.set_fault(fault);
        let n = 600;
        let ok = storm(&gw, n, 16).await;
        assert!(
            ok as f64 >= n as f64 * 0.999,
            "{label}: only {ok} of {n} succeeded"
        );
        // The faulty account stopped getting traffic quickly (circuit or cooldown).
        assert!(ups[0].0.stats().total < 60, "{label}: {:?}", served(&ups));
        ups[0].0.clear_faults();
        gw.state.gateway().counters().clear_health(ups[0].1).await;
    }
}

#[tokio::test]
async fn retryable_faults_are_invisible_in_memory() {
    retryable_faults_are_invisible(false).await;
}

#[tokio::test]
async fn retryable_faults_are_invisible_with_redis() {
    retryable_faults_are_invisible(true).await;
}

#[tokio::test]
async fn a_slow_first_byte_on_a_stream_fails_over_at_the_deadline() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1]).await;
    ups[0]
        .0
        .set_fault(Fault::delay_first_byte(Duration::from_secs(5)));
    for i in 0..10 {
        let mut b = body(&format!("s {i}"));
        b["stream"] = json!(true);
        let started = std::time::Instant::now();
        let res = gw.post("/v1/chat/completions", &b).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("[DONE]"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    assert!(ups[0].0.stats().total <= 4, "{:?}", served(&ups));
}

#[tokio::test]
async fn a_broken_account_recovers_after_its_probe() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1]).await;
    ups[0].0.set_fault(Fault::status(500));
    assert_eq!(storm(&gw, 60, 4).await, 60);
    let health = gw.state.gateway().counters().health(ups[0].1);
    assert!(health.open_until > 0, "the circuit opened: {health:?}");
    let (_, account) = gw
        .api("GET", &format!("/api/accounts/{}", ups[0].1), None)
        .await;
    assert_eq!(account["health"]["circuit"], "open", "{account}");
    let before = ups[0].0.stats().total;
    let started = std::time::Instant::now();
    storm(&gw, 40, 4).await;
    // Only half-open probes reach it, one per elapsed open period (1 s): a slow machine can
    // take more than a second for the storm. Without the circuit it would get about half.
    let probes = started.elapsed().as_secs() + 1;
    let during = ups[0].0.stats().total - before;
    assert!(
        during <= probes,
        "no traffic but probes while the circuit is open: {during} requests, {probes} probes allowed"
    );

    ups[0].0.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(storm(&gw, 200, 4).await, 200);
    assert!(
        ups[0].0.stats().total > before + 50,
        "traffic came back: {:?}",
        served(&ups)
    );
    assert_eq!(gw.state.gateway().counters().health(ups[0].1).open_until, 0);
}

/// Three failed requests in a row: the circuit of the group's only account opens.
async fn open_the_circuit(gw: &Gateway) {
    for _ in 0..3 {
        let res = gw
            .post("/v1/chat/completions", &body("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502);
    }
}

/// A group whose only account failed in a burst has it back as soon as it answers again, not
/// when its open time ends (a minute here): with nothing else to try, a last-resort probe goes
/// at most once a second, and every other request is refused at once.
async fn an_account_alone_is_back_as_soon_as_it_answers(redis: bool) {
    let Some(gw) = start_tuned(redis, |c| c.gateway.circuit_open = Duration::from_secs(60)).await
    else {
        return;
    };
    let ups = gw.add_upstreams(MODEL, &[1]).await;
    let (mock, id) = (&ups[0].0, ups[0].1);
    mock.set_fault(Fault::status(500));
    open_the_circuit(&gw).await;
    let res = gw
        .post("/v1/chat/completions", &body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("circuit open"), "{err}");

    let before = mock.stats().total;
    let started = std::time::Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        served += storm(&gw, 8, 4).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let probes = mock.stats().total - before;
    let allowed = started.elapsed().as_secs() + 1;
    assert_eq!(served, 0);
    assert!(
        (1..=allowed).contains(&probes),
        "{probes} probes reached the failing account in {:?}; at most one a second",
        started.elapsed()
    );

    // It answers again: the next probe closes the circuit, and everything flows.
    mock.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(storm(&gw, 1, 1).await, 1);
    assert_eq!(storm(&gw, 20, 4).await, 20);
    let counters = gw.state.gateway().counters();
    counters.sync().await;
    assert_eq!(counters.health(id).open_until, 0, "the circuit closed");
}

#[tokio::test]
async fn an_account_alone_is_back_as_soon_as_it_answers_in_memory() {
    an_account_alone_is_back_as_soon_as_it_answers(false).await;
}

#[tokio::test]
async fn an_account_alone_is_back_as_soon_as_it_answers_with_redis() {
    an_account_alone_is_back_as_soon_as_it_answers(true).await;
}

/// A probe that tells nothing about the account's health (a 429 here) gives its claim back, so
/// the next request probes as soon as the cooldown ends rather than when the claim times out
/// (10 s here); a probe whose stream starts closes the circuit at once, not when it ends.
#[tokio::test]
async fn probes_give_back_what_they_cannot_judge_and_close_the_circuit_as_the_answer_starts() {
    let gw = start_tuned(false, |c| {
        c.gateway.circuit_open = Duration::from_secs(60);
        c.gateway.first_byte_timeout = Duration::from_secs(10);
        c.gateway.total_timeout = Duration::from_secs(20);
    })
    .await
    .unwrap();
    let ups = gw.add_upstreams(MODEL, &[1]).await;
    let (mock, id) = (&ups[0].0, ups[0].1);
    mock.set_fault(Fault::status(500).times(3));
    open_the_circuit(&gw).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    mock.set_fault(Fault::status(429).retry_after(1).times(1));
    let res = gw
        .post("/v1/chat/completions", &body("probe"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    mock.set_fault(Fault::chunk_delay(Duration::from_millis(100)).times(1));
    let mut b = body("w w w w w w w w w w");
    b["stream"] = json!(true);
    let res = gw.post("/v1/chat/completions", &b).send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "the next probe went as the cooldown ended"
    );
    let mut stream = res.bytes_stream();
    let first = futures_util::StreamExt::next(&mut stream).await.unwrap();
    assert!(!first.unwrap().is_empty());
    let counters = gw.state.gateway().counters();
    assert_eq!(
        counters.health(id).open_until,
        0,
        "closed as the answer started"
    );
    assert_eq!(storm(&gw, 10, 2).await, 10);
    let mut rest = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(String::from_utf8_lossy(&rest).contains("[DONE]"));
}

#[tokio::test]
async fn rate_limits_cool_down_until_the_reset_and_refused_keys_take_the_account_out() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1]).await;
    ups[0]
        .0
        .set_fault(Fault::status(429).retry_after(2).times(1));
    assert_eq!(storm(&gw, 40, 1).await, 40);
    assert_eq!(ups[0].0.stats().total, 1, "cooling down after one 429");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    storm(&gw, 40, 1).await;
    assert!(ups[0].0.stats().total > 5, "back after the reset time");

    ups[1].0.set_fault(Fault::status(401));
    let before = ups[1].0.stats().total;
    assert_eq!(storm(&gw, 40, 4).await, 40);
    // One 401 takes it out (a few requests may have been in flight at once).
    assert!(ups[1].0.stats().total - before <= 4, "{:?}", served(&ups));
    let (_, account) = gw
        .api("GET", &format!("/api/accounts/{}", ups[1].1), None)
        .await;
    assert!(
        account["health"]["out_reason"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{account}"
    );
    assert!(
        account["last_error"].as_str().unwrap().contains("401"),
        "{account}"
    );
    // Saving the account (a fixed key) brings it back.
    ups[1].0.clear_faults();
    let (status, _) = gw
        .api(
            "PUT",
            &format!("/api/accounts/{}", ups[1].1),
            Some(json!({"api_key": "mock-key"})),
        )
        .await;
    assert_eq!(status, 200);
    let before = ups[1].0.stats().total;
    storm(&gw, 40, 4).await;
    assert!(ups[1].0.stats().total > before);
}

async fn concurrency_caps_hold(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let ups = gw.add_upstreams(MODEL, &[10, 1]).await;
    let (status, _) = gw
        .api(
            "PUT",
            &format!("/api/accounts/{}", ups[0].1),
            Some(json!({"max_concurrency": 2})),
        )
        .await;
    assert_eq!(status, 200);
    for (m, _) in &ups {
        m.set_fault(Fault::delay_first_byte(Duration::from_millis(150)));
    }
    assert_eq!(storm(&gw, 60, 12).await, 60);
    assert!(
        ups[0].0.stats().max_in_flight <= 2,
        "cap exceeded: {:?}",
        ups[0].0.stats()
    );
    assert!(ups[0].0.stats().total > 0 && ups[1].0.stats().total > 0);
}

#[tokio::test]
async fn concurrency_caps_hold_in_memory() {
    concurrency_caps_hold(false).await;
}

#[tokio::test]
async fn concurrency_caps_hold_with_redis() {
    concurrency_caps_hold(true).await;
}

#[tokio::test]
async fn a_conversation_sticks_to_its_account_and_moves_when_it_fails() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
    let conversation = |turn: usize| {
        let mut messages = vec![
            json!({"role": "system", "content": "You are a careful reviewer"}),
            json!({"role": "user", "content": "review my code"}),
        ];
        for i in 0..turn {
            messages.push(json!({"role": "assistant", "content": format!("answer {i}")}));
            messages.push(json!({"role": "user", "content": format!("follow-up {i}")}));
        }
        json!({"model": MODEL, "messages": messages})
    };
    let mut served_by = Vec::new();
    for turn in 0..15 {
        let res = gw
            .post("/v1/chat/completions", &conversation(turn))
            .send()
            .await
            .unwrap();
        served_by.push(
            res.headers()["x-aicarpool-account-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        served_by.iter().all(|a| a == &served_by[0]),
        "{served_by:?}"
    );
    let pinned: i64 = served_by[0].parse().unwrap();
    let (mock, _) = ups.iter().find(|(_, id)| *id == pinned).unwrap();
    mock.set_fault(Fault::status(500));
    let mut moved = Vec::new();
    for turn in 15..25 {
        let res = gw
            .post("/v1/chat/completions", &conversation(turn))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        moved.push(
            res.headers()["x-aicarpool-account-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        moved.iter().all(|a| a != &served_by[0]),
        "moved away: {moved:?}"
    );
    assert!(
        moved[1..].iter().all(|a| a == &moved[1]),
        "and stays on the new one: {moved:?}"
    );
}

#[tokio::test]
async fn fallback_chains_cross_providers_and_attempts_are_explained() {
    let gw = start(false).await.unwrap();
    let (status, routing) = gw
        .api("PUT", &format!("/api/groups/{}/routing", gw.group_id),
             Some(json!({"strategy": "round_robin", "routes": {"smart": ["claude-sonnet-4-5", "gpt-4o-mini"]}})))
        .await;
    assert_eq!(status, 200, "{routing}");
    let models: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(models.to_string().contains("\"smart\""));
    // The Claude account fails: the chain moves on to GPT, translated for an Anthropic client.
    gw.mock
        .set_fault(Fault::status(500).on(server::mock_upstream::MockRoute::Messages));
    let res = gw
        .post(
            "/v1/messages",
            &json!({"model": "smart", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    assert_eq!(res.headers()["x-aicarpool-model"], "gpt-4o-mini");
    let msg: Value = res.json().await.unwrap();
    assert_eq!(msg["content"][0]["text"], "mock reply: hello");
    let rows = gw.usage(1).await;
    let log: Value = serde_json::from_str(rows[0].attempt_log.as_deref().unwrap()).unwrap();
    assert_eq!(log[0]["account_id"], gw.anthropic_account);
    assert_eq!(log[0]["status"], 500);
    assert_eq!(log[1]["account_id"], gw.openai_account);
    assert_eq!(log[1]["outcome"], "ok");
    // A bad request is never retried elsewhere.
    gw.mock.clear_faults();
    gw.mock
        .set_fault(Fault::status(400).on(server::mock_upstream::MockRoute::Messages));
    let res = gw
        .post(
            "/v1/messages",
            &json!({"model": "smart", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_mid_stream_death_is_not_retried_and_opens_the_circuit() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1]).await;
    ups[0].0.set_fault(Fault::drop_mid_stream_after(1));
    for _ in 0..3 {
        let mut b = body("a b c d");
        b["stream"] = json!(true);
        let text = gw
            .post("/v1/chat/completions", &b)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("\"error\""), "{text}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let res = gw
        .post("/v1/chat/completions", &body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{err}"
    );
}

/// `most_budget`: each request goes to the account with the largest share of its budget left,
/// so spending follows the caps (3:1 here), where weights alone would split it evenly.
async fn most_budget_spends_in_proportion_to_what_is_left(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let ups = gw.add_upstreams(MODEL, &[1, 1]).await;
    let (status, routing) = gw
        .api(
            "PUT",
            &format!("/api/groups/{}/routing", gw.group_id),
            Some(json!({"strategy": "most_budget", "routes": {}})),
        )
        .await;
    assert_eq!(status, 200, "{routing}");
    for ((_, account), cap) in ups.iter().zip([30, 10]) {
        let (status, limit) = gw
            .api(
                "POST",
                &format!("/api/groups/{}/limits", gw.group_id),
                Some(
                    json!({"scope": "account", "target_id": account, "metric": "requests",
                            "window": "day", "cap": cap}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{limit}");
    }
    // One at a time, so every choice sees the settled counters of the ones before.
    for i in 0..20 {
        let response = gw
            .post("/v1/chat/completions", &body(&format!("budget {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let counts = served(&ups);
    assert!(
        counts[0].abs_diff(15) <= 1 && counts[1].abs_diff(5) <= 1,
        "caps 30 and 10 should split 20 requests about 15:5, got {counts:?}"
    );
    // Both used up: the next requests are refused by the accounts' budgets, not sent.
    assert_eq!(storm(&gw, 30, 1).await, 20);
    let counts = served(&ups);
    assert_eq!(counts, vec![30, 10], "no account may go over its cap");
}

#[tokio::test]
async fn most_budget_spends_in_proportion_to_what_is_left_in_memory() {
    most_budget_spends_in_proportion_to_what_is_left(false).await;
}

#[tokio::test]
async fn most_budget_spends_in_proportion_to_what_is_left_with_redis() {
    most_budget_spends_in_proportion_to_what_is_left(true).await;
}

#[tokio::test]
async fn a_refused_connection_moves_on_to_the_next_account() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1]).await;
    // A port nobody listens on: connecting is refused at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    gw.add_account(json!({
        "name": "gone", "provider": "openai", "base_url": format!("http://127.0.0.1:{closed}/v1"),
        "api_key": "k", "models": [MODEL], "weight": 5,
    }))
    .await;
    let n = 300;
    assert_eq!(
        storm(&gw, n, 8).await,
        n,
        "every request is served by the live account"
    );
    assert_eq!(served(&ups), vec![n as u64]);
}
