//! The proxy loop: authenticate the member key, parse and check the body, resolve the model
//! to candidate accounts, then try them in order, translating to each account's wire format.
//! A retryable failure before the first byte moves on to the next candidate; once the first
//! byte is committed to the client the answer is relayed (see `relay`). Every request ends in
//! exactly one usage record.

use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use serde_json::{Value, json};

use super::catalog::{Candidate, Catalog};
use super::error::{Dialect, ErrorKind, GatewayError};
use super::keys::{KeyCache, MemberKey};
use super::recorder::Recorder;
use super::relay::{self, UsageGuard};
use super::translate;
use super::upstream::{self, AttemptFailure, Endpoint, Wire};
use super::usage::Usage;
use crate::config::GatewayConfig;
use crate::db::usage::UsageRow;
use crate::db::{Db, DbError, accounts, now_ms};
use crate::secret::Secret;
use crate::vault::Vault;

/// Output cap sent to Anthropic when an OpenAI-dialect client named none (Anthropic
/// requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// At most this many accounts are tried for one request.
pub const MAX_ATTEMPTS: usize = 3;
/// Upstream error bodies are read up to this size.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// A proxied request, as the server hands it over.
#[derive(Debug)]
pub struct ProxyRequest {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The client's headers (Anthropic version and beta flags are passed on).
    pub headers: HeaderMap,
    /// The query string.
    pub query: Option<String>,
    /// The body.
    pub body: Bytes,
    /// The request id.
    pub request_id: String,
}

/// A streamed body.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The body of a proxy answer.
pub enum ProxyBody {
    /// A JSON document.
    Json(Bytes),
    /// Server-sent events, relayed as they come.
    Stream(BodyStream),
}

impl std::fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(b) => write!(f, "Json({} bytes)", b.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// A proxy answer.
#[derive(Debug)]
pub struct ProxyResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (content type included).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: ProxyBody,
}

impl ProxyResponse {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> ProxyResponse {
        ProxyResponse {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: ProxyBody::Json(Bytes::from(value.to_string())),
        }
    }

    /// An error in the caller's dialect.
    pub fn error(err: &GatewayError, dialect: Dialect) -> ProxyResponse {
        let mut response = ProxyResponse::json(err.status(), &err.body(dialect));
        if let Some(secs) = err.retry_after_secs {
            response.headers.push(("retry-after", secs.to_string()));
        }
        response
    }
}

/// The gateway: key cache, routing catalog, usage writer.
#[derive(Debug)]
pub struct Gateway {
    db: Db,
    vault: Vault,
    config: GatewayConfig,
    keys: KeyCache,
    catalog: RwLock<Option<Arc<Catalog>>>,
    reloading: tokio::sync::Mutex<()>,
    recorder: Arc<Recorder>,
}

