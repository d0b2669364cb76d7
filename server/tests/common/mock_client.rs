//! Requests to the mock upstream as its clients send them, for the mock's own tests.

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use server::mock_upstream::MockUpstream;

use super::gateway::sse_events;

/// A request to the mock in OpenAI's dialect.
pub fn openai(mock: &MockUpstream, path: &str, body: &Value) -> RequestBuilder {
    Client::new()
        .post(format!("{}{path}", mock.openai_base_url()))
        .bearer_auth(mock.api_key())
        .json(body)
}

/// A request to the mock in Anthropic's dialect.
pub fn anthropic(mock: &MockUpstream, path: &str, body: &Value) -> RequestBuilder {
    Client::new()
        .post(format!("{}{path}", mock.anthropic_base_url()))
        .header("x-api-key", mock.api_key())
        .header("anthropic-version", "2023-06-01")
        .json(body)
}

/// A short chat completion request.
pub fn chat(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text},
    ]})
}

/// A short Anthropic messages request.
pub fn claude(text: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "be brief",
           "messages": [{"role": "user", "content": text}]})
}

/// `body` asking for a stream.
pub fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

/// The JSON data of each server-sent event (`[DONE]` left out).
pub fn json_events(text: &str) -> Vec<Value> {
    sse_events(text)
        .into_iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| serde_json::from_str(&data).unwrap())
        .collect()
}

/// The body of a 200 answer.
pub async fn text(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}
