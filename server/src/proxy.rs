//! The chat proxy's HTTP surface: `/v1/chat/completions`, `/v1/messages`,
//! `/v1/messages/count_tokens`, `/v1/responses` (and its stored responses under
//! `/v1/responses/{id}`), `/v1/models`, `/v1/models/{id}` (and the
//! seed's `/api/chat/completions`, `/api/models`, `/api/models/{id}`). The handlers only take
//! the key, the headers and the capped body off the request and hand them to the gateway;
//! errors answer in the caller's dialect.

use aicarpool::gateway::client::Coalesce;
use aicarpool::gateway::error::ErrorKind;
use aicarpool::gateway::keys::{KEY_PREFIX, MemberKey};
use aicarpool::gateway::model_page::ModelPage;
use aicarpool::gateway::response_pins::StoredAction;
use aicarpool::gateway::{Dialect, Endpoint, GatewayError, ProxyBody, ProxyRequest, ProxyResponse};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::sync::Arc;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

use crate::ServerState;
use body_read::{BodyRead, Room, read_body};

mod body_read;
mod direct;
mod unknown_path;
pub use direct::Direct;
pub use unknown_path::{misspelled_route, wrong_base_url};
use unknown_path::{not_an_endpoint, unknown_route};

/// The `/v1` routes.
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route(
            "/v1/chat/completions",
            only(Method::POST, post(chat_completions), Dialect::OpenAi),
        )
        .route(
            "/v1/messages",
            only(Method::POST, post(messages), Dialect::Anthropic),
        )
        .route(
            "/v1/messages/count_tokens",
            only(Method::POST, post(count_tokens), Dialect::Anthropic),
        )
        .route(
            "/v1/responses",
            only(Method::POST, post(responses), Dialect::OpenAi),
        )
        .route("/v1/responses/{*rest}", any(stored_response))
        .route(
            "/v1/models",
            only(Method::GET, get(models), Dialect::OpenAi),
        )
        .route(
            "/v1/models/{*id}",
            only(Method::GET, get(model), Dialect::OpenAi),
        )
        .route("/v1", any(unknown_route))
        .route("/v1/", any(unknown_route))
        .route("/v1/{*rest}", any(unknown_route))
        // The gateway applies its own, configurable cap (MAX_BODY_BYTES).
        .layer(DefaultBodyLimit::disable())
        .layer(cors())
}

/// Browser apps call the proxy from their own origin with a member key in a header (never a
/// cookie), so any origin may: the key is the credential. Preflights are answered here.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(AllowHeaders::any())
        .expose_headers(ExposeHeaders::any())
        .max_age(std::time::Duration::from_secs(86_400))
}

/// `route` for `method`; any other method gets a 405 in `dialect` saying which one to use.
pub fn only(
    method: Method,
    route: MethodRouter<ServerState>,
    dialect: Dialect,
) -> MethodRouter<ServerState> {
    route.fallback(
        move |wrong: Method, OriginalUri(uri): OriginalUri| async move {
            let err = GatewayError::new(
                ErrorKind::MethodNotAllowed,
                "method_not_allowed",
                format!("{wrong} {} is not supported; use {method}", uri.path()),
            );
            let mut response = into_response(ProxyResponse::error(&err, dialect));
            if let Ok(allow) = HeaderValue::from_str(method.as_str()) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        },
    )
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(State(state): State<ServerState>, req: Request) -> Response {
    Coalesce::new(proxy(&state, Endpoint::ChatCompletions, req)).await
}

/// `POST /v1/messages`.
pub async fn messages(State(state): State<ServerState>, req: Request) -> Response {
    Coalesce::new(proxy(&state, Endpoint::Messages, req)).await
}

/// `POST /v1/messages/count_tokens`.
pub async fn count_tokens(State(state): State<ServerState>, req: Request) -> Response {
    Coalesce::new(proxy(&state, Endpoint::CountTokens, req)).await
}

/// `POST /v1/responses`.
pub async fn responses(State(state): State<ServerState>, req: Request) -> Response {
    Coalesce::new(proxy(&state, Endpoint::Responses, req)).await
}

/// The dialect of a models request: Anthropic's SDKs send `anthropic-version`.
fn models_dialect(headers: &HeaderMap) -> Dialect {
    if headers.contains_key("anthropic-version") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    }
}

