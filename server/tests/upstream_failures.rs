//! Upstream failures as the caller sees them: failed over to the next account where another
//! can answer, otherwise a 502 / 503 / 504 in the caller's dialect without the provider's
//! secrets; an account out of credit is passed by, a request too long for the model is the
//! caller's fault (a 400, no failover).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway;
use common::upstream::{brief_chat as chat, brief_messages as messages};
use serde_json::{Value, json};
use server::mock_upstream::Fault;
#[tokio::test]
async fn upstream_failures_fail_over_or_answer_without_leaking_secrets() {
    let gw = gateway::start().await;
    // A second account for the same model: a 500 on the first moves on to the other.
    let second = gw.add_account(json!({"name": "openai-backup", "provider": "openai",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(), "models": ["gpt-4o-mini"]})).await;
    gw.mock.set_fault(Fault::status(500).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    assert!(second > 0);

    // The provider refuses the key on every account: a 502 that names no secret.
    gw.mock.set_fault(Fault::status(401).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let text = res.text().await.unwrap();
    assert!(!text.contains("mock-key"), "{text}");
    // The account carries the error for its managers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, account) = gw
        .api("GET", &format!("/api/accounts/{}", gw.openai_account), None)
        .await;
    assert!(
        account["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("401"),
        "{account}"
    );

    // Both accounts are out now, until someone fixes them (saving clears the flag).
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let text = res.text().await.unwrap();
    assert!(text.contains("refused its key"), "{text}");
    for id in [gw.openai_account, second] {
        let (status, _) = gw
            .api(
                "PUT",
                &format!("/api/accounts/{id}"),
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, 200);
    }

    // Rate-limited everywhere: 429 with the provider's retry-after.
    gw.mock
        .set_fault(Fault::status(429).retry_after(7).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");

    // Both now cool down until the provider's reset time: refused without a request.
    let before = gw.mock.stats().total;
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(gw.mock.stats().total, before);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=7).contains(&retry), "{retry}");
    for id in [gw.openai_account, second] {
        gw.state.gateway().counters().clear_health(id).await;
    }

    // A bad request upstream is the client's problem: no failover, the message passes on.
    gw.mock.set_fault(Fault::status(400).times(2));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(gw.mock.faults().len(), 1, "only one attempt was made");
    gw.mock.clear_faults();

    // Resets move on too; with nothing left, 502 in the caller's dialect.
    gw.mock.set_fault(Fault::reset().times(2));
    let res = gw
        .post("/v1/messages", &messages("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn out_of_credit_fails_over_and_a_long_query_is_the_callers_fault() {
    let gw = gateway::start().await;
    let second = gw.add_account(json!({"name": "openai-backup", "provider": "openai",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(), "models": ["gpt-4o-mini"]})).await;
    // 402 (DeepSeek's and OpenRouter's "insufficient balance"): the account's problem, so
    // the next account serves the request and the first carries the error for its admins.
    gw.mock.set_fault(Fault::status(402).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut errors = Vec::new();
    for id in [gw.openai_account, second] {
        let (_, account) = gw.api("GET", &format!("/api/accounts/{id}"), None).await;
        errors.push(
            account["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(errors.iter().any(|e| e.contains("402")), "{errors:?}");

    // A query string past the cap is refused before the provider: a 400 naming it, each time,
    // and the account (whose URL it would have broken) is not blamed.
    let long = format!("{}/v1/messages?x={}", gw.base, "a".repeat(10_000));
    for _ in 0..6 {
        let res = gw
            .http
            .post(&long)
            .bearer_auth(&gw.key)
            .json(&messages("claude-sonnet-4-5", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["type"], "error", "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("query string"),
            "{err}"
        );
    }
    let res = gw
        .post("/v1/messages", &messages("claude-sonnet-4-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, account) = gw
        .api(
            "GET",
            &format!("/api/accounts/{}", gw.anthropic_account),
            None,
        )
        .await;
    assert!(account["last_error"].is_null(), "{account}");
}
