//! Support of the routing tests: a gateway tuned for them (3 failures open a circuit for 1 s,
//! short deadlines), in memory or with its counters in Redis, request storms and what each
//! mock served.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use server::mock_upstream::MockUpstream;

use super::gateway::{self, Gateway};

pub const MODEL: &str = "route-model";

pub fn body(text: &str) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}]})
}

/// The test server's URL; the Redis / MariaDB variants fail, not skip, without it.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("AICARPOOL_TEST_REDIS_URL").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "AICARPOOL_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts Redis"
    );
    Some(url)
}

pub async fn start(redis: bool) -> Option<Gateway> {
    start_tuned(redis, |_| {}).await
}

/// [`start`] with settings changed after the routing tests' own.
pub async fn start_tuned(
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
pub async fn storm(gw: &Gateway, n: usize, concurrency: usize) -> usize {
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

pub fn served(mocks: &[(MockUpstream, i64)]) -> Vec<u64> {
    mocks.iter().map(|(m, _)| m.stats().total).collect()
}
