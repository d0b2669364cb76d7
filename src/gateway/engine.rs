//! The proxy loop: authenticate the member key, parse and check the body, resolve the model
//! to candidate accounts, then try them in order, translating to each account's wire format.
//! A retryable failure before the first byte moves on to the next candidate; once the first
//! byte is committed to the client the answer is relayed (see `relay`). Every request ends in
//! exactly one usage record.

use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::{Value, json};

use super::catalog::Catalog;
use super::error::{Dialect, ErrorKind, GatewayError};
use super::health::HealthPolicy;
use super::keys::{KeyCache, MemberKey};
use super::limit_seed::Seeded;
use super::model_page::ModelPage;
use super::recorder::Recorder;
use super::select::Selector;
use super::upstream::Endpoint;
use super::usage_guard::UsageGuard;
use crate::config::GatewayConfig;
use crate::counters::CounterStore;
use crate::db::usage::UsageRow;
use crate::db::{Db, DbError, now_ms};
use crate::secret::Secret;
use crate::vault::Vault;

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

/// The content type of whole answers.
pub(super) const JSON: &str = "application/json";

/// A proxy answer.
#[derive(Debug)]
pub struct ProxyResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (content type included), ready to send: names and values are checked
    /// once where they are made, not parsed again for every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: ProxyBody,
}

impl ProxyResponse {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> ProxyResponse {
        ProxyResponse {
            status,
            headers: vec![(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            body: ProxyBody::Json(Bytes::from(value.to_string())),
        }
    }

    /// An error in the caller's dialect.
    pub fn error(err: &GatewayError, dialect: Dialect) -> ProxyResponse {
        let mut response = ProxyResponse::json(err.status(), &err.body(dialect));
        // A wait no client should sit out is not offered: Codex CLI sleeps for any
        // `retry-after` (a budget's reset a day away would hang it) and ignores
        // `x-should-retry`; the SDKs and Claude Code obey that header. The time of the reset
        // stays in the message and the `x-ratelimit-reset-*` headers.
        if err.retry_may_help() {
            if let Some(secs) = err.retry_after_secs {
                response
                    .headers
                    .push((header::RETRY_AFTER, HeaderValue::from(secs)));
            }
        } else {
            response.headers.push((
                HeaderName::from_static("x-should-retry"),
                HeaderValue::from_static("false"),
            ));
        }
        response.headers.extend(err.headers.iter().cloned());
        response
    }
}

/// Request bodies from this size on take room in [`Gateway::body_memory`]; smaller ones
/// (nearly every chat request) never wait for it.
pub const LARGE_BODY: usize = 1024 * 1024;

/// The gateway: key cache, routing catalog, usage writer.
#[derive(Debug)]
pub struct Gateway {
    db: Db,
    vault: Vault,
    config: GatewayConfig,
    keys: KeyCache,
    catalog: RwLock<Option<Arc<Catalog>>>,
    reloading: tokio::sync::Mutex<()>,
    pub(super) recorder: Arc<Recorder>,
    pub(super) counters: Arc<CounterStore>,
    pub(super) selector: Selector,
    pub(super) policy: HealthPolicy,
    /// Budget windows whose counters this node has seeded from the usage records.
    pub(super) seeded: Seeded,
    /// Room for large request bodies, in KiB (`MAX_BODY_MEMORY`).
    body_memory: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    /// Builds the gateway and starts its usage writer (needs a tokio runtime). The catalog
    /// loads on first use.
    pub fn new(
        db: Db,
        master_key: &Secret<String>,
        config: GatewayConfig,
        counters: CounterStore,
    ) -> Gateway {
        Gateway {
            counters: Arc::new(counters),
            selector: Selector::default(),
            policy: config.health_policy(),
            recorder: Arc::new(Recorder::start(db.clone())),
            db,
            vault: Vault::new(master_key),
            keys: KeyCache::default(),
            catalog: RwLock::new(None),
            reloading: tokio::sync::Mutex::new(()),
            seeded: Seeded::default(),
            body_memory: Arc::new(tokio::sync::Semaphore::new(
                config.max_body_memory.div_ceil(1024),
            )),
            config,
        }
    }

    /// Room for large request bodies, a permit a KiB: a body of [`LARGE_BODY`] or more
    /// holds permits for its size as long as its bytes live, so the bodies in memory at once
    /// stay under `MAX_BODY_MEMORY`.
    pub fn body_memory(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.body_memory
    }

    /// The vault that seals upstream credentials.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The shared counters and health.
    pub fn counters(&self) -> &CounterStore {
        &self.counters
    }

    /// This node's latency and error view of an account.
    pub fn account_stats(&self, account: i64) -> (Option<f64>, f64, u64) {
        self.selector.stats(account)
    }

