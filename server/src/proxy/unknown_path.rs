//! The 404s of paths that are not endpoints: JSON in the caller's dialect, naming the path
//! meant and, for a base URL with `/v1` missing, doubled or behind another prefix, how to set
//! the base URL, instead of the pages' HTML 404 or a bare "not found".

use aicarpool::gateway::error::ErrorKind;
use aicarpool::gateway::{Dialect, GatewayError, ProxyResponse};
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, Method, header};

use super::into_response;
use crate::ServerState;

/// `/v1/…` paths no route serves.
pub(super) async fn unknown_route(State(state): State<ServerState>, req: Request) -> Response {
    let path = req.uri().path();
    // `/v1/chat/completions/` or `/v1//messages`: an endpoint with a stray `/` (a base URL
    // ending in one), named.
    let meant = collapse_slashes(path);
    if meant != path && ENDPOINTS.contains(&meant.as_str()) {
        let hint =
            format!(" (did you mean {meant}? check the base URL for a doubled or trailing `/`)");
        return not_an_endpoint(req.method(), path, &meant, hint);
    }
    // `/v1/v1/messages`: the Anthropic SDK given a base URL ending in `/v1`.
    let app_url = &state.app.config().app_url;
    if let Some(answer) = wrong_base_url(req.method(), req.headers(), path, app_url) {
        return answer;
    }
    not_an_endpoint(req.method(), path, &meant, String::new())
}

/// The endpoints a path with a stray slash may have meant.
const ENDPOINTS: [&str; 5] = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
    "/v1/models",
];

/// How the paths SDKs build end, and the endpoint this gateway serves for each (`None`: the
/// API exists elsewhere, not here). Longer endings come before the endings they end with.
const ENDINGS: [(&str, Option<(&str, &str)>); 7] = [
    (
        "/messages/count_tokens",
        Some(("POST", "/v1/messages/count_tokens")),
    ),
    ("/messages", Some(("POST", "/v1/messages"))),
    ("/chat/completions", Some(("POST", "/v1/chat/completions"))),
    ("/completions", None),
    ("/responses", Some(("POST", "/v1/responses"))),
    ("/models", Some(("GET", "/v1/models"))),
    ("/embeddings", None),
];

/// `path` without empty segments: `//v1//chat/completions/` is `/v1/chat/completions`.
fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// Whether a request to a path no route serves comes from an API client rather than a
/// browser following a link: it posts, or it carries a key (`Authorization: Bearer`,
/// `x-api-key`). A browser navigating to `/models` gets the pages' HTML 404.
fn from_an_api_client(method: &Method, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim_start();
            v.get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
                || v.starts_with(aicarpool::gateway::keys::KEY_PREFIX)
        });
    method == Method::POST || bearer || headers.contains_key("x-api-key")
}

/// A path no route matched that is an API path with doubled slashes or another letter case
/// (`//v1/chat/completions`: a base URL ending in `/`; `/V1/models`), or an API client's
/// request to an endpoint's path with the base URL set wrong (`/chat/completions`,
/// `/openai/v1/responses`): a JSON 404 in the caller's dialect naming the path to use, instead
/// of the pages' HTML 404.
pub fn misspelled_route(state: &ServerState, req: &Request) -> Option<Response> {
    let (method, path) = (req.method(), req.uri().path());
    let lower = collapse_slashes(path).to_ascii_lowercase();
    let api = lower == "/v1" || lower.starts_with("/v1/") || lower.starts_with("/api/");
    // Real /v1 and /api paths never get here: their routers answer every path below them.
    if api {
        let hint =
            format!(" (did you mean {lower}? check the base URL for a doubled `/` or capitals)");
        return Some(not_an_endpoint(method, path, &lower, hint));
    }
    if !from_an_api_client(method, req.headers()) {
        return None;
    }
    wrong_base_url(method, req.headers(), path, &state.app.config().app_url)
}

/// The answer to a request to `path` that ends as an endpoint's path does
/// (`/chat/completions`, `/v1/v1/messages`, `/anthropic/v1/messages`) but is not one: in the
/// dialect the path implies (a 404 in OpenAI's, a 400 in Anthropic's), naming the endpoint
/// meant and the base URL each SDK needs (`app_url`: this gateway's public URL). `None` when
/// `path` ends as no endpoint does.
pub fn wrong_base_url(
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    app_url: &str,
) -> Option<Response> {
    let lower = collapse_slashes(path).to_ascii_lowercase();
    let (ending, served) = ENDINGS.iter().find(|(ending, _)| lower.ends_with(ending))?;
    let anthropic = ending.starts_with("/messages")
        || (*ending == "/models" && headers.contains_key("anthropic-version"));
    let message = match served {
        Some((verb, endpoint)) => {
            let base = if anthropic {
                format!(
                    "Set the base URL to {app_url}, without /v1 (the Anthropic SDK and Claude \
                     Code's ANTHROPIC_BASE_URL: they add /v1 themselves)"
                )
            } else if *ending == "/models" {
                format!(
                    "Check the base URL: the OpenAI SDK's is {app_url}/v1, the Anthropic SDK's \
                     and Claude Code's {app_url} (without /v1)"
                )
            } else {
                format!(
                    "Set the base URL to {app_url}/v1 (the OpenAI SDK and Codex CLI need the /v1)"
                )
            };
            format!(
                "{method} {path} is not an endpoint of this gateway; did you mean {verb} \
                 {endpoint}? {base}"
            )
        }
        None => format!(
            "{method} {path} is not an endpoint of this gateway, which serves no {what} API; it \
             serves POST /v1/chat/completions, /v1/messages, /v1/responses and GET /v1/models \
             (the OpenAI SDK's base URL is {app_url}/v1)",
            what = if *ending == "/completions" {
                "legacy completions"
            } else {
                "embeddings"
            },
        ),
    };
    // In Anthropic's dialect a 400, not a 404: Claude Code answers every 404 with its own
    // "issue with the selected model" and never shows the message, but shows a 400's as it
    // is ("API Error: 400 …"), without retrying.
    let (kind, dialect) = if anthropic {
        (ErrorKind::InvalidRequest, Dialect::Anthropic)
    } else {
        (ErrorKind::NotFound, Dialect::OpenAi)
    };
    let err = GatewayError::new(kind, "unknown_route", message);
    Some(into_response(ProxyResponse::error(&err, dialect)))
}

/// The 404 for `path` (`meant`: its normal spelling, which picks the dialect).
pub(super) fn not_an_endpoint(method: &Method, path: &str, meant: &str, hint: String) -> Response {
    let err = GatewayError::new(
        ErrorKind::NotFound,
        "unknown_route",
        format!(
            "{method} {path} is not an endpoint of this gateway{hint}; it serves POST \
             /v1/chat/completions, /v1/messages, /v1/messages/count_tokens, /v1/responses and \
             GET /v1/models, /v1/models/{{id}}, /v1/responses/{{id}}"
        ),
    );
    let dialect = if meant.starts_with("/v1/messages") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    };
    into_response(ProxyResponse::error(&err, dialect))
}
