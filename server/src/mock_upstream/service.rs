//! The hyper service: routing, authentication, faults, the `/_mock/` control routes, and the
//! error shapes of both dialects.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use serde_json::{Value, json};

use super::faults::{Effects, Fault, MockRoute};
use super::state::{InFlight, RecordedRequest, Shared};
use super::stream::{MockBody, Piece, full, shaped};
use super::tokens::{rfc3339, unix_now};
use super::{anthropic, openai, responses};

/// What a route handler answers.
pub(crate) enum Reply {
    /// A JSON body.
    Json(Value),
    /// A server-sent event stream.
    Stream(Vec<Piece>),
}

/// A refusal, rendered in the route's dialect.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    pub param: Option<&'static str>,
}

impl ApiError {
    /// 400 for a missing or malformed field.
    pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
            param: Some(param),
        }
    }
}

/// Which API's error shape a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Anthropic,
}

/// Answers one request. An `Err` makes hyper close the connection without a response: that is
/// how the `reset` fault reaches the client.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<MockBody>, io::Error> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.map_err(io::Error::other)?.to_bytes();
    let path = parts.uri.path().to_owned();
    if path.starts_with("/_mock/") {
        return Ok(control(&shared, &parts.method, &path, &bytes));
    }
    let Some(route) = MockRoute::from_request(&parts.method, &path) else {
        let error = ApiError {
            status: 404,
            message: format!("mock upstream: no route {} {path}", parts.method),
            param: None,
        };
        return Ok(error_response(&shared, Dialect::OpenAi, &error, None));
    };
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let guard = shared.begin(RecordedRequest {
        route,
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: header_map(&parts.headers),
        body: body.clone(),
    });
    let effects = shared.take_effects(route);
    if let Some(delay) = effects.delay_first_byte {
        tokio::time::sleep(delay).await;
    }
    if effects.reset {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "mock: reset fault",
        ));
    }
    let dialect = dialect_of(route, &parts.headers);
    if let Some((status, message, retry_after)) = &effects.status {
        let error = ApiError {
            status: *status,
            message: message
                .clone()
                .unwrap_or_else(|| format!("mock upstream: injected status {status}")),
            param: None,
        };
        return Ok(error_response(&shared, dialect, &error, *retry_after));
    }
    if !authorized(&shared.options.api_key, dialect, &parts.headers) {
        let error = ApiError {
            status: 401,
            message: match dialect {
                Dialect::OpenAi => "Incorrect API key provided.".to_owned(),
                Dialect::Anthropic => "invalid x-api-key".to_owned(),
            },
            param: None,
        };
        return Ok(error_response(&shared, dialect, &error, None));
    }
    if let Some(raw) = effects.raw_body.clone() {
        return Ok(raw_response(&shared, dialect, &body, raw, &effects, guard));
    }
    let reply = match route {
        MockRoute::Models => Ok(Reply::Json(models(&shared))),
        MockRoute::StoredResponses => {
            responses::stored(&shared, &parts.method, &path, parts.uri.query())
        }
        _ if !body.is_object() => Err(ApiError {
            status: 400,
            message: "the request body must be a JSON object".to_owned(),
            param: None,
        }),
        MockRoute::ChatCompletions => openai::chat_completions(&shared, &body),
        MockRoute::Responses => responses::create(&shared, &body),
        MockRoute::Messages => anthropic::messages(&shared, &body),
        MockRoute::CountTokens => anthropic::count_tokens(&body),
    };
    let reply = match reply {
        Ok(reply) => reply,
        Err(error) => return Ok(error_response(&shared, dialect, &error, None)),
    };
    let (content_type, body) = match reply {
        Reply::Json(value) => {
            let bytes = Bytes::from(value.to_string());
            let body = if effects.shapes_body() {
                let half = bytes.len() / 2;
                let pieces = vec![
                    Piece::Delta(bytes.slice(..half)),
                    Piece::Tail(bytes.slice(half..)),
                ];
                shaped(Arc::clone(&shared), pieces, &effects, guard)
            } else {
                full(bytes)
            };
            ("application/json", body)
        }
        Reply::Stream(pieces) => (
            "text/event-stream; charset=utf-8",
            shaped(Arc::clone(&shared), pieces, &effects, guard),
        ),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    common_headers(&shared, dialect, headers);
    Ok(response)
}

