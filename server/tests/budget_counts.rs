//! Budget counters count what the usage records say: a node that never counted a window
//! (a restart, a new limit, a time-zone change) starts it from the records, also those still
//! queued; only requests sent to an account count, live and from the records; an account's
//! limits go with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::budgets::{chat, group_limit, limit, start, used};
use common::gateway;
use serde_json::json;
use server::mock_upstream::Fault;

/// A window's counter that this node never counted starts from the usage records, not from
/// zero: a limit added after the usage, a node whose counters are new (a restart with the
/// counters in memory: here a second node on the same database, its own memory), a time
/// zone that moves the day. The hourly rollups count the tokens of hour-aligned windows, the
/// records those of the others (a day in Asia/Kolkata starts on the half hour). With Redis the
/// second node finds the counter there and keeps it.
async fn counters_start_from_the_usage_records(redis: bool) {
    let Some(gw) = start(redis).await else { return };
    for _ in 0..3 {
        gw.chat_ok(&gw.key, "gpt-4o-mini").await;
    }
    let rows = gw.usage(3).await;
    let tokens: i64 = rows
        .iter()
        .map(|r| r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens)
        .sum();
    assert!(tokens > 0);
    let requests = group_limit(&gw, "requests", "total", 4).await;
    let day_tokens = group_limit(&gw, "tokens", "day", 1_000_000).await;
    assert_eq!(
        used(&gw, &gw.base).await,
        vec![(requests, 3), (day_tokens, tokens)]
    );
    // The fourth request fits, the fifth does not (its refusal is no request counted).
    gw.chat_ok(&gw.key, "gpt-4o-mini").await;
    let refused = gw
        .post("/v1/chat/completions", &chat("one more"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let rows = gw.usage(5).await;
    let tokens: i64 = rows
        .iter()
        .map(|r| r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens)
        .sum();

    let second = gw.second_node().await;
    let res = gw
        .http
        .post(format!("{second}/v1/chat/completions"))
        .bearer_auth(&gw.key)
        .json(&chat("on the other node"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "a new node starts where the records are");
    assert_eq!(
        used(&gw, &second).await,
        vec![(requests, 4), (day_tokens, tokens)]
    );

    // A zone whose day starts on the half hour: the same day's records, counted one by one.
    let (status, body) = gw
        .api(
            "PUT",
            &format!("/api/groups/{}/time-zone", gw.group_id),
            Some(json!({"time_zone": "Asia/Kolkata"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let kolkata = aicarpool::tz::Zone::or_default("Asia/Kolkata");
    let (day_start, _) = kolkata.day(aicarpool::db::now_ms());
    let today: i64 = rows
        .iter()
        .filter(|r| r.created_at >= day_start)
        .map(|r| r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens)
        .sum();
    assert_eq!(
        used(&gw, &gw.base).await,
        vec![(requests, 4), (day_tokens, today)]
    );
}

#[tokio::test]
async fn counters_start_from_the_usage_records_in_memory() {
    counters_start_from_the_usage_records(false).await;
}

#[tokio::test]
async fn counters_start_from_the_usage_records_with_redis() {
    counters_start_from_the_usage_records(true).await;
}

/// A limit made right after requests counts them all, also those whose records are still
/// in the usage writer's queue (it lingers up to 100 ms before writing): seeding has the
/// writer write them first. Then the next request is the last one that fits.
#[tokio::test]
async fn a_limit_made_at_once_counts_the_records_still_queued() {
    let gw = gateway::start().await;
    for _ in 0..3 {
        gw.chat_ok(&gw.key, "gpt-4o-mini").await;
    }
    let requests = group_limit(&gw, "requests", "day", 4).await;
    assert_eq!(used(&gw, &gw.base).await, vec![(requests, 3)]);
    gw.chat_ok(&gw.key, "gpt-4o-mini").await;
    let refused = gw
        .post("/v1/chat/completions", &chat("one more"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
}

/// A request counts against request limits once it is sent to an account, and against the
/// account's own request limits when it was served there. Refusals before that (the account's
/// budget used up, an unknown model, a malformed body) count on no node, and a request whose
/// attempt failed counts for the group, not the account: the same in the live counters and
/// when a node's counters start from the records.
#[tokio::test]
async fn only_requests_sent_to_an_account_count() {
    let gw = gateway::start().await;
    let requests = group_limit(&gw, "requests", "day", 100).await;
    let account = limit(
        &gw,
        json!({"scope": "account", "target_id": gw.openai_account,
            "metric": "requests", "window": "day", "cap": 1}),
    )
    .await;
    gw.mock.set_fault(Fault::status(500).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("fails"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    gw.chat_ok(&gw.key, "gpt-4o-mini").await;
    // The only account for the model has used its budget: refused after the request's own
    // limits were held.
    let res = gw
        .post("/v1/chat/completions", &chat("again"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let unknown =
        json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]});
    let res = gw
        .post("/v1/chat/completions", &unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = gw
        .post("/v1/chat/completions", &json!({"model": "gpt-4o-mini"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(gw.usage(5).await.len(), 5, "every request is recorded");
    let mut expected = vec![(requests, 2), (account, 1)];
    expected.sort_unstable();
    assert_eq!(used(&gw, &gw.base).await, expected, "live");
    let second = gw.second_node().await;
    assert_eq!(used(&gw, &second).await, expected, "from the records");
}

/// Deleting an account deletes the groups' limits on it; the other limits stay.
#[tokio::test]
async fn an_accounts_limits_go_with_it() {
    let gw = gateway::start().await;
    let group = group_limit(&gw, "requests", "day", 100).await;
    limit(
        &gw,
        json!({"scope": "account", "target_id": gw.openai_account,
            "metric": "tokens", "window": "month", "cap": 1000}),
    )
    .await;
    assert_eq!(used(&gw, &gw.base).await.len(), 2);
    let (status, body) = gw
        .api(
            "DELETE",
            &format!("/api/accounts/{}", gw.openai_account),
            None,
        )
        .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(used(&gw, &gw.base).await, vec![(group, 0)]);
}
