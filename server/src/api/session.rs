//! Who is calling: the session token from `Authorization: Bearer …` or the HttpOnly session
//! cookie. Cookie-authenticated changes must come from this site (Origin / Referer check).

use std::net::SocketAddr;

use aicarpool::error::ServiceError;
use aicarpool::identity::{self, Principal};
use aicarpool::state::AppState;
pub use aicarpool::web::clear_session_cookie;
use aicarpool::web::{same_site, session_token};
use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{HeaderValue, Method};

use super::error::ApiError;
use crate::ServerState;

/// A signed-in caller.
#[derive(Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<ServerState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let (token, by_cookie) =
            session_token(&parts.headers).ok_or(ServiceError::Unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if by_cookie && !safe && !same_site(&parts.headers, &state.app.config().app_url) {
            return Err(ServiceError::Forbidden(
                "cross-site request refused: changes with the session cookie must come from this site \
                 (or use the Authorization: Bearer header)"
                    .into(),
            )
            .into());
        }
        Ok(Auth(identity::authenticate(&state.app, &token).await?))
    }
}

/// The client's address for throttling.
pub fn client_address(parts_extensions: &http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(
            || "unknown".to_owned(),
            |ConnectInfo(addr)| addr.ip().to_string(),
        )
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(app: &AppState, token: &str) -> HeaderValue {
    aicarpool::web::session_cookie(&app.config().app_url, token)
        .unwrap_or_else(|| HeaderValue::from_static(""))
}