impl Gateway {
    /// Builds the gateway and starts its usage writer (needs a tokio runtime). The catalog
    /// loads on first use.
    pub fn new(db: Db, master_key: &Secret<String>, config: GatewayConfig) -> Gateway {
        Gateway {
            recorder: Arc::new(Recorder::start(db.clone())),
            db,
            vault: Vault::new(master_key),
            config,
            keys: KeyCache::default(),
            catalog: RwLock::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The vault that seals upstream credentials.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Drops a key from the cache (after a revocation on this node).
    pub fn forget_key(&self, hash_hex: &str) {
        self.keys.forget(hash_hex);
    }

    /// The current catalog, loading it the first time.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, DbError> {
        if let Some(catalog) = self.current() {
            return Ok(catalog);
        }
        self.reload().await
    }

    fn current(&self) -> Option<Arc<Catalog>> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Rebuilds the catalog from the database (after a change to accounts or bindings).
    pub async fn reload(&self) -> Result<Arc<Catalog>, DbError> {
        let _one_at_a_time = self.reloading.lock().await;
        let previous = self.current().unwrap_or_default();
        let fresh = Arc::new(Catalog::load(&self.db, &self.vault, &previous).await?);
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Reloads when another node changed accounts or bindings (a cheap fingerprint query).
    pub async fn refresh_if_changed(&self) -> Result<(), DbError> {
        let fingerprint = accounts::config_fingerprint(&self.db).await?;
        if self.current().is_none_or(|c| c.fingerprint != fingerprint) {
            self.reload().await?;
        }
        Ok(())
    }

    /// Writes every queued usage record; call after the server has drained.
    pub async fn close(&self) {
        self.recorder.close().await;
    }

    /// Checks the presented key.
    pub async fn authenticate(&self, key: Option<&str>) -> Result<Arc<MemberKey>, GatewayError> {
        let unauthenticated = |message: &str| {
            GatewayError::new(ErrorKind::Authentication, "unauthenticated", message)
        };
        let key = key.map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| {
            unauthenticated(
                "missing API key: send your AiCarpool member key as `Authorization: Bearer acp_…` or `x-api-key: acp_…`",
            )
        })?;
        let found = self.keys.lookup(&self.db, key).await.map_err(|e| {
            tracing::error!("key lookup failed: {e}");
            GatewayError::new(
                ErrorKind::Unavailable,
                "database_unavailable",
                "the gateway cannot check keys right now; retry shortly",
            )
            .retry_after(1)
        })?;
        let member = found.ok_or_else(|| {
            unauthenticated(
                "invalid API key: this is not an AiCarpool member key (acp_…) of this gateway",
            )
        })?;
        member.usable(now_ms()).map_err(unauthenticated)?;
        Ok(member)
    }

    /// `GET /v1/models`: what this key may use, in a shape both SDKs read.
    pub async fn models(&self, member: &MemberKey) -> ProxyResponse {
        let catalog = match self.catalog().await {
            Ok(c) => c,
            Err(e) => return unavailable(&e, Dialect::OpenAi),
        };
        let names: Vec<String> = catalog
            .models(member.group_id)
            .into_iter()
            .filter(|m| member.allows(m))
            .collect();
        let data: Vec<Value> = names
            .iter()
            .map(|id| {
                json!({
                    "id": id, "object": "model", "created": 0, "owned_by": "aicarpool",
                    "type": "model", "display_name": id, "created_at": "1970-01-01T00:00:00Z",
                })
            })
            .collect();
        ProxyResponse::json(
            200,
            &json!({
                "object": "list",
                "data": data,
                "has_more": false,
                "first_id": names.first(),
                "last_id": names.last(),
            }),
        )
    }

    /// Serves one proxied request.
    pub async fn handle(&self, member: Arc<MemberKey>, req: ProxyRequest) -> ProxyResponse {
        let started = Instant::now();
        let dialect = req.endpoint.dialect();
        let mut guard = UsageGuard::new(
            self.recorder.clone(),
            UsageRow {
                created_at: now_ms(),
                request_id: req.request_id.clone(),
                key_id: member.id,
                user_id: member.user_id,
                group_id: member.group_id,
                endpoint: req.endpoint.as_str().to_owned(),
                ..UsageRow::default()
            },
            started,
        );
        match self.serve(&member, &req, &mut guard).await {
            Ok(response) => response,
            Err(err) => {
                guard.fail(&err);
                ProxyResponse::error(&err, dialect)
            }
        }
    }

    async fn serve(
        &self,
        member: &MemberKey,
        req: &ProxyRequest,
        guard: &mut UsageGuard,
    ) -> Result<ProxyResponse, GatewayError> {
        let body = parse_body(req.endpoint, &req.body)?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        guard.row_mut().model_requested = model.clone();
        let stream = req.endpoint != Endpoint::CountTokens
            && body.get("stream").and_then(Value::as_bool) == Some(true);
        guard.row_mut().streamed = stream;

        let catalog = self.catalog().await.map_err(|e| database_unavailable(&e))?;
        let available = || {
            let names: Vec<String> = catalog
                .models(member.group_id)
                .into_iter()
                .filter(|m| member.allows(m))
                .collect();
            if names.is_empty() {
                "this key's group has no models yet: a group admin binds accounts on the group page"
                    .to_owned()
            } else {
                format!("models this key can use: {}", names.join(", "))
            }
        };
        if !member.allows(&model) {
            return Err(GatewayError::new(
                ErrorKind::NotFound,
                "model_not_allowed",
                format!(
                    "the model `{model}` is not allowed for this key; {}",
                    available()
                ),
            ));
        }
        let candidates = catalog.candidates(member.group_id, &model);
        if candidates.is_empty() {
            return Err(GatewayError::new(
                ErrorKind::NotFound,
                "model_not_found",
                format!("the model `{model}` is not available; {}", available()),
            ));
        }
        if req.endpoint == Endpoint::CountTokens
            && !candidates
                .iter()
                .any(|c| req.endpoint.upstream_wire(c.account.provider).is_some())
        {
            let estimate = estimate_tokens(&body);
            guard.finish_ok(200, Usage::default(), None);
            return Ok(ProxyResponse::json(200, &json!({"input_tokens": estimate})));
        }

        let mut last: Option<AttemptFailure> = None;
        let mut attempts = 0;
        for candidate in candidates
            .iter()
            .filter(|c| req.endpoint.upstream_wire(c.account.provider).is_some())
        {
            if attempts == MAX_ATTEMPTS {
                break;
            }
            attempts += 1;
            guard.attempt(candidate);
            match self.attempt(req, &body, candidate, stream, guard).await {
                Ok(response) => {
                    let mut response = response;
                    response
                        .headers
                        .push(("x-aicarpool-account-id", candidate.account.id.to_string()));
                    if candidate
                        .account
                        .name
                        .bytes()
                        .all(|b| (0x20..0x7f).contains(&b))
                    {
                        response
                            .headers
                            .push(("x-aicarpool-account", candidate.account.name.clone()));
                    }
                    response
                        .headers
                        .push(("x-aicarpool-attempts", attempts.to_string()));
                    return Ok(response);
                }
                Err(failure) => {
                    tracing::warn!(
                        account = candidate.account.id,
                        status = failure.status,
                        class = failure.error.class,
                        "upstream attempt failed: {}",
                        failure.error.message
                    );
                    if failure.account_fault
                        || failure.status.is_none()
                        || failure.status.is_some_and(|s| s >= 500)
                    {
                        self.flag_account(candidate.account.id, &failure);
                    }
                    let retryable = failure.retryable;
                    last = Some(failure);
                    if !retryable {
                        break;
                    }
                }
            }
        }
        Err(last.map_or_else(
            || {
                GatewayError::new(
                    ErrorKind::Unavailable,
                    "no_account",
                    "no account can serve this request right now",
                )
            },
            |f| f.error,
        ))
    }

    /// One attempt at one account.
    async fn attempt(
        &self,
        req: &ProxyRequest,
        client_body: &Value,
        candidate: &Candidate,
        stream: bool,
        guard: &mut UsageGuard,
    ) -> Result<ProxyResponse, AttemptFailure> {
        let account = &candidate.account;
        let client_wire = req.endpoint.wire();
        let Some(wire) = req.endpoint.upstream_wire(account.provider) else {
            return Err(AttemptFailure {
                retryable: true,
                error: GatewayError::new(
                    ErrorKind::Unavailable,
                    "no_account",
                    "no account can serve this endpoint",
                ),
                status: None,
                account_fault: false,
            });
        };
        let upstream_body = translate_request(
            client_body,
            client_wire,
            wire,
            &candidate.upstream_model,
            stream,
        )
        .map_err(|e| AttemptFailure {
            retryable: false,
            error: GatewayError::invalid(e.param.clone(), e.message.clone()),
            status: None,
            account_fault: false,
        })?;
        let bytes = serde_json::to_vec(&upstream_body).unwrap_or_default();
        let request = upstream::request(
            account,
            wire,
            &req.headers,
            req.query.as_deref(),
            bytes,
            self.config.total_timeout,
        );
        let send = request.send();
        let response = if stream {
            match tokio::time::timeout(self.config.first_byte_timeout, send).await {
                Ok(r) => r,
                Err(_) => return Err(first_byte_timeout()),
            }
        } else {
            send.await
        };
        let response = response.map_err(|e| upstream::transport_failure(&e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = response.headers().clone();
            let body = read_capped(response, ERROR_BODY_CAP).await;
            return Err(upstream::status_failure(account, status, &headers, &body));
        }
        guard.row_mut().model_served = Some(candidate.upstream_model.clone());
        if stream {
            let mut upstream_stream = response.bytes_stream();
            let first =
                match tokio::time::timeout(self.config.first_byte_timeout, upstream_stream.next())
                    .await
                {
                    Err(_) => return Err(first_byte_timeout()),
                    Ok(None) => {
                        return Err(AttemptFailure {
                            retryable: true,
                            error: GatewayError::new(
                                ErrorKind::BadGateway,
                                "upstream_empty",
                                "the upstream closed the stream without sending anything",
                            ),
                            status: Some(status),
                            account_fault: false,
                        });
                    }
                    Ok(Some(Err(e))) => return Err(upstream::transport_failure(&e)),
                    Ok(Some(Ok(first))) => first,
                };
            let include_usage = client_body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                == Some(true);
            let relay = relay::Relay::new(
                relay::Conversion::new(
                    wire,
                    client_wire,
                    include_usage,
                    client_body,
                    &candidate.upstream_model,
                ),
                first,
                upstream_stream.boxed(),
                guard.take(),
            );
            return Ok(ProxyResponse {
                status: 200,
                headers: vec![
                    (
                        "content-type",
                        "text/event-stream; charset=utf-8".to_owned(),
                    ),
                    ("cache-control", "no-cache".to_owned()),
                    ("x-accel-buffering", "no".to_owned()),
                ],
                body: ProxyBody::Stream(relay.into_stream()),
            });
        }
        let raw = match response.bytes().await {
            Ok(raw) => raw,
            Err(e) => return Err(upstream::transport_failure(&e)),
        };
        let value: Value = serde_json::from_slice(&raw).map_err(|_| AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_bad_json",
                "the upstream answered with something that is not JSON",
            ),
            status: Some(status),
            account_fault: false,
        })?;
        let usage = match wire {
            Wire::Chat => Usage::from_chat(&value),
            Wire::Messages => Usage::from_messages(&value),
            Wire::Responses => Usage::from_responses(&value),
            Wire::CountTokens => None,
        }
        .unwrap_or_default();
        let body = if wire == client_wire {
            raw
        } else {
            Bytes::from(
                translate_response(
                    &value,
                    wire,
                    client_wire,
                    client_body,
                    &candidate.upstream_model,
                )
                .to_string(),
            )
        };
        guard.finish_ok(200, usage, None);
        Ok(ProxyResponse {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            body: ProxyBody::Json(body),
        })
    }

