//! The JSON API's error: one status per [`ServiceError`], a body a person can act on, the cause
//! logged but never shown (no database or internal text reaches the client).

use aicarpool::error::ServiceError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// An API refusal or failure.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        ApiError(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "send the body as JSON with the header Content-Type: application/json".to_owned()
            }
            JsonRejection::JsonSyntaxError(e) => {
                format!("the body is not valid JSON: {}", e.body_text())
            }
            JsonRejection::JsonDataError(e) => format!(
                "the JSON does not have the expected fields: {}",
                e.body_text()
            ),
            other => other.body_text(),
        };
        ApiError(ServiceError::BadInput(message))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(ServiceError::BadInput(format!(
            "bad path: {}",
            rejection.body_text()
        )))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &err {
            ServiceError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "internal error; the server log has the details".to_owned()
            }
            ServiceError::Unavailable => {
                tracing::warn!("database unavailable");
                err.to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": { "code": err.code(), "message": message } });
        if let ServiceError::Invalid { field, error } = &err {
            body["error"]["field"] = json!(field);
            body["error"]["reason"] = json!(error);
        }
        let mut response = (status, Json(body)).into_response();
        if let ServiceError::RateLimited { retry_after_secs } = err
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