/// `GET /v1/models`: the models the key may use, paged as Anthropic pages them when the query
/// asks (`limit`, `after_id`, `before_id`).
pub async fn models(
    State(state): State<ServerState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let gateway = state.app.gateway();
    let dialect = models_dialect(&headers);
    let answer = match authenticate(&state, &headers).await {
        Ok(member) => match ModelPage::from_query(uri.query()) {
            Ok(page) => gateway.models(&member, &page, dialect).await,
            Err(err) => ProxyResponse::error(&err, dialect),
        },
        Err(err) => ProxyResponse::error(&err, dialect),
    };
    into_response(answer)
}

/// `GET /v1/models/{id}` (and `/api/models/{id}`): one model the key may use, as both SDKs'
/// `models.retrieve` asks for it. The id is the rest of the path, percent-decoded, so names
/// with a slash (`Qwen/Qwen2.5-72B-Instruct` on vLLM) work sent either way.
pub async fn model(
    State(state): State<ServerState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let dialect = models_dialect(&headers);
    let member = match authenticate(&state, &headers).await {
        Ok(member) => member,
        Err(err) => return into_response(ProxyResponse::error(&err, dialect)),
    };
    let raw = uri
        .path()
        .split_once("/models/")
        .map_or("", |(_, rest)| rest);
    match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(id) => into_response(state.app.gateway().model(&member, &id, dialect).await),
        Err(_) => {
            let err = GatewayError::new(
                ErrorKind::NotFound,
                "model_not_found",
                "the model name in the path is not UTF-8 text once percent-decoded",
            );
            into_response(ProxyResponse::error(&err, dialect))
        }
    }
}

/// `/v1/responses/{id}` (`GET`, `DELETE`), `/v1/responses/{id}/input_items` (`GET`) and
/// `/v1/responses/{id}/cancel` (`POST`): a response this gateway served and its account
/// stored, asked of that account.
pub async fn stored_response(
    State(state): State<ServerState>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    let rest = path.split_once("/responses/").map_or("", |(_, rest)| rest);
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        let hint = " (did you mean /v1/responses? check the base URL for a trailing `/`)";
        return not_an_endpoint(&method, path, path, hint.to_owned());
    }
    let Some(action) = StoredAction::of(&method, tail) else {
        let allow = match tail {
            "" => "GET, DELETE",
            "input_items" => "GET",
            "cancel" => "POST",
            _ => return not_an_endpoint(&method, path, path, String::new()),
        };
        let err = GatewayError::new(
            ErrorKind::MethodNotAllowed,
            "method_not_allowed",
            format!("{method} {path} is not supported; use {allow}"),
        );
        let mut response = into_response(ProxyResponse::error(&err, Dialect::OpenAi));
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return response;
    };
    let answer = match authenticate(&state, &headers).await {
        Ok(member) => {
            state
                .app
                .gateway()
                .stored_response(&member, action, id, uri.query(), &headers)
                .await
        }
        Err(err) => ProxyResponse::error(&err, Dialect::OpenAi),
    };
    into_response(answer)
}

/// Whether an `E` is anywhere in `err`'s chain of causes (body errors come wrapped twice).
fn caused_by<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    find_cause::<E>(err).is_some()
}

/// The first `E` in `err`'s chain of causes.
fn find_cause<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The member behind the request's key; a key header that is not text is refused as such.
async fn authenticate(
    state: &ServerState,
    headers: &HeaderMap,
) -> Result<Arc<MemberKey>, GatewayError> {
    for name in ["x-api-key", header::AUTHORIZATION.as_str()] {
        if headers.get(name).is_some_and(|v| v.to_str().is_err()) {
            return Err(GatewayError::new(
                ErrorKind::Authentication,
                "unauthenticated",
                format!(
                    "the {name} header holds characters that are not plain ASCII; copy your member key (acp_…) again"
                ),
            ));
        }
    }
    state.app.gateway().authenticate(api_key(headers)).await
}

