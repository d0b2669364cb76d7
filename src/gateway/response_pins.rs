//! Conversations the Responses API keeps upstream: a request with `previous_response_id`
//! continues a response that one OpenAI account stored, and only that account can read it.
//! Each stored response an account serves is pinned to it (in the counters store, so every
//! node shares the pins when Redis is configured), and a continuation is routed there.
//! Accounts that serve Responses by translation keep nothing, so a continuation never goes to
//! them. The stored response itself (the OpenAI SDK's `responses.retrieve`, `delete`,
//! `inputItems.list`, `cancel`) is asked of the same account.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use super::attempt::MAX_ANSWER_BYTES;
use super::catalog::{Account, Candidate};
use super::client;
use super::engine::{Gateway, JSON, ProxyBody, ProxyResponse, database_unavailable};
use super::error::{Dialect, ErrorKind, GatewayError};
use super::keys::MemberKey;
use super::route::check_query;
use super::upstream::{self, Endpoint, Wire};
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

/// Keeps the candidates that can read what a Responses request names upstream. A previous
/// response continues only on accounts that speak Responses natively (with none, the
/// refusal): one serving the model by translation keeps nothing. A stored `conversation` or
/// `prompt` goes there too while there are any; a translating account refuses it, so with only
/// those the client hears why from the translation.
pub fn keep_readers(
    endpoint: Endpoint,
    body: &Value,
    model: &str,
    candidates: &mut Vec<Candidate>,
) -> Result<(), GatewayError> {
    let native =
        |c: &Candidate| endpoint.upstream_wire(c.account.provider) == Some(Wire::Responses);
    if previous(endpoint, body).is_some() {
        candidates.retain(native);
        if candidates.is_empty() {
            return Err(no_account(model));
        }
    } else if endpoint == Endpoint::Responses
        && ["conversation", "prompt"]
            .iter()
            .any(|field| body.get(*field).is_some_and(|v| !v.is_null()))
        && candidates.iter().any(native)
    {
        candidates.retain(native);
    }
    Ok(())
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

/// Pins `response` to `account` before a whole answer goes out, so a client continuing at
/// once, on any node, finds the pin. A stream's response is pinned as soon as the upstream
/// names it (`Gateway::pin_response`).
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

/// What a request about a stored response asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredAction {
    /// `GET /v1/responses/{id}`.
    Retrieve,
    /// `DELETE /v1/responses/{id}`.
    Delete,
    /// `GET /v1/responses/{id}/input_items`.
    InputItems,
    /// `POST /v1/responses/{id}/cancel`.
    Cancel,
}

impl StoredAction {
    /// The action of `method` on the path after the id (`""`, `input_items`, `cancel`).
    pub fn of(method: &http::Method, tail: &str) -> Option<StoredAction> {
        match (method.as_str(), tail) {
            ("GET", "") => Some(StoredAction::Retrieve),
            ("DELETE", "") => Some(StoredAction::Delete),
            ("GET", "input_items") => Some(StoredAction::InputItems),
            ("POST", "cancel") => Some(StoredAction::Cancel),
            _ => None,
        }
    }

    fn method(self) -> http::Method {
        match self {
            StoredAction::Retrieve | StoredAction::InputItems => http::Method::GET,
            StoredAction::Delete => http::Method::DELETE,
            StoredAction::Cancel => http::Method::POST,
        }
    }

    fn tail(self) -> &'static str {
        match self {
            StoredAction::Retrieve | StoredAction::Delete => "",
            StoredAction::InputItems => "/input_items",
            StoredAction::Cancel => "/cancel",
        }
    }
}

/// A request about a response the account stored (`path` is `/responses/{id}` and what
/// follows it): no body, the account's credentials, the client's `openai-beta`, its query.
fn stored_response_request(
    account: &Account,
    method: http::Method,
    path: &str,
    query: Option<&str>,
    client_headers: &HeaderMap,
) -> Result<http::Request<Bytes>, client::Error> {
    let mut url = format!("{}{path}", account.base_url);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(query);
    }
    let mut req = http::Request::new(Bytes::new());
    *req.method_mut() = method;
    *req.uri_mut() = upstream::parse_uri(&url)?;
    let headers = req.headers_mut();
    upstream::credentials(account, headers)?;
    if let Some(beta) = client_headers.get("openai-beta") {
        headers.insert("openai-beta", beta.clone());
    }
    Ok(req)
}

