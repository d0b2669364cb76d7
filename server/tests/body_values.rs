//! A large body is held against `MAX_BODY_MEMORY` for what parsing it costs, not only for its
//! bytes: a body of many small JSON values costs hundreds of bytes a value once parsed and
//! translated, so one that would take more than all the room is a 413 naming why, in the
//! caller's dialect, while a body as large made of long text passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use serde_json::{Value, json};

/// `n` user messages of `text` each.
fn many(n: usize, text: &str) -> Vec<Value> {
    (0..n)
        .map(|_| json!({"role": "user", "content": text}))
        .collect()
}

#[tokio::test]
async fn a_body_of_too_many_small_values_is_a_413_and_long_text_passes() {
    let gw = gateway::start_with(|c| {
        c.gateway.max_body_bytes = 8 * 1024 * 1024;
        c.gateway.max_body_memory = 16 * 1024 * 1024;
    })
    .await;
    // 40 000 messages, 1.2 MB: about 120 000 values, some 60 MB once parsed.
    let chat = json!({"model": "gpt-4o-mini", "messages": many(40_000, "hi")});
    let messages =
        json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": many(40_000, "hi")});
    assert!(chat.to_string().len() > 1024 * 1024);
    for (path, body) in [("/v1/chat/completions", chat), ("/v1/messages", messages)] {
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 413, "{path}");
        let err: Value = res.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("about 12000"), "{path}: {message}");
        assert!(message.contains("JSON values"), "{path}: {message}");
        assert!(message.contains("MAX_BODY_MEMORY"), "{path}: {message}");
        if path == "/v1/messages" {
            assert_eq!(err["type"], "error", "{err}");
            assert_eq!(err["error"]["type"], "request_too_large", "{err}");
        } else {
            assert_eq!(err["error"]["code"], "request_too_large", "{err}");
        }
    }
    assert!(gw.mock.requests().is_empty(), "no provider saw them");

    // As large a body in 2 000 long messages: a few thousand values, well within the room.
    let long = "long text ".repeat(70);
    let body = json!({"model": "gpt-4o-mini", "messages": many(2_000, &long)});
    assert!(body.to_string().len() > 1024 * 1024);
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
