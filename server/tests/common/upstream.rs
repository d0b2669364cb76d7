//! Calling the mock provider with the gateway's upstream client, for the client tests.

use std::time::Duration;

use aicarpool::gateway::client;
use serde_json::{Value, json};
use server::mock_upstream::{MockOptions, MockUpstream};

/// A mock provider with default options.
pub async fn mock() -> MockUpstream {
    MockUpstream::start(MockOptions::default()).await.unwrap()
}

/// A chat body with one user message.
pub fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// A chat body with a system prompt and one user message (what the proxy tests translate).
pub fn brief_chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text},
    ]})
}

/// A Messages body with a system prompt, one user message and a 100-token cap.
pub fn brief_messages(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 100, "system": "be brief",
           "messages": [{"role": "user", "content": text}]})
}

/// `POST {base}/chat/completions` with the mock's key.
pub fn chat_request(base: &str, text: &str) -> http::Request<bytes::Bytes> {
    http::Request::post(format!("{base}/chat/completions"))
        .header("authorization", "Bearer mock-key")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(chat("gpt-4o-mini", text).to_string()))
        .unwrap()
}

/// Sends [`chat_request`] through `client`.
pub async fn send_chat(
    client: &client::Client,
    base: &str,
    text: &str,
) -> Result<client::Response, client::Error> {
    client
        .send(chat_request(base, text), Duration::from_secs(20))
        .await
}

/// Asserts the mock's answer to `text`.
pub async fn assert_replied(res: client::Response, text: &str) {
    assert_eq!(res.status(), 200);
    let body: Value =
        serde_json::from_slice(&res.bytes(usize::MAX).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        format!("mock reply: {text}")
    );
}
