//! Who is calling: the session token from `Authorization: Bearer …` or the HttpOnly session
//! cookie. Cookie-authenticated changes must come from this site (Origin / Referer check).

use std::net::SocketAddr;

use aicarpool::error::ServiceError;
use aicarpool::identity::{self, Principal, SESSION_TTL};
use aicarpool::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, header};

use super::error::ApiError;
use crate::ServerState;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "aicarpool_session";

/// A signed-in caller.
#[derive(Debug)]
pub struct Auth(pub Principal);

/// The token and how it came.
fn token_from(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), false));
    }
    cookie(headers, SESSION_COOKIE).map(|t| (t, true))
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

/// True when a state-changing, cookie-authenticated request comes from this site: its Origin
/// (or, lacking that, Referer) is the public URL's origin or the host it was sent to.
pub fn same_site(headers: &HeaderMap, app_url: &str) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
        });
    let Some(source) = source else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    origin_of(app_url).is_some_and(|o| o.eq_ignore_ascii_case(source))
        || host.is_some_and(|h| {
            source
                .split_once("://")
                .is_some_and(|(_, s)| s.eq_ignore_ascii_case(h))
        })
}

impl FromRequestParts<ServerState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let (token, by_cookie) = token_from(&parts.headers).ok_or(ServiceError::Unauthenticated)?;
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

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure when the public URL is https.
pub fn session_cookie(app: &AppState, token: &str) -> HeaderValue {
    let secure = if app.config().app_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        SESSION_TTL.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("aicarpool_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn same_site_accepts_the_public_origin_or_the_host_and_nothing_else() {
        let app = "https://carpool.example.com";
        assert!(same_site(
            &headers(&[("origin", "https://carpool.example.com")]),
            app
        ));
        assert!(same_site(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            app
        ));
        assert!(same_site(
            &headers(&[("referer", "https://carpool.example.com/groups/1")]),
            app
        ));
        assert!(!same_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "carpool.example.com")
            ]),
            app
        ));
        assert!(!same_site(
            &headers(&[("origin", "https://carpool.example.com.evil.example")]),
            app
        ));
        assert!(!same_site(&headers(&[("origin", "null")]), app));
        assert!(!same_site(&headers(&[]), app));
    }

    #[test]
    fn bearer_wins_over_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "aicarpool_session=def"),
        ]);
        assert_eq!(token_from(&h), Some(("abc".into(), false)));
        let h = headers(&[("cookie", "x=1; aicarpool_session=def")]);
        assert_eq!(token_from(&h), Some(("def".into(), true)));
        assert_eq!(
            token_from(&headers(&[("cookie", "aicarpool_session=")])),
            None
        );
    }
}
