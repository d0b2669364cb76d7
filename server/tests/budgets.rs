//! Budgets that hold: reserve-then-settle under concurrency (memory and Redis, one node and
//! two), refusals that explain themselves in each dialect, exact costs with cache tokens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::budgets::{chat, group_limit, limit, prefix, start};
use common::gateway::{self, Gateway};
use common::routing::redis_url;
use futures_util::future::join_all;
use serde_json::{Value, json};
use server::mock_upstream::{MockOptions, MockUpstream};

/// The test server's URL; the Redis / MariaDB variants fail, not skip, without it.
fn mysql_url() -> Option<String> {
    let url = std::env::var("AICARPOOL_TEST_MYSQL_URL").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "AICARPOOL_TEST_MYSQL_URL is not set: run the tests through scripts/test.sh, which starts MariaDB"
    );
    Some(url)
}

/// Makes gpt-4o-mini cost $100 per million tokens of every kind, so small requests cost
/// amounts a test can see.
async fn dear_prices(gw: &Gateway) {
    let (status, body) = gw
        .api("PUT", "/api/prices", Some(json!({"model": "gpt-4o-mini", "input": 100_000_000u64,
            "output": 100_000_000u64, "cache_read": 100_000_000u64, "cache_write": 100_000_000u64, "source": "override"})))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Fires `n` requests at once at `bases` (round robin); returns the statuses.
async fn burst(gw: &Gateway, bases: &[String], n: usize) -> Vec<u16> {
    join_all((0..n).map(|i| {
        let base = &bases[i % bases.len()];
        gw.http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&gw.key)
            .json(&chat(&format!("request number {i}")))
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect()
}

async fn assert_budget_holds(gw: &Gateway, bases: &[String]) {
    dear_prices(gw).await;
    let cap_usd = "0.05";
    let (status, limit) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/limits", gw.group_id),
            Some(json!({"scope": "group", "metric": "cost", "window": "month", "cap": cap_usd})),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    assert_eq!(limit["cap_raw"], 50_000);
    let statuses = burst(gw, bases, 200).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + refused, 200, "{statuses:?}");
    assert!(ok > 10 && refused > 0, "ok {ok}, refused {refused}");
    let rows = gw.usage(200).await;
    let spent: i64 = rows.iter().map(|r| r.cost_micros).sum();
    // Every served request's worst case was held before it ran, so the spend stays within
    // the cap plus at most one reservation (~2 900 micro-USD here).
    assert!(
        spent <= 50_000 + 3_500,
        "spent {spent} micro-USD against a 50 000 cap"
    );
    let served: u64 = gw
        .mock
        .stats()
        .by_route
        .get("chat_completions")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        served as usize, ok,
        "the mock served exactly the accepted requests"
    );
    assert_eq!(rows.iter().filter(|r| r.status == 200).count(), ok);
    // The dashboard's view agrees with the records.
    let (_, limits) = gw
        .api("GET", &format!("/api/groups/{}/limits", gw.group_id), None)
        .await;
    let used_micros = (limits[0]["used"].as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(used_micros, spent, "{limits}");
}

#[tokio::test]
async fn a_small_budget_holds_under_200_simultaneous_requests_in_memory() {
    let gw = start(false).await.unwrap();
    let bases = vec![gw.base.clone()];
    assert_budget_holds(&gw, &bases).await;
}

#[tokio::test]
async fn a_small_budget_holds_under_200_simultaneous_requests_with_redis() {
    let Some(gw) = start(true).await else { return };
    let bases = vec![gw.base.clone()];
    assert_budget_holds(&gw, &bases).await;
}

#[tokio::test]
async fn two_nodes_sharing_redis_and_mariadb_hold_the_group_budget() {
    let (Some(redis), Some(_)) = (redis_url(), mysql_url()) else {
        return;
    };
    let database = common::fresh_mysql_database().await;
    let p = prefix();
    let gw = gateway::start_on(
        move |c| c.gateway.redis_prefix = p,
        Some(&redis),
        Some(database),
    )
    .await;
    let second = gw.second_node().await;
    let bases = vec![gw.base.clone(), second];
    assert_budget_holds(&gw, &bases).await;
}

#[tokio::test]
async fn refusals_explain_the_limit_in_each_dialect() {
    let gw = gateway::start().await;
    let key_id = {
        let (_, keys) = gw
            .api("GET", &format!("/api/groups/{}/keys", gw.group_id), None)
            .await;
        keys[0]["id"].as_i64().unwrap()
    };
    let (status, _) = gw
        .api("POST", &format!("/api/groups/{}/limits", gw.group_id),
             Some(json!({"scope": "key", "target_id": key_id, "metric": "requests", "window": "minute", "cap": 2})))
        .await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("hi"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let res = gw
        .post("/v1/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(res.headers()["x-ratelimit-remaining-requests"], "0");
    assert!(res.headers().contains_key("retry-after"));
    // A minute's limit is worth waiting for: SDKs may retry (a month's says x-should-retry: false).
    assert!(!res.headers().contains_key("x-should-retry"));
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2 requests")
            && message.contains("per minute")
            && message.contains("resets at"),
        "{message}"
    );
    assert!(message.contains("owner or admin"), "{message}");
    let res = gw
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["type"], "rate_limit_error");
    // Another key of the same member is not limited.
    let other = gw
        .new_key(&gw.admin.clone(), json!({"name": "other"}))
        .await;
    let res = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.base))
        .bearer_auth(&other)
        .json(&chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The refused requests were recorded, and cost nothing.
    let rows = gw.usage(5).await;
    assert_eq!(rows.iter().filter(|r| r.status == 429).count(), 2);
    assert!(
        rows.iter()
            .filter(|r| r.status == 429)
            .all(|r| r.cost_micros == 0)
    );
}

#[tokio::test]
async fn limits_are_for_owners_and_admins_and_bad_input_is_explained() {
    let gw = gateway::start().await;
    let path = format!("/api/groups/{}/limits", gw.group_id);
    let (status, err) = gw
        .api(
            "POST",
            &path,
            Some(json!({"scope": "team", "metric": "cost", "window": "month", "cap": 1})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "scope");
    let (status, err) = gw
        .api(
            "POST",
            &path,
            Some(
                json!({"scope": "group", "metric": "cost", "window": "month", "cap": "1.0000001"}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "cap");
    let (status, err) = gw
        .api(
            "POST",
            &path,
            Some(json!({"scope": "member", "metric": "tokens", "window": "day", "cap": 10})),
        )
        .await;
    assert_eq!(status, 422, "a member limit needs its member: {err}");
    let (_, outsider) = common::user_with_session(&gw.state, "outsider@example.com", false).await;
    let (status, _) = gw.api_as(&outsider, "GET", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = gw.api_as(&outsider, "PUT", "/api/prices", Some(json!({"model": "x", "input": 1, "output": 1, "cache_read": 1, "cache_write": 1, "source": "override"}))).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn costs_are_the_price_table_applied_to_the_tokens_with_cache() {
    let gw = gateway::start().await;
    // Anthropic prompt caching: the first request writes the cache, the second reads it.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
        "system": [{"type": "text", "text": "a long shared system prompt of many words", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hello there"}]});
    assert_eq!(
        gw.post("/v1/messages", &body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = gw
        .post("/v1/messages", &streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("message_stop"));
    let rows = gw.usage(2).await;
    let price = aicarpool::pricing::built_in("claude-sonnet-4-5").unwrap();
    assert!(
        rows[0].cache_write_tokens > 0 && rows[1].cache_read_tokens > 0,
        "{rows:?}"
    );
    for r in &rows {
        let picos = r.input_tokens as u128 * price.input as u128
            + r.output_tokens as u128 * price.output as u128
            + r.cache_read_tokens as u128 * price.cache_read as u128
            + r.cache_write_tokens as u128 * price.cache_write as u128;
        assert_eq!(
            r.cost_micros as u128,
            (picos + 500_000) / 1_000_000,
            "{r:?}"
        );
        assert!(r.cost_micros > 0);
    }
}

/// An account whose own budget is spent is skipped for the next one, and the request's key /
/// member / group limits (reserved in the same call as the first account's) are held and
/// settled exactly once either way; with the counters in memory and in Redis.
async fn account_budgets_and_request_budgets_settle_together(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    let model = "split-model";
    // The capped account comes first (priority 0), so its budget is what turns requests away.
    let mut ups = Vec::new();
    for priority in 0..2 {
        let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
        let id = gw
            .add_account(json!({
                "name": format!("p{priority}"), "provider": "openai",
                "base_url": mock.openai_base_url(), "api_key": mock.api_key(),
                "models": [model], "priority": priority,
            }))
            .await;
        ups.push((mock, id));
    }
    let group_limit = limit(
        &gw,
        json!({"scope": "group", "metric": "requests", "window": "day", "cap": 9}),
    )
    .await;
    let account_limit = limit(
        &gw,
        json!({"scope": "account", "target_id": ups[0].1, "metric": "requests",
                                      "window": "day", "cap": 2}),
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let response = gw
            .post(
                "/v1/chat/completions",
                &json!({"model": model, "messages": [{"role": "user", "content": format!("n{i}")}]}),
            )
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    // Nine fit the group's cap; the tenth is refused by it (not by an account).
    assert_eq!(statuses[..9], [200; 9], "{statuses:?}");
    assert_eq!(statuses[9], 429, "{statuses:?}");
    let served: Vec<u64> = ups.iter().map(|(m, _)| m.stats().total).collect();
    assert_eq!(
        served,
        vec![2, 7],
        "the capped account serves its two, the next the rest"
    );
    let (_, limits) = gw
        .api("GET", &format!("/api/groups/{}/limits", gw.group_id), None)
        .await;
    let used = |id: i64| {
        limits
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .and_then(|l| l["used"].as_f64())
            .unwrap()
    };
    assert_eq!(used(group_limit), 9.0, "{limits}");
    assert_eq!(used(account_limit), served[0] as f64, "{limits}");
}

#[tokio::test]
async fn account_budgets_and_request_budgets_settle_together_in_memory() {
    account_budgets_and_request_budgets_settle_together(false).await;
}

#[tokio::test]
async fn account_budgets_and_request_budgets_settle_together_with_redis() {
    account_budgets_and_request_budgets_settle_together(true).await;
}

/// Output caps far past any limit (each dialect's field on every endpoint, since the estimate
/// reads them all) are refused with the limit named; they neither overflow the estimate (a
/// dropped connection in debug builds) nor wrap into a negative hold that lets them through
/// (release builds), and the counter stays usable.
#[tokio::test]
async fn absurd_output_caps_are_refused_without_overflowing_the_hold() {
    let gw = gateway::start().await;
    let (status, limit) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/limits", gw.group_id),
            Some(json!({"scope": "group", "metric": "tokens", "window": "day", "cap": 1_000_000})),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    let huge = i64::MAX;
    let user = json!([{"role": "user", "content": "hi"}]);
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": user, "max_output_tokens": huge}),
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": user,
                   "max_completion_tokens": huge}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "hi", "max_tokens": huge}),
        ),
    ] {
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 429, "{path}");
        let err: Value = res.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("this request may need up to"), "{message}");
    }
    gw.chat_ok(&gw.key, "gpt-4o-mini").await;
}

/// Creates a group limit; returns its id.
/// A chat request for `n` choices may be billed `n` answers: its hold is `n` output caps.
#[tokio::test]
async fn a_request_for_n_choices_holds_n_answers() {
    let gw = gateway::start().await;
    group_limit(&gw, "tokens", "day", 300).await;
    let mut body = chat("hi");
    body["max_tokens"] = json!(100);
    gw.post("/v1/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    body["n"] = json!(4);
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("this request may need up to 4"),
        "{message}"
    );
}
