//! Refusals and failures of the proxy, rendered in the caller's dialect: OpenAI's error object
//! on OpenAI routes, Anthropic's on `/v1/messages*`. Messages say what to do; they never carry
//! upstream credentials or internal details.

use http::{HeaderName, HeaderValue};
use serde_json::{Value, json};

/// Which error shape the caller speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
}

/// What kind of failure, which fixes the status and the dialects' type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request itself is wrong.
    InvalidRequest,
    /// 401: no key, unknown key, revoked or expired key.
    Authentication,
    /// 403: the key may not do this.
    Permission,
    /// 404: unknown model or route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 408: the request body stalled.
    RequestTimeout,
    /// 413: the body is over the cap.
    TooLarge,
    /// 415: not JSON.
    UnsupportedMediaType,
    /// 429: rate-limited (by a budget or by every upstream).
    RateLimit,
    /// 502: the upstream failed.
    BadGateway,
    /// 503: no account can serve right now.
    Unavailable,
    /// 504: the upstream did not answer in time.
    Timeout,
    /// 500: a bug; details are in the log.
    Internal,
}

impl ErrorKind {
    /// HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Authentication => 401,
            Self::Permission => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimit => 429,
            Self::BadGateway => 502,
            Self::Unavailable => 503,
            Self::Timeout => 504,
            Self::Internal => 500,
        }
    }

    /// OpenAI's `type` and `code`.
    fn openai(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::InvalidRequest => ("invalid_request_error", None),
            Self::Authentication => ("invalid_request_error", Some("invalid_api_key")),
            Self::Permission => ("invalid_request_error", Some("permission_denied")),
            Self::NotFound => ("invalid_request_error", Some("model_not_found")),
            Self::MethodNotAllowed => ("invalid_request_error", Some("method_not_allowed")),
            Self::RequestTimeout => ("invalid_request_error", Some("request_timeout")),
            Self::TooLarge => ("invalid_request_error", Some("request_too_large")),
            Self::UnsupportedMediaType => ("invalid_request_error", Some("unsupported_media_type")),
            Self::RateLimit => ("rate_limit_error", Some("rate_limit_exceeded")),
            Self::BadGateway => ("server_error", Some("upstream_error")),
            Self::Unavailable => ("server_error", Some("no_available_account")),
            Self::Timeout => ("server_error", Some("upstream_timeout")),
            Self::Internal => ("server_error", None),
        }
    }

    /// Anthropic's error `type`.
    fn anthropic(self) -> &'static str {
        match self {
            Self::InvalidRequest
            | Self::UnsupportedMediaType
            | Self::MethodNotAllowed
            | Self::RequestTimeout => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::TooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::BadGateway | Self::Internal => "api_error",
            Self::Unavailable => "overloaded_error",
            Self::Timeout => "timeout_error",
        }
    }
}

/// The longest `retry-after` a client is left to wait out. The OpenAI and Anthropic SDKs and
/// Codex CLI sleep for whatever `retry-after` says (a budget's reset days away would hang
/// them silently), and Claude Code retries a 429 or 5xx ten times over three minutes; past
/// this wait the answer has no `retry-after` and says `x-should-retry: false`, which the
/// SDKs and Claude Code obey.
pub const MAX_RETRY_WAIT_SECS: u64 = 60;

/// A refusal or failure of one proxied request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    /// The kind.
    pub kind: ErrorKind,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The request field at fault.
    pub param: Option<String>,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after_secs: Option<u64>,
    /// A short class for the usage record and logs (`upstream_timeout`, `bad_json`, …).
    pub class: &'static str,
    /// Extra response headers (`x-ratelimit-*` on budget refusals).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl GatewayError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, class: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
            retry_after_secs: None,
            class,
            headers: Vec::new(),
        }
    }

    /// A 400 naming the field at fault.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.into()),
            ..Self::new(ErrorKind::InvalidRequest, "invalid_request", message)
        }
    }

    /// Sets the retry hint.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Whether a client retrying soon may be served: not when the wait is longer than SDKs
    /// wait (a `retry-after` past [`MAX_RETRY_WAIT_SECS`]), nor for a budget refusal without
    /// a reset. Otherwise the client's own rules decide.
    pub fn retry_may_help(&self) -> bool {
        match self.retry_after_secs {
            Some(secs) => secs <= MAX_RETRY_WAIT_SECS,
            None => self.class != "budget_exceeded",
        }
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The JSON body in `dialect`.
    pub fn body(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::OpenAi => {
                let (kind, code) = self.kind.openai();
                // Where the kind covers several cases, the class says which.
                let code = match (self.kind, self.class) {
                    (ErrorKind::NotFound, "unknown_route" | "response_not_found")
                    | (ErrorKind::Unavailable, "body_memory_full")
                    | (ErrorKind::UnsupportedMediaType, _) => Some(self.class),
                    _ => code,
                };
                json!({"error": {
                    "message": self.message,
                    "type": kind,
                    "param": self.param,
                    "code": code,
                }})
            }
            Dialect::Anthropic => {
                // Anthropic's shape has no `param`, so the message names the field itself.
                let message = match self.param.as_deref() {
                    Some(p) if !p.is_empty() && !self.message.contains(p) => {
                        format!("{p}: {}", self.message)
                    }
                    _ => self.message.clone(),
                };
                json!({
                    "type": "error",
                    "error": {"type": self.kind.anthropic(), "message": message},
                })
            }
        }
    }
}