    /// Notes an account failure for its managers (off the request path).
    fn flag_account(&self, account_id: i64, failure: &AttemptFailure) {
        let db = self.db.clone();
        let message = match failure.status {
            Some(status) => format!("HTTP {status}: {}", failure.error.message),
            None => failure.error.message.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) =
                accounts::record_health(&db, account_id, Some(&message), None, now_ms()).await
            {
                tracing::warn!(
                    account = account_id,
                    "could not record the account's error: {e}"
                );
            }
        });
    }
}

fn first_byte_timeout() -> AttemptFailure {
    AttemptFailure {
        retryable: true,
        error: GatewayError::new(
            ErrorKind::Timeout,
            "upstream_first_byte_timeout",
            "the upstream sent nothing before the first-byte deadline",
        ),
        status: None,
        account_fault: false,
    }
}

fn database_unavailable(e: &DbError) -> GatewayError {
    tracing::error!("catalog unavailable: {e}");
    GatewayError::new(
        ErrorKind::Unavailable,
        "database_unavailable",
        "the gateway cannot read its configuration right now; retry shortly",
    )
    .retry_after(1)
}

fn unavailable(e: &DbError, dialect: Dialect) -> ProxyResponse {
    ProxyResponse::error(&database_unavailable(e), dialect)
}

