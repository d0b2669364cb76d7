//! One pooled HTTP client per upstream account, each with its own proxy
//! (`http://`, `https://`, `socks5://`, `socks5h://`, credentials allowed).

use std::time::Duration;

/// How long connecting (through the proxy, TLS included) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle pooled connections are closed after this.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a proxy URL was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    /// Not a URL at all.
    #[error("proxy_url is not a URL: {0}")]
    NotAUrl(String),
    /// A scheme reqwest cannot tunnel through.
    #[error("proxy_url must start with http://, https://, socks5:// or socks5h://")]
    Scheme,
    /// No host.
    #[error("proxy_url has no host")]
    NoHost,
}

/// Checks a proxy URL and returns it as shown to people: the password replaced by `****`.
pub fn check_proxy_url(raw: &str) -> Result<String, ProxyUrlError> {
    let mut url = url::Url::parse(raw.trim()).map_err(|e| ProxyUrlError::NotAUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(ProxyUrlError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ProxyUrlError::NoHost);
    }
    if url.password().is_some() {
        // Setting a password only fails on URLs without a host, excluded above.
        let _ = url.set_password(Some("****"));
    }
    Ok(url.to_string())
}

/// Builds the client for an account. `proxy` was checked by [`check_proxy_url`] when stored.
pub fn build(proxy: Option<&str>) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        // Never follow a redirect with the account's key to another host.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("AiCarpool/", env!("CARGO_PKG_VERSION")));
    builder = match proxy {
        Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy)?),
        // No proxy configured means none: do not pick up HTTP_PROXY from the environment.
        None => builder.no_proxy(),
    };
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_checked_and_passwords_masked() {
        assert_eq!(
            check_proxy_url("socks5h://user:pa55@127.0.0.1:1080").unwrap(),
            "socks5h://user:****@127.0.0.1:1080"
        );
        assert_eq!(
            check_proxy_url("http://proxy.lan:3128").unwrap(),
            "http://proxy.lan:3128/"
        );
        assert_eq!(
            check_proxy_url("ftp://proxy.lan"),
            Err(ProxyUrlError::Scheme)
        );
        assert!(matches!(
            check_proxy_url("not a url"),
            Err(ProxyUrlError::NotAUrl(_))
        ));
        for ok in [
            "http://a:1",
            "https://a:1",
            "socks5://a:1",
            "socks5h://u:p@a:1",
        ] {
            assert!(build(Some(ok)).is_ok(), "{ok}");
        }
    }
}
