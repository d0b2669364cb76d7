//! The error type of every server function: the shared [`ApiError`] wrapped so it can travel
//! through `server_fn` and keep its HTTP status.

use aicarpool::api::ApiError;
use leptos_router::params::ParamsMap;
use serde::{Deserialize, Serialize};
use server_fn_compat::{FromServerFnError, JsonEncoding, ServerFnErrorErr};

/// Re-exports that keep the `server_fn` paths in one place.
mod server_fn_compat {
    pub use leptos::server_fn::codec::JsonEncoding;
    pub use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
}

/// A refusal or failure as the browser receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
#[error(transparent)]
pub struct AppError(pub ApiError);

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError(ApiError::Transport(value.to_string()))
    }
}

impl From<ApiError> for AppError {
    fn from(value: ApiError) -> Self {
        AppError(value)
    }
}

impl AppError {
    /// "Not found", made in the browser (for an address that cannot name anything).
    pub fn not_found() -> Self {
        AppError(ApiError::Service {
            code: "not_found".into(),
            message: String::new(),
            field: None,
            reason: None,
            retry_after_secs: None,
            status: 404,
        })
    }

    /// True for "not found" (also what a non-member gets for a group).
    pub fn is_not_found(&self) -> bool {
        self.0.service_code() == Some("not_found")
    }
}

/// Query parameters that carry an error back to a page after a plain form post.
pub mod query {
    /// The error's stable code.
    pub const ERROR: &str = "error";
    /// For `invalid`: the form field at fault.
    pub const FIELD: &str = "field";
    /// For `rate_limited`: seconds to wait.
    pub const RETRY_AFTER: &str = "retry_after";
    /// Every parameter above, dropped from the return path before new ones are added.
    pub const ALL: [&str; 3] = [ERROR, FIELD, RETRY_AFTER];
}

/// Codes of [`ApiError::Service`] that a plain form post can carry back in the query.
const SERVICE_CODES: [&str; 8] = [
    "invalid_credentials",
    "rate_limited",
    "unauthenticated",
    "forbidden",
    "not_found",
    "conflict",
    "gone",
    "invalid",
];

/// Server-side helpers: set the HTTP status that matches the error, and for a plain form post
/// (no JavaScript yet) send the browser back to the page with the error code in the query.
#[cfg(feature = "ssr")]
pub mod respond {
    use super::{AppError, is_field_name, query};
    use aicarpool::api::ApiError;
    use aicarpool::error::ServiceError;
    use http::{HeaderValue, Method, StatusCode, header};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Marks the response with the error's status (or a redirect for plain form posts) and
    /// returns the error for the server function to return.
    pub fn fail(error: ApiError) -> AppError {
        if let Some(response) = use_context::<ResponseOptions>() {
            match plain_form_return_path() {
                Some(path) => {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let location = format!("{path}{sep}{}", error_query(&error));
                    if let Ok(value) = HeaderValue::from_str(&location) {
                        response.set_status(StatusCode::SEE_OTHER);
                        response.insert_header(header::LOCATION, value);
                    }
                }
                None => {
                    response.set_status(
                        StatusCode::from_u16(error.status())
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    );
                }
            }
        }
        AppError(error)
    }

    /// A service refusal as the browser's error, with its status set like [`fail`]. Internal
    /// causes are logged here and never reach the browser.
    pub fn service(err: ServiceError) -> AppError {
        let (field, reason) = match &err {
            ServiceError::Invalid { field, error } => {
                (Some((*field).to_owned()), Some(error.clone()))
            }
            _ => (None, None),
        };
        let retry_after_secs = match &err {
            ServiceError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        match err {
            ServiceError::Internal(cause) => {
                tracing::error!(%cause, "internal error in a server function");
                fail(ApiError::Internal)
            }
            ServiceError::Unavailable => {
                tracing::warn!("database unavailable in a server function");
                fail(ApiError::Unavailable)
            }
            other => {
                if let (Some(secs), Some(response)) =
                    (retry_after_secs, use_context::<ResponseOptions>())
                    && let Ok(value) = HeaderValue::from_str(&secs.to_string())
                {
                    response.insert_header(header::RETRY_AFTER, value);
                }
                fail(ApiError::Service {
                    code: other.code().to_owned(),
                    message: other.to_string(),
                    field,
                    reason,
                    retry_after_secs,
                    status: other.status(),
                })
            }
        }
    }

    /// `?` on a service result in a server function: [`service`].
    impl From<ServiceError> for AppError {
        fn from(err: ServiceError) -> Self {
            service(err)
        }
    }

    /// The query that carries an error back after a plain form post.
    pub fn error_query(error: &ApiError) -> String {
        let code = match error {
            ApiError::InvalidField { .. } => "invalid",
            ApiError::SetupTokenInvalid => "token",
            ApiError::SetupAlreadyDone => "done",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal | ApiError::Transport(_) => "internal",
            ApiError::Service { code, .. } => code,
        };
        let mut out = format!("{}={code}", query::ERROR);
        if let ApiError::Service {
            field,
            retry_after_secs,
            ..
        } = error
        {
            if let Some(field) = field.as_deref().filter(|f| is_field_name(f)) {
                out.push_str(&format!("&{}={field}", query::FIELD));
            }
            if let Some(secs) = retry_after_secs {
                out.push_str(&format!("&{}={secs}", query::RETRY_AFTER));
            }
        }
        out
    }

    /// For a plain HTML form post, the same-origin path it came from, with its query minus any
    /// earlier error (so `?next=` survives a refused login).
    fn plain_form_return_path() -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        // Page renders call server functions directly; only a real form post is sent back.
        if parts.method != Method::POST {
            return None;
        }
        let accepts_html = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if !accepts_html {
            return None;
        }
        let referer = parts.headers.get(header::REFERER)?.to_str().ok()?;
        let host = parts.headers.get(header::HOST)?.to_str().ok()?;
        let after_scheme = referer.split_once("://")?.1;
        let (referer_host, path) = after_scheme.split_once('/').unwrap_or((after_scheme, ""));
        if referer_host != host {
            return None;
        }
        let path = path.split('#').next().unwrap_or("");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or("");
                !pair.is_empty() && !query::ALL.contains(&key)
            })
            .collect();
        if kept.is_empty() {
            Some(format!("/{path}"))
        } else {
            Some(format!("/{path}?{}", kept.join("&")))
        }
    }
}

/// True for a form field name as the services report it (`new_password`), nothing else.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Maps an error code from the query back to an error, for pages after a plain form post.
pub fn error_from_code(code: &str) -> Option<ApiError> {
    match code {
        "token" => Some(ApiError::SetupTokenInvalid),
        "done" => Some(ApiError::SetupAlreadyDone),
        "unavailable" => Some(ApiError::Unavailable),
        "internal" => Some(ApiError::Internal),
        _ => None,
    }
}

/// The error a plain form post left in the page's query, if any: the setup codes above and the
/// service codes with their field and wait time (the English message does not survive).
pub fn error_from_query(params: &ParamsMap) -> Option<ApiError> {
    let code = params.get(query::ERROR)?;
    if let Some(known) = SERVICE_CODES.iter().find(|c| **c == code) {
        return Some(ApiError::Service {
            code: (*known).to_owned(),
            message: String::new(),
            field: params.get(query::FIELD).filter(|f| is_field_name(f)),
            reason: None,
            retry_after_secs: params.get(query::RETRY_AFTER).and_then(|s| s.parse().ok()),
            status: 0,
        });
    }
    error_from_code(&code)
}
