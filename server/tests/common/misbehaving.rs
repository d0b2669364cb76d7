//! A gateway and request bodies for the tests of upstreams that misbehave: garbage answers
//! (`upstream_garbage.rs`) and answers that say too little (`upstream_silence.rs`).

use serde_json::{Value, json};

use super::gateway::{self, Gateway};

/// A gateway whose accounts never trip their circuit, so one test can fail them repeatedly.
pub async fn start() -> Gateway {
    gateway::start_with(|c| c.gateway.circuit_failures = 1000).await
}

/// A chat body (usage asked for when streamed).
pub fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "hi"}]})
}

/// A Messages body with a 50-token cap.
pub fn messages(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 50,
           "messages": [{"role": "user", "content": "hi"}]})
}

/// A Responses body.
pub fn responses(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "input": "hi"})
}