/// Reads at most `cap` bytes of a body.
async fn read_capped(response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    out
}

/// Parses and checks the body: JSON object, `model`, and the fields each endpoint needs.
pub fn parse_body(endpoint: Endpoint, raw: &[u8]) -> Result<Value, GatewayError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            "body",
            "the request body is empty; send a JSON object",
        ));
    }
    let body: Value = serde_json::from_slice(raw).map_err(|e| {
        GatewayError::invalid("body", format!("the request body is not valid JSON: {e}"))
    })?;
    if !body.is_object() {
        return Err(GatewayError::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => {}
        Some(_) => {
            return Err(GatewayError::invalid(
                "model",
                "`model` must be a non-empty string",
            ));
        }
        None => {
            return Err(GatewayError::invalid(
                "model",
                "missing required field `model`",
            ));
        }
    }
    if let Some(stream) = body.get("stream")
        && !stream.is_boolean()
        && !stream.is_null()
    {
        return Err(GatewayError::invalid(
            "stream",
            "`stream` must be true or false",
        ));
    }
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::CountTokens => {
            match body.get("messages") {
                Some(Value::Array(list)) if !list.is_empty() => {}
                Some(Value::Array(_)) => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "`messages` must hold at least one message",
                    ));
                }
                Some(_) => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "`messages` must be an array of messages",
                    ));
                }
                None => {
                    return Err(GatewayError::invalid(
                        "messages",
                        "missing required field `messages`",
                    ));
                }
            }
            if endpoint == Endpoint::Messages {
                match body.get("max_tokens") {
                    Some(v) if v.as_u64().is_some_and(|n| n > 0) => {}
                    Some(_) => {
                        return Err(GatewayError::invalid(
                            "max_tokens",
                            "`max_tokens` must be a positive integer",
                        ));
                    }
                    None => {
                        return Err(GatewayError::invalid(
                            "max_tokens",
                            "missing required field `max_tokens`",
                        ));
                    }
                }
            }
        }
        Endpoint::Responses => {
            if body.get("input").is_none() {
                return Err(GatewayError::invalid(
                    "input",
                    "missing required field `input`",
                ));
            }
        }
    }
    Ok(body)
}

