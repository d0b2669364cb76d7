//! Talking to one upstream account: which wire format it speaks for each client endpoint, the
//! URL and headers of the request, and how a failed attempt is classified (move on to the next
//! account, or hand the error back to the client).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::catalog::Account;
use super::client;
use super::error::{ErrorKind, GatewayError, scrub};
use super::health::HealthEvent;
use crate::model::Provider;

/// The Anthropic API version sent when the client named none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// A wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// Anthropic token counting.
    CountTokens,
    /// OpenAI Responses.
    Responses,
}

/// The client endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    ChatCompletions,
    /// `/v1/messages`.
    Messages,
    /// `/v1/messages/count_tokens`.
    CountTokens,
    /// `/v1/responses`.
    Responses,
}

impl Endpoint {
    /// The wire format the client speaks.
    pub fn wire(self) -> Wire {
        match self {
            Self::ChatCompletions => Wire::Chat,
            Self::Messages => Wire::Messages,
            Self::CountTokens => Wire::CountTokens,
            Self::Responses => Wire::Responses,
        }
    }

    /// The error dialect of the endpoint.
    pub fn dialect(self) -> super::error::Dialect {
        match self {
            Self::Messages | Self::CountTokens => super::error::Dialect::Anthropic,
            Self::ChatCompletions | Self::Responses => super::error::Dialect::OpenAi,
        }
    }

    /// The name in usage records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat_completions",
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::Responses => "responses",
        }
    }

    /// What the account speaks for this endpoint; `None` when it cannot serve it upstream
    /// (token counting at an OpenAI-style provider is estimated locally).
    pub fn upstream_wire(self, provider: Provider) -> Option<Wire> {
        let anthropic = provider == Provider::Anthropic;
        match self {
            Self::ChatCompletions if anthropic => Some(Wire::Messages),
            Self::ChatCompletions => Some(Wire::Chat),
            Self::Messages if anthropic => Some(Wire::Messages),
            Self::Messages => Some(Wire::Chat),
            Self::CountTokens if anthropic => Some(Wire::CountTokens),
            Self::CountTokens => None,
            Self::Responses if provider == Provider::OpenAi => Some(Wire::Responses),
            Self::Responses if anthropic => Some(Wire::Messages),
            Self::Responses => Some(Wire::Chat),
        }
    }
}

/// The upstream URL for `wire`, with the client's query string for Anthropic (`?beta=true`).
pub fn url(account: &Account, wire: Wire, query: Option<&str>) -> String {
    let path = match (account.provider, wire) {
        (Provider::Anthropic, Wire::CountTokens) => "/v1/messages/count_tokens",
        (Provider::Anthropic, _) => "/v1/messages",
        (_, Wire::Responses) => "/responses",
        (_, _) => "/chat/completions",
    };
    let mut url = format!("{}{path}", account.base_url);
    if account.provider == Provider::Anthropic
        && let Some(query) = query.filter(|q| !q.is_empty())
    {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// The request to send: credentials of the account, the client's Anthropic version and beta
/// flags where they matter, and the body.
pub fn request(
    account: &Account,
    wire: Wire,
    client_headers: &HeaderMap,
    query: Option<&str>,
    body: bytes::Bytes,
) -> Result<http::Request<bytes::Bytes>, client::Error> {
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = parse_uri(&url(account, wire, query))?;
    let headers = req.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    credentials(account, headers)?;
    match account.provider {
        Provider::Anthropic => {
            let version = client_headers
                .get("anthropic-version")
                .cloned()
                .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
            headers.insert("anthropic-version", version);
            for beta in client_headers.get_all("anthropic-beta") {
                headers.append("anthropic-beta", beta.clone());
            }
        }
        _ => {
            if let Some(beta) = client_headers.get("openai-beta") {
                headers.insert("openai-beta", beta.clone());
            }
        }
    }
    Ok(req)
}

/// `GET` of the provider's model list, which costs no tokens: the account's connection test.
pub fn models_request(account: &Account) -> Result<http::Request<bytes::Bytes>, client::Error> {
    let url = match account.provider {
        Provider::Anthropic => format!("{}/v1/models", account.base_url),
        _ => format!("{}/models", account.base_url),
    };
    let mut req = http::Request::new(bytes::Bytes::new());
    *req.uri_mut() = parse_uri(&url)?;
    let headers = req.headers_mut();
    credentials(account, headers)?;
    if account.provider == Provider::Anthropic {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION),
        );
    }
    Ok(req)
}

