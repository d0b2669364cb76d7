//! `/api/settings`: instance-wide settings. Today the USD->CNY rate the browser shows amounts
//! at for users who chose CNY; the API itself always answers in USD.

use aicarpool::currency;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::session::Auth;
use super::{ApiError, Body};
use crate::ServerState;

/// `GET /api/settings` (any signed-in user).
pub async fn get_settings(
    State(state): State<ServerState>,
    Auth(_principal): Auth,
) -> Result<Response, ApiError> {
    Ok(Json(currency::settings(&state.app).await?).into_response())
}

/// `{cny_per_usd}`: a decimal number or string with up to 4 decimals; `null` goes back to the
/// `CNY_PER_USD` default.
#[derive(Debug, serde::Deserialize)]
pub struct SettingsBody {
    cny_per_usd: Value,
}

/// `PUT /api/settings` (system administrator).
pub async fn put_settings(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Body(body): Body<SettingsBody>,
) -> Result<Response, ApiError> {
    let text = match &body.cny_per_usd {
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => Some(String::new()),
    };
    let view = currency::set_rate(&state.app, &principal, text.as_deref()).await?;
    Ok(Json(view).into_response())
}
