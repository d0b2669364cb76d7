//! The checks an account's fields pass before they are stored: name, base URL, key, models
//! and aliases, weight and priority, proxy URL.

use std::collections::BTreeMap;

use crate::error::ServiceError;
use crate::gateway::client;
use crate::model::Provider;
use crate::validate::FieldError;

/// Longest account name.
pub const ACCOUNT_NAME_MAX: usize = 100;
/// Most models one account may list.
const MODELS_MAX: usize = 500;
/// Longest model name.
const MODEL_NAME_MAX: usize = 200;

/// A broken rule of `field`, answered as a 400 that names it.
pub(super) fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

/// The checked, normalised fields of an account.
pub(super) struct Checked {
    pub(super) name: String,
    pub(super) base_url: String,
    pub(super) api_key: Option<String>,
    pub(super) models: Vec<String>,
    pub(super) aliases: BTreeMap<String, String>,
    pub(super) proxy_url: Option<String>,
    pub(super) weight: u32,
    pub(super) priority: i32,
    pub(super) enabled: bool,
}

pub(super) fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name")(FieldError::Required));
    }
    if name.chars().count() > ACCOUNT_NAME_MAX {
        return Err(ServiceError::invalid("name")(FieldError::TooLong {
            max: ACCOUNT_NAME_MAX,
        }));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("name")(FieldError::ControlChars));
    }
    Ok(name.to_owned())
}

pub(super) fn check_base_url(provider: Provider, raw: &str) -> Result<String, ServiceError> {
    let raw = raw.trim();
    let raw = if raw.is_empty() {
        provider.default_base_url()
    } else {
        raw
    };
    if raw.is_empty() {
        return Err(rule(
            "base_url",
            "is required for openai_compatible accounts, e.g. https://api.deepseek.com/v1",
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| rule("base_url", format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(rule("base_url", "must be an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(rule(
            "base_url",
            "must not carry a query string or fragment",
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

pub(super) fn check_key(key: &str) -> Result<String, ServiceError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ServiceError::invalid("api_key")(FieldError::Required));
    }
    if key.len() > 4096 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(rule(
            "api_key",
            "must be one line without spaces (paste the key exactly as the provider shows it)",
        ));
    }
    Ok(key.to_owned())
}

pub(super) fn check_models(models: &[String]) -> Result<Vec<String>, ServiceError> {
    if models.len() > MODELS_MAX {
        return Err(rule("models", format!("at most {MODELS_MAX} models")));
    }
    let mut out: Vec<String> = Vec::with_capacity(models.len());
    for m in models {
        let m = m.trim();
        if m.is_empty() || m.chars().count() > MODEL_NAME_MAX || m.chars().any(char::is_control) {
            return Err(rule(
                "models",
                format!("each model name must be 1 to {MODEL_NAME_MAX} printable characters"),
            ));
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_owned());
        }
    }
    Ok(out)
}

pub(super) fn check_aliases(
    aliases: &BTreeMap<String, String>,
    models: &[String],
) -> Result<BTreeMap<String, String>, ServiceError> {
    let mut out = BTreeMap::new();
    for (alias, target) in aliases {
        let (alias, target) = (alias.trim(), target.trim());
        for name in [alias, target] {
            if name.is_empty() || name.chars().count() > MODEL_NAME_MAX {
                return Err(rule(
                    "model_aliases",
                    "aliases and their models must be 1 to 200 characters",
                ));
            }
        }
        if !models.is_empty() && !models.iter().any(|m| m == target) {
            return Err(rule(
                "model_aliases",
                format!("the alias {alias} points to {target}, which is not in models"),
            ));
        }
        out.insert(alias.to_owned(), target.to_owned());
    }
    Ok(out)
}

pub(super) fn check_weight(weight: Option<u32>, default: u32) -> Result<u32, ServiceError> {
    let weight = weight.unwrap_or(default);
    if weight > 10_000 {
        return Err(rule("weight", "must be between 0 and 10000"));
    }
    Ok(weight)
}

pub(super) fn check_priority(priority: Option<i32>, default: i32) -> Result<i32, ServiceError> {
    let priority = priority.unwrap_or(default);
    if !(-1000..=1000).contains(&priority) {
        return Err(rule("priority", "must be between -1000 and 1000"));
    }
    Ok(priority)
}

pub(super) fn check_proxy(proxy: Option<&str>) -> Result<Option<(String, String)>, ServiceError> {
    match proxy.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            let shown = client::check_proxy_url(p).map_err(|e| rule("proxy_url", e.to_string()))?;
            Ok(Some((p.to_owned(), shown)))
        }
    }
}

/// A cap as stored: 0 or absent is no cap.
pub(super) fn cap(value: Option<u64>) -> Option<i64> {
    value.filter(|v| *v > 0).and_then(|v| i64::try_from(v).ok())
}

/// The last four characters of a key: all that is ever shown of it.
pub(super) fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}
