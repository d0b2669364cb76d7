//! Conversations the Responses API keeps upstream: a request with `previous_response_id`
//! continues a response that one OpenAI account stored, and only that account can read it.
//! Each stored response an account serves is pinned to it (in the counters store, so every
//! node shares the pins when Redis is configured), and a continuation is routed there.
//! Accounts that serve Responses by translation keep nothing, so a continuation never goes to
//! them.

use std::time::Duration;

use serde_json::Value;

use super::error::GatewayError;
use super::upstream::Endpoint;
use crate::counters::CounterStore;
use crate::db::now_ms;

/// How long a pin lasts: OpenAI keeps stored responses for 30 days.
pub const PIN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The response a Responses request continues, if it names one.
pub fn previous(endpoint: Endpoint, body: &Value) -> Option<&str> {
    if endpoint != Endpoint::Responses {
        return None;
    }
    body.get("previous_response_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

/// Whether the answer to this request is stored upstream, so worth a pin: a Responses
/// request without `store: false` (Codex CLI sends `store: false`).
pub fn stored(endpoint: Endpoint, body: &Value) -> bool {
    endpoint == Endpoint::Responses && body.get("store") != Some(&Value::Bool(false))
}

/// The counters key of the pin of `response` in `group`.
pub fn key(group: i64, response: &str) -> String {
    format!("resp:{group}:{response}")
}

/// Pins `response` to `account`: before a whole answer goes out (so a client continuing at
/// once, on any node, finds the pin), at the end of a stream.
pub async fn pin(counters: &CounterStore, group: i64, response: &str, account: i64) {
    counters
        .sticky_set(&key(group, response), account, PIN_TTL, now_ms())
        .await;
}

/// The refusal when no account of `model` can continue a stored response.
pub fn no_account(model: &str) -> GatewayError {
    GatewayError::invalid(
        "previous_response_id",
        format!(
            "`previous_response_id` continues a response stored by an OpenAI account, and the \
             model `{model}` has no OpenAI account in this group to read it; send the whole \
             conversation in `input` instead"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_responses_requests_continue_or_store() {
        let body = json!({"input": "hi", "previous_response_id": "resp_1"});
        assert_eq!(previous(Endpoint::Responses, &body), Some("resp_1"));
        assert_eq!(previous(Endpoint::ChatCompletions, &body), None);
        for odd in [json!(""), json!(null), json!(7)] {
            let body = json!({"input": "hi", "previous_response_id": odd});
            assert_eq!(previous(Endpoint::Responses, &body), None, "{odd}");
        }
        assert!(stored(Endpoint::Responses, &json!({"input": "hi"})));
        assert!(stored(Endpoint::Responses, &json!({"store": true})));
        assert!(!stored(Endpoint::Responses, &json!({"store": false})));
        assert!(!stored(Endpoint::Messages, &json!({})));
        assert_ne!(key(1, "resp_a"), key(2, "resp_a"));
    }
}
