//! Operational endpoints: liveness, readiness, and the no-JavaScript language switch.

use std::time::Duration;

use aicarpool::i18n::{LOCALE_COOKIE, Locale};
use aicarpool::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

/// How long `/readyz` waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": aicarpool::VERSION }))
}

/// `GET /readyz`: 200 when the database (and Redis, when configured) answer, 503 otherwise.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let database = match tokio::time::timeout(READY_TIMEOUT, app.db().ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(%err, "readiness: database check failed");
            "unreachable"
        }
        Err(_) => {
            tracing::warn!("readiness: database check timed out");
            "timeout"
        }
    };
    let redis = match app.redis() {
        None => None,
        Some(client) => Some(
            match tokio::time::timeout(READY_TIMEOUT, aicarpool::redis::ping(client)).await {
                Ok(Ok(())) => "ok",
                Ok(Err(err)) => {
                    tracing::warn!(%err, "readiness: Redis check failed");
                    "unreachable"
                }
                Err(_) => "timeout",
            },
        ),
    };
    let ready = database == "ok" && redis.is_none_or(|r| r == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database,
        "redis": redis.unwrap_or("not configured"),
    });
    (status, Json(body)).into_response()
}

/// Query of `/lang/{code}`.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    next: Option<String>,
}

/// `GET /lang/{code}?next=/path`: remembers the language in a cookie and goes back to `next`
/// (same-site paths only, so the switch cannot be used as an open redirect).
pub async fn set_language(Path(code): Path<String>, Query(query): Query<LangQuery>) -> Response {
    let Some(locale) = Locale::from_tag(&code) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("unsupported language {code:?}; use zh-CN or en") })),
        )
            .into_response();
    };
    let next = query
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{LOCALE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        locale.code()
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
