//! What an upstream says in a 5xx (its URL, its host, its key) never reaches the caller, and
//! what it claims in its usage never reaches the books unchecked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockRoute};

fn chat_body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn an_upstream_5xx_reaches_the_caller_without_its_text_url_host_or_key() {
    let gw = gateway::start_with(|c| c.gateway.circuit_failures = 1000).await;
    let base = gw.mock.openai_base_url();
    let host = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let secret = format!(
        "internal error at {base}/chat/completions (backend {host}, key {})",
        gw.mock.api_key()
    );
    for status in [500, 503] {
        gw.mock.set_fault(Fault {
            message: Some(secret.clone()),
            ..Fault::status(status).on(MockRoute::ChatCompletions)
        });
        let res = gw
            .post("/v1/chat/completions", &chat_body())
            .send()
            .await
            .unwrap();
        let code = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert!((502..=504).contains(&code), "{status} -> {code}: {text}");
        for leak in [
            base.as_str(),
            host.as_str(),
            gw.mock.api_key(),
            "internal error",
        ] {
            assert!(!text.contains(leak), "{leak:?} leaked: {text}");
        }
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().len() > 10,
            "{text}"
        );
    }
    gw.mock.clear_faults();
}

#[tokio::test]
async fn absurd_token_counts_from_an_upstream_are_capped_and_the_books_stay_readable() {
    let gw = gateway::start().await;
    let huge = "9223372036854775807";
    let raw = format!(
        "{{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\
         \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"hi\"}},\"finish_reason\":\"stop\"}}],\
         \"usage\":{{\"prompt_tokens\":{huge},\"completion_tokens\":{huge},\"total_tokens\":{huge}}}}}"
    );
    for _ in 0..3 {
        gw.mock.set_fault(
            Fault::raw_body(raw.clone())
                .on(MockRoute::ChatCompletions)
                .times(1),
        );
        let res = gw
            .post("/v1/chat/completions", &chat_body())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let cap = i64::try_from(aicarpool::gateway::usage::MAX_TOKENS).unwrap();
    let rows = gw.usage(3).await;
    for row in &rows {
        assert_eq!(row.input_tokens, cap);
        assert_eq!(row.output_tokens, cap);
    }
    let (status, usage) = gw
        .api(
            "GET",
            &format!("/api/usage?group_id={}&by=member", gw.group_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{usage}");
    let text = usage.to_string();
    assert!(text.contains(&(3 * cap).to_string()), "{text}");
    // The member can still be served: nothing overflowed into a locked budget.
    gw.chat_ok(&gw.key.clone(), "gpt-4o-mini").await;
}