pub(super) fn parse_uri(url: &str) -> Result<http::Uri, client::Error> {
    url.parse()
        .map_err(|e| client::Error::request(format!("the account's base URL is not usable: {e}")))
}

/// An account's key, in the header its provider reads; marked sensitive. Worked out once
/// per account when the catalog is built.
pub fn credential(provider: Provider, key: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match provider {
        Provider::Anthropic => (
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_str(key),
        ),
        _ => (
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}")),
        ),
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// Adds the account's credential to `headers`.
pub(super) fn credentials(account: &Account, headers: &mut HeaderMap) -> Result<(), client::Error> {
    let (name, value) = account.credential.clone().ok_or_else(|| {
        client::Error::request("the account's API key has characters a header cannot carry")
    })?;
    headers.insert(name, value);
    Ok(())
}

/// One failed attempt.
#[derive(Debug)]
pub struct AttemptFailure {
    /// Whether the next candidate should be tried.
    pub retryable: bool,
    /// What the client gets if this is the last attempt.
    pub error: GatewayError,
    /// The provider's status, when it answered.
    pub status: Option<u16>,
    /// Whether the account itself is at fault (bad key, disabled): flagged for its managers.
    pub account_fault: bool,
    /// What this says about the account's health; `None` when the request was at fault.
    pub event: Option<HealthEvent>,
}

/// Classifies a transport error (no HTTP response).
pub fn transport_failure(err: &client::Error) -> AttemptFailure {
    if err.kind() == client::Kind::Request {
        return AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_config",
                format!(
                    "the shared upstream account cannot be used ({err}); the group's admins have been told"
                ),
            ),
            status: None,
            account_fault: true,
            event: Some(HealthEvent::Failure),
        };
    }
    let (kind, class, message) = if err.is_timeout() {
        (
            ErrorKind::Timeout,
            "upstream_timeout",
            "the upstream did not answer in time",
        )
    } else if err.is_connect() {
        (
            ErrorKind::BadGateway,
            "upstream_connect",
            "could not connect to the upstream (or its proxy)",
        )
    } else {
        (
            ErrorKind::BadGateway,
            "upstream_io",
            "the connection to the upstream failed",
        )
    };
    AttemptFailure {
        retryable: true,
        error: GatewayError::new(kind, class, message),
        status: None,
        account_fault: false,
        event: Some(HealthEvent::Failure),
    }
}