/// The `raw_body` fault's answer: 200 with the text as it is, streamed event by event when the
/// request asked for a stream.
fn raw_response(
    shared: &Arc<Shared>,
    dialect: Dialect,
    request: &Value,
    raw: String,
    effects: &Effects,
    guard: InFlight,
) -> Response<MockBody> {
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    let (content_type, body) = if stream {
        let pieces = raw
            .split_inclusive("\n\n")
            .map(|event| Piece::Delta(Bytes::from(event.to_owned())))
            .collect();
        (
            "text/event-stream; charset=utf-8",
            shaped(Arc::clone(shared), pieces, effects, guard),
        )
    } else {
        ("application/json", full(raw))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    common_headers(shared, dialect, headers);
    response
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

fn dialect_of(route: MockRoute, headers: &HeaderMap) -> Dialect {
    match route {
        MockRoute::Messages | MockRoute::CountTokens => Dialect::Anthropic,
        MockRoute::Models
            if headers.contains_key("x-api-key") || headers.contains_key("anthropic-version") =>
        {
            Dialect::Anthropic
        }
        _ => Dialect::OpenAi,
    }
}

fn authorized(key: &str, dialect: Dialect, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| v.trim() == key);
    let x_api_key = headers
        .get("x-api-key")
        .is_some_and(|v| v.as_bytes() == key.as_bytes());
    bearer || (dialect == Dialect::Anthropic && x_api_key)
}

fn common_headers(shared: &Shared, dialect: Dialect, headers: &mut HeaderMap) {
    let id = format!("req_mock_{}", shared.next_id());
    let name = match dialect {
        Dialect::OpenAi => "x-request-id",
        Dialect::Anthropic => "request-id",
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(name, value);
    }
    if let Some(label) = &shared.options.name
        && let Ok(value) = HeaderValue::from_str(label)
    {
        headers.insert("x-mock-upstream", value);
    }
}

fn error_response(
    shared: &Shared,
    dialect: Dialect,
    error: &ApiError,
    retry_after: Option<u64>,
) -> Response<MockBody> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match dialect {
        Dialect::OpenAi => {
            let (kind, code) = match error.status {
                401 => ("invalid_request_error", Some("invalid_api_key")),
                403 => ("permission_error", None),
                429 => ("requests", Some("rate_limit_exceeded")),
                500.. => ("server_error", None),
                _ => ("invalid_request_error", None),
            };
            json!({"error": {"message": error.message, "type": kind, "param": error.param, "code": code}})
        }
        Dialect::Anthropic => {
            let kind = match error.status {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                500.. => "api_error",
                _ => "invalid_request_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": error.message}})
        }
    };
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    common_headers(shared, dialect, headers);
    if matches!(error.status, 429 | 503 | 529) {
        let secs = retry_after.unwrap_or(1);
        let reset = rfc3339(unix_now() + secs);
        for (name, value) in [
            ("retry-after", secs.to_string()),
            ("anthropic-ratelimit-requests-reset", reset),
            ("x-ratelimit-reset-requests", format!("{secs}s")),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    response
}

fn models(shared: &Shared) -> Value {
    let created = 1_700_000_000u64;
    let data: Vec<Value> = shared
        .options
        .models
        .iter()
        .map(|id| {
            json!({
                "id": id, "object": "model", "created": created, "owned_by": "mock",
                "type": "model", "display_name": id, "created_at": rfc3339(created),
            })
        })
        .collect();
    json!({
        "object": "list",
        "first_id": shared.options.models.first(),
        "last_id": shared.options.models.last(),
        "has_more": false,
        "data": data,
    })
}

/// The `/_mock/` routes: faults, release, stats, recorded requests, reset. No key needed.
fn control(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response<MockBody> {
    let result = match (method.as_str(), path) {
        ("GET", "/_mock/stats") => Ok(json!(shared.stats())),
        ("GET", "/_mock/requests") => Ok(json!(shared.requests())),
        ("GET", "/_mock/faults") => Ok(json!({"faults": shared.faults()})),
        ("DELETE", "/_mock/faults") => {
            shared.clear_faults();
            Ok(json!({"faults": []}))
        }
        ("POST", "/_mock/faults") => add_faults(shared, body),
        ("POST", "/_mock/release") => {
            let held = shared.stats().held;
            shared.release();
            Ok(json!({"released": held}))
        }
        ("POST", "/_mock/reset") => {
            shared.reset();
            Ok(json!({"ok": true}))
        }
        _ => Err((404, format!("no control route {method} {path}"))),
    };
    let (status, value) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err((status, message)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"error": {"message": message}}),
        ),
    };
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Adds the fault or array of faults in `body`; all or none.
fn add_faults(shared: &Shared, body: &[u8]) -> Result<Value, (u16, String)> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Fault>),
        One(Fault),
    }
    let faults = match serde_json::from_slice::<OneOrMany>(body) {
        Ok(OneOrMany::One(fault)) => vec![fault],
        Ok(OneOrMany::Many(faults)) => faults,
        Err(_) => {
            // The untagged error says nothing useful; parse again as one fault for the reason.
            let reason = serde_json::from_slice::<Fault>(body)
                .err()
                .map_or_else(|| "invalid fault".to_owned(), |e| e.to_string());
            return Err((400, reason));
        }
    };
    if let Some(problem) = faults.iter().find_map(Fault::problem) {
        return Err((400, problem.to_owned()));
    }
    faults.into_iter().for_each(|f| shared.add_fault(f));
    Ok(json!({"faults": shared.faults()}))
}