    /// The database.
    pub(super) fn db(&self) -> &Db {
        &self.db
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
        let fresh = Arc::new(
            Catalog::load(
                &self.db,
                &self.vault,
                self.config.upstream_tls.as_ref(),
                &previous,
            )
            .await?,
        );
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Reloads when another node changed accounts or bindings (a cheap fingerprint query).
    pub async fn refresh_if_changed(&self) -> Result<(), DbError> {
        let fingerprint = super::catalog::fingerprint(&self.db).await?;
        if self.current().is_none_or(|c| c.fingerprint != fingerprint) {
            self.reload().await?;
        }
        Ok(())
    }

    /// Marks the requests still in flight as cut off by the server stopping (their records
    /// say `server_shutdown`); call before ending them when the drain time is up.
    pub fn cut_off_in_flight(&self) {
        self.recorder.cut_off_in_flight();
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

    /// `GET /v1/models`: what this key may use, in a shape both SDKs read, one `page` of it
    /// (Anthropic's paging; the whole list without one).
    pub async fn models(
        &self,
        member: &MemberKey,
        page: &ModelPage,
        dialect: Dialect,
    ) -> ProxyResponse {
        let catalog = match self.catalog().await {
            Ok(c) => c,
            Err(e) => return unavailable(&e, dialect),
        };
        let names = usable_models(&catalog, member).names;
        let (shown, has_more) = page.slice(&names);
        let data: Vec<Value> = shown.iter().map(|id| model_object(id)).collect();
        ProxyResponse::json(
            200,
            &json!({
                "object": "list",
                "data": data,
                "has_more": has_more,
                "first_id": shown.first(),
                "last_id": shown.last(),
            }),
        )
    }

    /// `GET /v1/models/{id}` (both SDKs' `models.retrieve`): the model when a request for it
    /// with this key would be served (an account passing any name through serves it too, though
    /// the list cannot show it), else a 404 in `dialect` listing the ones it may use.
    pub async fn model(&self, member: &MemberKey, id: &str, dialect: Dialect) -> ProxyResponse {
        let catalog = match self.catalog().await {
            Ok(c) => c,
            Err(e) => return unavailable(&e, dialect),
        };
        if member.allows(id) && !catalog.candidates(member.group_id, id).is_empty() {
            return ProxyResponse::json(200, &model_object(id));
        }
        let err = GatewayError::new(
            ErrorKind::NotFound,
            "model_not_found",
            format!(
                "the model `{id}` is not available; {}",
                usable_text(&usable_models(&catalog, member))
            ),
        );
        ProxyResponse::error(&err, dialect)
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
            Some(Arc::clone(&self.counters)),
        );
        match self.serve(&member, &req, &mut guard).await {
            Ok(response) => response,
            Err(err) => {
                guard.fail(&err);
                ProxyResponse::error(&err, dialect)
            }
        }
    }
}

/// The models a key may use, with what the refusal needs to say when there are none.
pub(super) struct UsableModels {
    /// The names the key may use, sorted.
    pub names: Vec<String>,
    /// The key's own list of models, when it is limited to some.
    limited_to: Option<Vec<String>>,
    /// Every model the group serves, sorted.
    served: Vec<String>,
}

/// The models `member` may use.
pub(super) fn usable_models(catalog: &Catalog, member: &MemberKey) -> UsableModels {
    let served = catalog.models(member.group_id);
    UsableModels {
        names: served
            .iter()
            .filter(|m| member.allows(m))
            .cloned()
            .collect(),
        limited_to: member.models.clone(),
        served,
    }
}

/// The end of a 404 for a model: which ones the key can use instead, or why there are none
/// (the group serves none yet, or none of those the key is limited to).
pub(super) fn usable_text(usable: &UsableModels) -> String {
    match (&usable.limited_to, usable.names.is_empty()) {
        (_, false) => format!("models this key can use: {}", usable.names.join(", ")),
        (Some(limited), true) if !limited.is_empty() && !usable.served.is_empty() => format!(
            "this key is limited to {} and the group serves none of them (it serves {}); use \
             a key for the group's models, or ask a group admin to bind an account that \
             serves yours",
            limited.join(", "),
            usable.served.join(", ")
        ),
        _ => "this key's group has no models yet: a group admin binds accounts on the group \
              page"
            .to_owned(),
    }
}

/// A model as both SDKs read it: OpenAI's `object`, `created`, `owned_by` and Anthropic's
/// `type`, `display_name`, `created_at`.
fn model_object(id: &str) -> Value {
    json!({
        "id": id, "object": "model", "created": 0, "owned_by": "aicarpool",
        "type": "model", "display_name": id, "created_at": "1970-01-01T00:00:00Z",
    })
}

pub(super) fn database_unavailable(e: &DbError) -> GatewayError {
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
