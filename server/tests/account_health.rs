//! Account health against mock upstreams: circuits that open after failures and close after
//! their probe, last-resort probes when nothing else can serve (one at a time, a second apart),
//! probe claims given back when the probe tells nothing, rate-limit cooldowns until the
//! provider's reset, refused keys, a stream dying mid-way; in memory and, for the last-resort
//! probes, with the counters in Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway::Gateway;
use common::routing::{MODEL, body, served, start, start_tuned, storm};
use serde_json::{Value, json};
use server::mock_upstream::Fault;

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

/// Every usable account passed over for its budget is no reason to turn a request away while
/// another account is out only for an open circuit: that one gets its last-resort probe, and
/// when nothing can serve, the 503 names both.
#[tokio::test]
async fn a_budget_skip_leaves_the_last_resort_probe_to_the_open_circuit() {
    let gw = start_tuned(false, |c| c.gateway.circuit_open = Duration::from_secs(60))
        .await
        .unwrap();
    let broken = gw.add_upstreams(MODEL, &[1]).await;
    broken[0].0.set_fault(Fault::status(500));
    open_the_circuit(&gw).await;
    let spent = gw.add_upstreams(MODEL, &[1]).await;
    let (status, limit) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/limits", gw.group_id),
            Some(
                json!({"scope": "account", "target_id": spent[0].1, "metric": "requests",
                        "window": "total", "cap": 1}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    assert_eq!(storm(&gw, 1, 1).await, 1, "the account with budget serves");

    // Both out: one for its budget, one for its circuit (its probe fails).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = gw
        .post("/v1/chat/completions", &body("x"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_server_error(), "{}", res.status());
    let res = gw
        .post("/v1/chat/completions", &body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("circuit open") && message.contains("budget"),
        "{message}"
    );

    // The broken one answers again: its next last-resort probe serves the request.
    broken[0].0.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(storm(&gw, 1, 1).await, 1);
    assert_eq!(
        gw.state.gateway().counters().health(broken[0].1).open_until,
        0
    );
}