/// A response id as providers make them (`resp_…`): letters, digits, `_` and `-`.
fn is_response_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn not_found(id: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::NotFound,
        "response_not_found",
        format!(
            "no response `{id}` is stored for this group: only responses served through this \
             gateway by an OpenAI account, without `store: false`, in the last 30 days (or \
             since they were deleted) can be asked for"
        ),
    )
}

impl Gateway {
    /// A request about the stored response `id`, sent to the account that stored it (its
    /// pin) and answered as that account answers; it costs no tokens, so no usage is
    /// recorded. Any key of the group that stored it may ask, as any key of an OpenAI
    /// project may.
    pub async fn stored_response(
        &self,
        member: &MemberKey,
        action: StoredAction,
        id: &str,
        query: Option<&str>,
        client_headers: &HeaderMap,
    ) -> ProxyResponse {
        match self
            .ask_stored(member, action, id, query, client_headers)
            .await
        {
            Ok(answer) => answer,
            Err(err) => ProxyResponse::error(&err, Dialect::OpenAi),
        }
    }

    async fn ask_stored(
        &self,
        member: &MemberKey,
        action: StoredAction,
        id: &str,
        query: Option<&str>,
        client_headers: &HeaderMap,
    ) -> Result<ProxyResponse, GatewayError> {
        if !is_response_id(id) {
            let shown: String = id.chars().take(80).collect();
            return Err(GatewayError::invalid(
                "response_id",
                format!(
                    "`{shown}` is not a response id: they are letters, digits, `_` and `-` \
                     (resp_…), as `POST /v1/responses` returned them"
                ),
            ));
        }
        check_query(query)?;
        let catalog = self.catalog().await.map_err(|e| database_unavailable(&e))?;
        let group = member.group_id;
        let holder = self
            .counters
            .sticky_get(&key(group, id), now_ms())
            .await
            .ok_or_else(|| not_found(id))?;
        let account = catalog
            .group(group)
            .and_then(|g| {
                g.bindings
                    .iter()
                    .find(|b| b.account.id == holder && b.account.enabled)
            })
            .map(|b| b.account.clone())
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::NotFound,
                    "response_not_found",
                    format!(
                        "response `{id}` is stored by an account this group no longer uses \
                         (unbound or disabled); ask the group's admins"
                    ),
                )
            })?;
        let path = format!("/responses/{id}{}", action.tail());
        let request =
            stored_response_request(&account, action.method(), &path, query, client_headers)
                .map_err(|e| upstream::transport_failure(&e).error)?;
        let response = account
            .client
            .send(request, self.config().total_timeout)
            .await
            .map_err(|e| upstream::transport_failure(&e).error)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let headers = response.headers().clone();
            let body = response.bytes_capped(64 << 10).await;
            let failure = upstream::status_failure(&account, status, &headers, &body);
            return Err(if status == 404 {
                not_found(id)
            } else {
                failure.error
            });
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static(JSON));
        let body = response
            .bytes(MAX_ANSWER_BYTES)
            .await
            .map_err(|e| upstream::transport_failure(&e).error)?
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::BadGateway,
                    "upstream_too_large",
                    format!(
                        "the stored response is over {} MiB; the gateway passes no more on",
                        MAX_ANSWER_BYTES >> 20
                    ),
                )
            })?;
        Ok(ProxyResponse {
            status,
            headers: vec![(header::CONTENT_TYPE, content_type)],
            body: ProxyBody::Json(body),
        })
    }
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

    #[test]
    fn stored_actions_and_ids() {
        use http::Method;
        for (method, tail, action) in [
            (Method::GET, "", StoredAction::Retrieve),
            (Method::DELETE, "", StoredAction::Delete),
            (Method::GET, "input_items", StoredAction::InputItems),
            (Method::POST, "cancel", StoredAction::Cancel),
        ] {
            assert_eq!(
                StoredAction::of(&method, tail),
                Some(action),
                "{method} {tail}"
            );
            assert_eq!(
                (action.method(), action.tail().trim_start_matches('/')),
                (method, tail)
            );
        }
        assert_eq!(StoredAction::of(&Method::POST, ""), None);
        assert_eq!(StoredAction::of(&Method::GET, "cancel"), None);
        assert_eq!(StoredAction::of(&Method::GET, "input_items/x"), None);
        assert!(is_response_id("resp_67ccd2bed1ec8190b14f964abc054267"));
        for bad in ["", "resp/1", "resp 1", "resp%2F1", "ré", &"a".repeat(257)] {
            assert!(!is_response_id(bad), "{bad}");
        }
    }
}
