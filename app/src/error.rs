//! The error type of every server function: the shared [`ApiError`] wrapped so it can travel
//! through `server_fn` and keep its HTTP status.

use aicarpool::api::ApiError;
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

/// Server-side helpers: set the HTTP status that matches the error, and for a plain form post
/// (no JavaScript yet) send the browser back to the page with the error code in the query.
#[cfg(feature = "ssr")]
pub mod respond {
    use super::AppError;
    use aicarpool::api::ApiError;
    use http::{HeaderValue, StatusCode, header};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Query parameter that carries an error back to a page after a plain form post.
    pub const ERROR_PARAM: &str = "error";

    /// Marks the response with the error's status (or a redirect for plain form posts) and
    /// returns the error for the server function to return.
    pub fn fail(error: ApiError) -> AppError {
        if let Some(response) = use_context::<ResponseOptions>() {
            match plain_form_return_path() {
                Some(path) => {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let location = format!("{path}{sep}{ERROR_PARAM}={}", error_code(&error));
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

    /// A stable code for an error, used in the query after a plain form post.
    pub fn error_code(error: &ApiError) -> &'static str {
        match error {
            ApiError::InvalidField { .. } => "invalid",
            ApiError::SetupTokenInvalid => "token",
            ApiError::SetupAlreadyDone => "done",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal | ApiError::Transport(_) => "internal",
        }
    }

    /// For a plain HTML form post, the same-origin path it came from (without its query).
    fn plain_form_return_path() -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
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
        let path = path.split(['?', '#']).next().unwrap_or("");
        Some(format!("/{path}"))
    }
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
