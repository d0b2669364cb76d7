//! Support of the budget tests: a gateway in memory or with its counters in Redis, a small
//! chat request, limits made through the API and their usage as a node shows it.

use serde_json::{Value, json};

use super::gateway::{self, Gateway};
use super::routing::redis_url;

/// A Redis key prefix of its own, so tests sharing the server do not share counters.
pub fn prefix() -> String {
    format!("test-{}:", aicarpool::gateway::keys::generate())
}

/// The default gateway, its counters in memory or (with `redis`) in the test Redis.
pub async fn start(redis: bool) -> Option<Gateway> {
    if redis {
        let url = redis_url()?;
        let p = prefix();
        Some(gateway::start_on(move |c| c.gateway.redis_prefix = p, Some(&url), None).await)
    } else {
        Some(gateway::start().await)
    }
}

pub fn chat(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": text}]})
}

/// Makes the limit `rule` in the gateway's group; returns its id.
pub async fn limit(gw: &Gateway, rule: Value) -> i64 {
    let (status, limit) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/limits", gw.group_id),
            Some(rule),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    limit["id"].as_i64().unwrap()
}

/// A group-scope limit.
pub async fn group_limit(gw: &Gateway, metric: &str, window: &str, cap: i64) -> i64 {
    limit(
        gw,
        json!({"scope": "group", "metric": metric, "window": window, "cap": cap}),
    )
    .await
}

/// `used_raw` of each limit, by id, as `base`'s node shows it.
pub async fn used(gw: &Gateway, base: &str) -> Vec<(i64, i64)> {
    let limits: Value = gw
        .http
        .get(format!("{base}/api/groups/{}/limits", gw.group_id))
        .bearer_auth(&gw.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out: Vec<(i64, i64)> = limits
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_i64().unwrap(), l["used_raw"].as_i64().unwrap()))
        .collect();
    out.sort_unstable();
    out
}