/// Classifies an HTTP error answer from the provider, whose body is `body`.
pub fn status_failure(
    account: &Account,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> AttemptFailure {
    let upstream_message = error_message(body)
        .map(|m| scrub_for_client(&m, account.api_key.expose(), &account.base_url))
        .unwrap_or_default();
    if status >= 500 && !upstream_message.is_empty() {
        // The provider's own trouble: its words are for the admins (the log), not the caller.
        tracing::warn!(account = account.id, status, upstream = %upstream_message, "upstream failed");
    }
    let with_detail = |text: &str| {
        if upstream_message.is_empty() {
            text.to_owned()
        } else {
            format!("{text}: {upstream_message}")
        }
    };
    match status {
        401 | 403 => AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_auth",
                "the shared upstream account was refused by its provider (its key is invalid or lacks access); the group's admins have been told",
            ),
            status: Some(status),
            account_fault: true,
            event: Some(HealthEvent::AuthFailed),
        },
        // DeepSeek, Moonshot, OpenRouter and others answer 402 when the account's balance is
        // used up: the account's problem, not the request's; the next account may serve it.
        402 => AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_payment_required",
                format!(
                    "{}; the group's admins have been told",
                    with_detail(
                        "the shared upstream account is out of credit with its provider (HTTP 402)"
                    )
                ),
            ),
            status: Some(status),
            account_fault: true,
            // Not `AuthFailed` (out until an admin saves the account): once the balance is
            // topped up, the circuit's probe brings the account back by itself.
            event: Some(HealthEvent::Failure),
        },
        407 => AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_proxy_auth",
                "the shared upstream account's proxy refused its credentials; the group's admins have been told",
            ),
            status: Some(status),
            account_fault: true,
            event: Some(HealthEvent::AuthFailed),
        },
        429 => {
            let retry = retry_after_secs(headers);
            let mut error = GatewayError::new(
                ErrorKind::RateLimit,
                "upstream_rate_limited",
                "every account serving this model is rate-limited by its provider; retry later",
            );
            error.retry_after_secs = Some(retry.unwrap_or(1));
            let now = crate::db::now_ms();
            AttemptFailure {
                retryable: true,
                error,
                status: Some(status),
                account_fault: false,
                event: Some(HealthEvent::RateLimited(retry.map(|secs| {
                    now + i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
                }))),
            }
        }
        408 | 409 | 425 | 500..=599 => AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                if status == 504 || status == 408 {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::BadGateway
                },
                "upstream_error",
                format!(
                    "the upstream failed with HTTP {status}; retry later or ask the group's admins"
                ),
            ),
            status: Some(status),
            account_fault: false,
            event: Some(HealthEvent::Failure),
        },
        404 => AttemptFailure {
            retryable: false,
            error: GatewayError::new(
                ErrorKind::NotFound,
                "upstream_not_found",
                with_detail("the upstream does not know this model or route"),
            ),
            status: Some(status),
            account_fault: false,
            event: None,
        },
        413 => AttemptFailure {
            retryable: false,
            error: GatewayError::new(
                ErrorKind::TooLarge,
                "upstream_too_large",
                with_detail("the upstream refused the request as too large"),
            ),
            status: Some(status),
            account_fault: false,
            event: None,
        },
        // 1xx, 3xx (redirects are not followed) and made-up codes: the provider misbehaves.
        _ if !(400..500).contains(&status) => AttemptFailure {
            retryable: true,
            error: GatewayError::new(
                ErrorKind::BadGateway,
                "upstream_bad_status",
                format!("the upstream answered with an unexpected HTTP status {status}"),
            ),
            status: Some(status),
            account_fault: false,
            event: Some(HealthEvent::Failure),
        },
        _ => AttemptFailure {
            retryable: false,
            error: GatewayError::new(
                ErrorKind::InvalidRequest,
                "upstream_rejected",
                with_detail("the upstream rejected the request"),
            ),
            status: Some(status),
            account_fault: false,
            event: None,
        },
    }
}

/// Upstream text fit for the caller: no credentials (see [`scrub`]), no URLs (the account's
/// base URL or the provider's internal hosts) and not the account's host.
fn scrub_for_client(text: &str, key: &str, base_url: &str) -> String {
    let mut out = scrub(text, key);
    for scheme in ["http://", "https://"] {
        while let Some(i) = out.find(scheme) {
            let end = out[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | ','))
                .map_or(out.len(), |e| e + i);
            out.replace_range(i..end, "[url]");
        }
    }
    if let Some(authority) = base_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().cloned())
    {
        for host in [authority.as_str(), authority.host()] {
            if host.len() >= 4 {
                out = out.replace(host, "[upstream]");
            }
        }
    }
    out
}

/// The message inside either provider's error body.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/message")
        .or_else(|| v.get("message"))
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The longest cooldown an upstream's rate-limit headers can put an account in: after it the
/// account is tried again (and cools down again if it is still limited). A provider's (or a
/// broken proxy's) `retry-after: 100000000000` must not take an account out for ages.
pub const MAX_UPSTREAM_COOLDOWN_SECS: u64 = 3600;