/// Removes anything that looks like a credential from upstream text before a client sees it:
/// the account's own key, and `sk-…` / `acp_…` style tokens.
pub fn scrub(text: &str, secret: &str) -> String {
    let mut out = if secret.len() >= 8 {
        text.replace(secret, "[redacted]")
    } else {
        text.to_owned()
    };
    for prefix in ["sk-", "acp_", "sk_", "AIza"] {
        let mut from = 0;
        while let Some(i) = out[from..].find(prefix).map(|i| i + from) {
            let end = out[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .map_or(out.len(), |e| e + i);
            if end - i > prefix.len() + 3 {
                out.replace_range(i..end, "[redacted]");
                from = i + "[redacted]".len();
            } else {
                from = end;
            }
        }
    }
    let mut short: String = out.chars().take(500).collect();
    if short.len() < out.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_gets_its_own_shape() {
        let e = GatewayError::invalid("messages", "messages must be an array");
        assert_eq!(e.status(), 400);
        let o = e.body(Dialect::OpenAi);
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert_eq!(o["error"]["param"], "messages");
        let a = e.body(Dialect::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "invalid_request_error");
        assert_eq!(a["error"]["message"], "messages must be an array");
        // Anthropic's shape has no param: a message that doesn't name the field gets it.
        let bare = GatewayError::invalid("tools[0].name", "every tool needs a name");
        assert_eq!(
            bare.body(Dialect::Anthropic)["error"]["message"],
            "tools[0].name: every tool needs a name"
        );
        assert_eq!(
            bare.body(Dialect::OpenAi)["error"]["message"],
            "every tool needs a name"
        );
        let t = GatewayError::new(ErrorKind::Timeout, "upstream_timeout", "slow");
        assert_eq!(t.body(Dialect::Anthropic)["error"]["type"], "timeout_error");
        assert_eq!(t.status(), 504);
    }

    #[test]
    fn credentials_never_reach_the_client() {
        let text = "Incorrect API key provided: sk-proj-abcdef123456. Key sk-x ok. my-secret-key-123 acp_ZZZZZZZZ";
        let s = scrub(text, "my-secret-key-123");
        assert!(!s.contains("abcdef123456"), "{s}");
        assert!(!s.contains("my-secret-key-123"), "{s}");
        assert!(!s.contains("ZZZZZZZZ"), "{s}");
        assert!(s.contains("sk-x ok"), "{s}");
    }

    /// An answer that retrying soon cannot change says so (`x-should-retry: false`, and no
    /// `retry-after` to sit out): a wait past a minute, or a budget that does not reset. A
    /// short wait leaves clients to retry after `retry-after`.
    #[test]
    fn long_waits_tell_clients_not_to_retry() {
        use crate::gateway::ProxyResponse;
        let named = |e: &GatewayError, name: &str| {
            ProxyResponse::error(e, Dialect::Anthropic)
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        let header = |e: &GatewayError| {
            let no_retry = named(e, "x-should-retry");
            if no_retry.is_some() {
                assert_eq!(named(e, "retry-after"), None, "{e:?}");
            }
            no_retry
        };
        let short = GatewayError::new(ErrorKind::RateLimit, "accounts_at_cap", "x").retry_after(1);
        assert_eq!(named(&short, "retry-after"), Some("1".into()));
        let cooling = GatewayError::new(ErrorKind::RateLimit, "upstream_rate_limited", "x");
        assert_eq!(
            header(&cooling.clone().retry_after(3600)),
            Some("false".into())
        );
        assert_eq!(header(&cooling.clone().retry_after(60)), None);
        assert_eq!(header(&cooling), None);
        let budget = GatewayError::new(ErrorKind::RateLimit, "budget_exceeded", "x");
        assert_eq!(header(&budget), Some("false".into()));
        assert_eq!(header(&budget.retry_after(30)), None);
        let failed = GatewayError::new(ErrorKind::BadGateway, "upstream_error", "x");
        assert_eq!(header(&failed), None);
    }
}