/// The member key from `x-api-key` (Claude Code) or `Authorization: Bearer` (OpenAI and
/// current Anthropic SDKs). When both are sent and only the bearer token is a member key
/// (`acp_…`), it is the one: an Anthropic SDK given both a provider key from the environment
/// and the member key as its auth token sends them this way. Otherwise `x-api-key` wins.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    // `Bearer ` is taken off `x-api-key` too: a key pasted with it is still the key.
    fn without_scheme(v: &str) -> &str {
        let v = v.trim();
        match v.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
            _ => v,
        }
    }
    let x_api_key = text("x-api-key")
        .map(without_scheme)
        .filter(|k| !k.is_empty());
    let bearer = || text(header::AUTHORIZATION.as_str()).map(without_scheme);
    match x_api_key {
        Some(key) if !key.starts_with(KEY_PREFIX) => {
            bearer().filter(|b| b.starts_with(KEY_PREFIX)).or(Some(key))
        }
        Some(key) => Some(key),
        None => bearer(),
    }
}

/// The answer to a proxy request. Anthropic's API names each answer in a `request-id` header
/// (the Anthropic SDK reads it into `_request_id` and its errors' `requestID`), so answers on
/// its routes carry the request's id there too, as well as in `x-request-id`.
async fn proxy(state: &ServerState, endpoint: Endpoint, req: Request) -> Response {
    let anthropic_id = match endpoint.dialect() {
        Dialect::Anthropic => req.headers().get(crate::REQUEST_ID).cloned(),
        Dialect::OpenAi => None,
    };
    let mut response = answer(state, endpoint, req).await;
    if let Some(id) = anthropic_id {
        response
            .headers_mut()
            .insert(http::HeaderName::from_static("request-id"), id);
    }
    response
}