/// Seconds until the provider accepts requests again, from `retry-after` (seconds or an HTTP
/// date), `retry-after-ms`, or the reset headers of Anthropic and OpenAI; at most
/// [`MAX_UPSTREAM_COOLDOWN_SECS`].
pub fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    provider_retry_after_secs(headers).map(|secs| secs.min(MAX_UPSTREAM_COOLDOWN_SECS))
}

fn provider_retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some((ms / 1000.0).ceil().max(0.0) as u64);
    }
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.trim().parse::<f64>() {
            return Some(secs.ceil().max(0.0) as u64);
        }
        if let Ok(at) = httpdate_secs(v) {
            return Some(at);
        }
    }
    let now = crate::db::now_ms();
    for name in [
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-output-tokens-reset",
    ] {
        if let Some(at) = text(name).and_then(crate::timefmt::parse_rfc3339_ms) {
            return Some(u64::try_from((at - now).max(0)).unwrap_or(0).div_ceil(1000));
        }
    }
    for name in ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"] {
        if let Some(d) = text(name).and_then(parse_go_duration) {
            return Some(d.as_secs_f64().ceil() as u64);
        }
    }
    None
}

/// An HTTP date as seconds from now.
fn httpdate_secs(text: &str) -> Result<u64, httpdate::Error> {
    let at = httpdate::parse_http_date(text.trim())?;
    Ok(at
        .duration_since(std::time::SystemTime::now())
        .map_or(0, |d| d.as_secs_f64().ceil() as u64))
}

/// OpenAI's reset values: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += value * unit;
        any = true;
    }
    (any && number.is_empty()).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_see_no_upstream_urls_hosts_or_keys() {
        let text = "bad thing at http://10.0.0.5:8000/v1/x, see https://127.0.0.1:45785/v1 \
                    (host 127.0.0.1:45785, key upstream-key-123) docs: https://platform.openai.com/docs";
        let s = scrub_for_client(text, "upstream-key-123", "http://127.0.0.1:45785/v1");
        for leak in [
            "10.0.0.5",
            "127.0.0.1",
            "45785",
            "upstream-key-123",
            "platform.openai",
        ] {
            assert!(!s.contains(leak), "{leak} in {s}");
        }
        assert!(
            s.starts_with("bad thing at [url], see [url] (host [upstream], key [redacted])"),
            "{s}"
        );
    }

    #[test]
    fn reset_headers_of_each_provider_are_read() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after_secs(&h), Some(7));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset-requests", "6m0s".parse().unwrap());
        assert_eq!(retry_after_secs(&h), Some(360));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset-tokens", "20ms".parse().unwrap());
        assert_eq!(retry_after_secs(&h), Some(1));
        let mut h = HeaderMap::new();
        let at = crate::timefmt::format_rfc3339(crate::db::now_ms() + 30_000);
        h.insert("anthropic-ratelimit-requests-reset", at.parse().unwrap());
        let secs = retry_after_secs(&h).unwrap();
        assert!((29..=31).contains(&secs), "{secs}");
        assert_eq!(retry_after_secs(&HeaderMap::new()), None);
        for absurd in ["100000000000", "1e300", "Fri, 01 Jan 9999 00:00:00 GMT"] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", absurd.parse().unwrap());
            assert_eq!(
                retry_after_secs(&h),
                Some(MAX_UPSTREAM_COOLDOWN_SECS),
                "{absurd}"
            );
        }
    }

    #[test]
    fn endpoints_map_to_each_providers_wire() {
        assert_eq!(
            Endpoint::ChatCompletions.upstream_wire(Provider::Anthropic),
            Some(Wire::Messages)
        );
        assert_eq!(
            Endpoint::Messages.upstream_wire(Provider::OpenAiCompatible),
            Some(Wire::Chat)
        );
        assert_eq!(
            Endpoint::Responses.upstream_wire(Provider::OpenAi),
            Some(Wire::Responses)
        );
        assert_eq!(
            Endpoint::Responses.upstream_wire(Provider::Gemini),
            Some(Wire::Chat)
        );
        assert_eq!(Endpoint::CountTokens.upstream_wire(Provider::OpenAi), None);
    }
}