/// The upstream body for `upstream` from the client's body in `client` format.
pub fn translate_request(
    body: &Value,
    client: Wire,
    upstream: Wire,
    model: &str,
    stream: bool,
) -> Result<Value, translate::TranslateError> {
    let mut out = match (client, upstream) {
        (a, b) if a == b => body.clone(),
        (Wire::Chat, Wire::Messages) => {
            translate::chat_to_messages_request(body, DEFAULT_MAX_TOKENS)?
        }
        (Wire::Messages, Wire::Chat) => translate::messages_to_chat_request(body)?,
        (Wire::Responses, Wire::Chat) => translate::responses_to_chat_request(body)?,
        (Wire::Responses, Wire::Messages) => {
            let chat = translate::responses_to_chat_request(body)?;
            translate::chat_to_messages_request(&chat, DEFAULT_MAX_TOKENS)?
        }
        _ => body.clone(),
    };
    if let Some(obj) = out.as_object_mut() {
        obj.insert("model".to_owned(), Value::String(model.to_owned()));
        // Usage must come back on every stream, or the request cannot be billed.
        if stream && upstream == Wire::Chat {
            obj.insert("stream_options".to_owned(), json!({"include_usage": true}));
        }
    }
    Ok(out)
}

/// The client's answer from the upstream's, for a whole (non-streamed) response.
pub fn translate_response(
    value: &Value,
    upstream: Wire,
    client: Wire,
    client_body: &Value,
    model: &str,
) -> Value {
    match (upstream, client) {
        (Wire::Messages, Wire::Chat) => translate::messages_response_to_chat(value, model),
        (Wire::Chat, Wire::Messages) => translate::chat_response_to_messages(value, model),
        (Wire::Chat, Wire::Responses) => translate::chat_response_to_responses(value, client_body),
        (Wire::Messages, Wire::Responses) => {
            let chat = translate::messages_response_to_chat(value, model);
            translate::chat_response_to_responses(&chat, client_body)
        }
        _ => value.clone(),
    }
}

/// A local estimate of input tokens (about four characters a token) for providers without
/// a counting endpoint.
pub fn estimate_tokens(body: &Value) -> u64 {
    let mut chars = 0usize;
    for field in ["system", "messages", "tools"] {
        if let Some(v) = body.get(field) {
            chars += v.to_string().len();
        }
    }
    (chars as u64).div_ceil(4).max(1)
}
