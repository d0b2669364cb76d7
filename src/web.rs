//! HTTP details of browser sessions shared by the JSON API and the server functions: where the
//! session token comes from, the session cookie, and the same-site check for changes.

use http::{HeaderMap, HeaderValue, header};

use crate::identity::SESSION_TTL;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "aicarpool_session";

/// The session token of a request and whether it came in the cookie (`true`) or in an
/// `Authorization: Bearer` header (`false`). The header wins.
pub fn session_token(headers: &HeaderMap) -> Option<(String, bool)> {
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

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure when the public URL is https.
pub fn session_cookie(app_url: &str, token: &str) -> Option<HeaderValue> {
    let secure = if app_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        SESSION_TTL.as_secs()
    );
    HeaderValue::from_str(&value).ok()
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
        assert_eq!(session_token(&h), Some(("abc".into(), false)));
        let h = headers(&[("cookie", "x=1; aicarpool_session=def")]);
        assert_eq!(session_token(&h), Some(("def".into(), true)));
        assert_eq!(
            session_token(&headers(&[("cookie", "aicarpool_session=")])),
            None
        );
    }

    #[test]
    fn the_cookie_is_secure_on_https_only() {
        let c = session_cookie("https://x.example", "t").unwrap();
        assert!(c.to_str().unwrap().ends_with("; Secure"));
        let c = session_cookie("http://localhost:3000", "t").unwrap();
        assert!(
            !c.to_str().unwrap().contains("Secure") && c.to_str().unwrap().contains("HttpOnly")
        );
    }
}
