//! Smart routing against several mock upstreams: weights, failover for each fault class,
//! concurrency caps, sticky conversations, fallback chains across providers, budget-led
//! routing; with the counters in memory and, when the test command provides Redis, in Redis.
//! The accounts' health (circuits, probes, cooldowns, refused keys) is `account_health.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::routing::{MODEL, body, served, start, storm};
use serde_json::{Value, json};
use server::mock_upstream::Fault;

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

/// A client that hangs up while the upstream has not answered yet gives the account's
/// concurrency slot back: the slot is not left taken for good (in memory nothing expires it).
async fn a_hang_up_before_the_first_byte_frees_the_slot(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let ups = gw.add_upstreams(MODEL, &[1]).await;
    let (status, _) = gw
        .api(
            "PUT",
            &format!("/api/accounts/{}", ups[0].1),
            Some(json!({"max_concurrency": 1})),
        )
        .await;
    assert_eq!(status, 200);
    for stream in [false, true] {
        let mut b = body("hang up");
        b["stream"] = json!(stream);
        ups[0]
            .0
            .set_fault(Fault::delay_first_byte(Duration::from_millis(600)).times(1));
        let gone = gw
            .post("/v1/chat/completions", &b)
            .timeout(Duration::from_millis(150))
            .send()
            .await;
        assert!(gone.is_err(), "the client should have given up");
        // The next request gets the slot (the release runs in a task of its own).
        let mut status = 0;
        for _ in 0..20 {
            let res = gw.post("/v1/chat/completions", &b).send().await.unwrap();
            status = res.status().as_u16();
            if status == 200 {
                assert!(!res.text().await.unwrap().is_empty());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 200, "stream: {stream}: the slot stayed taken");
    }
}

#[tokio::test]
async fn a_hang_up_before_the_first_byte_frees_the_slot_in_memory() {
    a_hang_up_before_the_first_byte_frees_the_slot(false).await;
}

#[tokio::test]
async fn a_hang_up_before_the_first_byte_frees_the_slot_with_redis() {
    a_hang_up_before_the_first_byte_frees_the_slot(true).await;
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