async fn answer(state: &ServerState, endpoint: Endpoint, req: Request) -> Response {
    let gateway = state.app.gateway();
    let dialect = endpoint.dialect();
    let fail = |err: GatewayError| into_response(ProxyResponse::error(&err, dialect));
    let (parts, body) = req.into_parts();
    let cap = gateway.config().max_body_bytes;
    // A client that sent `Expect: 100-continue` and is answered before its body is read is
    // not asked for the body: reading it would make hyper send the `100`.
    let waits = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let member = match admit(state, &parts.headers).await {
        Ok(member) => member,
        Err(err) => {
            // Answered before the body is read: the rest of it is read and dropped after the
            // answer, in a task of its own (see `drain`).
            if !waits {
                tokio::spawn(drain(body, cap));
            }
            return fail(err);
        }
    };
    let too_large = || {
        GatewayError::new(
            ErrorKind::TooLarge,
            "request_too_large",
            format!(
                "the request body is larger than this gateway accepts ({} bytes, MAX_BODY_BYTES); send smaller images or fewer messages",
                cap
            ),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let oversize = oversize_drain(cap);
    if declared.is_some_and(|n| n > cap as u64) {
        // A length the gateway would read to the end is read and dropped, so the client
        // (which may send all of it before reading) gets its 413; a larger one is answered
        // and the connection closed.
        if !waits && declared.is_some_and(|n| n <= oversize as u64) {
            tokio::spawn(drain(body, oversize));
        }
        return fail(too_large());
    }
    let room = Room {
        memory: gateway.body_memory().clone(),
        wait: gateway.config().body_memory_wait,
        declared,
        total_kib: gateway.config().max_body_memory.div_ceil(1024),
    };
    let body = match read_body(body, cap, room).await {
        Ok(body) => body,
        Err(BodyRead::NoRoom) => {
            let held = gateway.config().max_body_memory / (1024 * 1024);
            return fail(
                GatewayError::new(
                    ErrorKind::Unavailable,
                    "body_memory_full",
                    format!(
                        "the gateway is holding as many large request bodies as it has room \
                         for ({held} MiB, MAX_BODY_MEMORY); send the request again in a few \
                         seconds"
                    ),
                )
                .retry_after(5),
            );
        }
        Err(BodyRead::TooLarge(rest)) => {
            tokio::spawn(drain(rest, oversize));
            return fail(too_large());
        }
        Err(BodyRead::TooManyValues { values, mib }) => {
            let room = gateway.config().max_body_memory / (1024 * 1024);
            return fail(GatewayError::new(
                ErrorKind::TooLarge,
                "request_too_large",
                format!(
                    "the request body holds about {values} JSON values (messages, content \
                     parts, fields); reading that many takes about {mib} MiB, more than this \
                     gateway has for request bodies ({room} MiB, MAX_BODY_MEMORY); send fewer, \
                     longer messages"
                ),
            ));
        }
        Err(BodyRead::Failed(err)) => {
            let stalled = caused_by::<tower_http::timeout::TimeoutError>(&err);
            let slow = find_cause::<crate::min_rate::BodyTooSlow>(&err);
            return fail(if let Some(slow) = slow {
                GatewayError::new(
                    ErrorKind::RequestTimeout,
                    "request_body_too_slow",
                    format!("{slow}; send it again from a faster connection"),
                )
            } else if stalled {
                GatewayError::new(
                    ErrorKind::RequestTimeout,
                    "request_body_timeout",
                    "the request body stopped arriving before it was complete; send it again",
                )
            } else {
                GatewayError::invalid("body", "the request body could not be read completely")
            });
        }
    };
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = gateway
        .handle(
            member,
            ProxyRequest {
                endpoint,
                headers: parts.headers,
                query: parts.uri.query().map(str::to_owned),
                body,
                request_id,
            },
        )
        .await;
    into_response(response)
}

/// What is checked before the body is read: the key, and that the body is uncompressed JSON.
async fn admit(state: &ServerState, headers: &HeaderMap) -> Result<Arc<MemberKey>, GatewayError> {
    let member = authenticate(state, headers).await?;
    if let Some(coding) = headers.get(header::CONTENT_ENCODING) {
        let coding = String::from_utf8_lossy(coding.as_bytes());
        if !coding.trim().eq_ignore_ascii_case("identity") {
            return Err(GatewayError::new(
                ErrorKind::UnsupportedMediaType,
                "unsupported_content_encoding",
                format!(
                    "request bodies must be sent uncompressed (got Content-Encoding: {coding})"
                ),
            ));
        }
    }
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = String::from_utf8_lossy(kind.as_bytes()).to_ascii_lowercase();
        let essence = kind.split(';').next().unwrap_or_default().trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(GatewayError::new(
                ErrorKind::UnsupportedMediaType,
                "unsupported_media_type",
                format!(
                    "the body must be JSON sent with Content-Type: application/json (got {essence})"
                ),
            ));
        }
    }
    Ok(member)
}

/// How long a body answered without being read (see [`drain`]) is still read at most.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// How much of a body over the cap is read and dropped after its 413: four times the cap, at
/// least 64 MiB. A client sending more gets its answer and then a closed connection.
fn oversize_drain(cap: usize) -> usize {
    cap.saturating_mul(4).max(64 << 20)
}

/// Reads the rest of a request's body that was answered without it (a wrong key, a body over
/// the cap), up to `limit` bytes and [`DRAIN_TIME`], and drops it. Left unread, the connection
/// would be closed with the body still arriving: the kernel then resets it, and a client still
/// sending (most SDKs send the whole body before they read) sees a broken pipe or a reset
/// instead of its 401 or 413. Read, the answer arrives and the connection stays usable. A
/// body that stalls ends at the client idle timeout; one over the limit ends the read and the
/// connection.
async fn drain(body: Body, limit: usize) {
    use http_body_util::BodyExt as _;
    let mut body = http_body_util::Limited::new(body, limit);
    let read = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// The axum response for a gateway answer.
pub fn into_response(answer: ProxyResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match answer.body {
        ProxyBody::Json(bytes) => Body::from(bytes),
        ProxyBody::Stream(stream) => Body::from_stream(stream),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    response
}
