//! The chat proxy's settings: the master key that encrypts upstream credentials, the request
//! body cap and the upstream deadlines.

use std::time::Duration;

use super::{ConfigError, Settings, check_secret, given};
use crate::secret::Secret;

/// Default cap on a proxied request body: 32 MiB, what Anthropic accepts (room for images).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default of `MAX_BODY_MEMORY`.
pub const DEFAULT_MAX_BODY_MEMORY: usize = 256 * 1024 * 1024;
/// Default deadline for the first byte of a streamed upstream answer.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default deadline for a whole upstream request.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(900);

/// Default cap on accounts tried for one request.
pub const DEFAULT_MAX_ATTEMPTS: usize = 3;
/// Default time a conversation stays pinned to its account.
pub const DEFAULT_STICKY_TTL: Duration = Duration::from_secs(3600);

/// Settings of the gateway.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Encrypts upstream API keys at rest; `None` until [`super::Config::resolve_secrets`]
    /// loads or generates it.
    pub master_key: Option<Secret<String>>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Request bodies of a megabyte and more held at once, in bytes (at least
    /// `max_body_bytes`); further large bodies wait for room.
    pub max_body_memory: usize,
    /// How long a large body waits for room before it is a 503.
    pub body_memory_wait: Duration,
    /// How long a streamed request waits for the upstream's first byte.
    pub first_byte_timeout: Duration,
    /// How long a whole upstream request may take.
    pub total_timeout: Duration,
    /// Accounts tried at most for one request.
    pub max_attempts: usize,
    /// How long a conversation stays on its account.
    pub sticky_ttl: Duration,
    /// Failures in a row that open an account's circuit.
    pub circuit_failures: u32,
    /// How long an open circuit keeps the account out at first.
    pub circuit_open: Duration,
    /// Prefix of Redis keys.
    pub redis_prefix: String,
    /// TLS settings for upstreams with the CAs of `UPSTREAM_CA_FILE`; `None`: the system's.
    pub upstream_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl GatewayConfig {
    /// The circuit breaker's tuning.
    pub fn health_policy(&self) -> crate::gateway::health::HealthPolicy {
        let default = crate::gateway::health::HealthPolicy::default();
        crate::gateway::health::HealthPolicy {
            failure_threshold: self.circuit_failures,
            open_for: self.circuit_open,
            open_max: self.circuit_open.saturating_mul(10),
            probe_timeout: self.first_byte_timeout.min(default.probe_timeout),
            last_resort_gap: self.circuit_open.min(default.last_resort_gap),
            ..default
        }
    }

    /// Validates the gateway settings.
    pub(super) fn from_settings(
        s: &Settings,
        defaults: &mut Vec<String>,
    ) -> Result<GatewayConfig, ConfigError> {
        let master_key = given(&s.master_key)
            .map(|key| check_secret("MASTER_KEY", key))
            .transpose()?;
        let max_body_bytes = match given(&s.max_body_bytes) {
            Some(value) => parse_bytes("MAX_BODY_BYTES", value)?,
            None => DEFAULT_MAX_BODY_BYTES,
        };
        let max_body_memory = match given(&s.max_body_memory) {
            Some(value) => parse_bytes("MAX_BODY_MEMORY", value)?,
            None => DEFAULT_MAX_BODY_MEMORY,
        }
        .max(max_body_bytes);
        let first_byte_timeout = match given(&s.upstream_first_byte_timeout) {
            Some(value) => parse_secs("UPSTREAM_FIRST_BYTE_TIMEOUT", value)?,
            None => DEFAULT_FIRST_BYTE_TIMEOUT,
        };
        let total_timeout = match given(&s.upstream_timeout) {
            Some(value) => parse_secs("UPSTREAM_TIMEOUT", value)?,
            None => DEFAULT_TOTAL_TIMEOUT,
        };
        let max_attempts = match given(&s.upstream_max_attempts) {
            Some(value) => match value.parse::<usize>() {
                Ok(n) if (1..=10).contains(&n) => n,
                _ => {
                    return Err(ConfigError::new(
                        "UPSTREAM_MAX_ATTEMPTS",
                        format!("{value:?} is not a number between 1 and 10"),
                    ));
                }
            },
            None => DEFAULT_MAX_ATTEMPTS,
        };
        let sticky_ttl = match given(&s.sticky_ttl) {
            Some(value) => parse_secs("STICKY_TTL", value)?,
            None => DEFAULT_STICKY_TTL,
        };
        let circuit_failures = match given(&s.circuit_failures) {
            Some(value) => match value.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(ConfigError::new(
                        "CIRCUIT_FAILURES",
                        format!("{value:?} is not a number between 1 and 1000"),
                    ));
                }
            },
            None => 5,
        };
        let circuit_open = match given(&s.circuit_open_secs) {
            Some(value) => parse_secs("CIRCUIT_OPEN_SECS", value)?,
            None => Duration::from_secs(30),
        };
        if first_byte_timeout > total_timeout {
            return Err(ConfigError::new(
                "UPSTREAM_FIRST_BYTE_TIMEOUT",
                format!(
                    "{} s is longer than UPSTREAM_TIMEOUT ({} s)",
                    first_byte_timeout.as_secs(),
                    total_timeout.as_secs()
                ),
            ));
        }
        let upstream_tls = given(&s.upstream_ca_file).map(upstream_tls).transpose()?;
        if master_key.is_none() {
            defaults.push(
                "MASTER_KEY not set: upstream keys are encrypted with the key kept in \
                 $DATA_DIR/master_key (every node of a cluster needs the same one)"
                    .to_owned(),
            );
        }
        Ok(GatewayConfig {
            master_key,
            max_body_bytes,
            max_body_memory,
            body_memory_wait: Duration::from_secs(30),
            first_byte_timeout,
            total_timeout,
            max_attempts,
            sticky_ttl,
            circuit_failures,
            circuit_open,
            redis_prefix: given(&s.redis_prefix).unwrap_or("acp:").to_owned(),
            upstream_tls,
        })
    }
}

/// The upstream TLS settings trusting the certificates in the PEM file at `path` as well
/// (`UPSTREAM_CA_FILE`).
pub fn upstream_tls(path: &str) -> Result<std::sync::Arc<rustls::ClientConfig>, ConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let error = |why: String| ConfigError::new("UPSTREAM_CA_FILE", why);
    let pem = std::fs::read(path).map_err(|e| error(format!("cannot read {path}: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("{path} is not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(error(format!("{path} holds no PEM certificate")));
    }
    crate::gateway::client::tls_config(certs)
        .map_err(|e| error(format!("the certificates in {path} cannot be used: {e}")))
}

/// A byte count, plain or with a `k`/`m` (binary) suffix: `1048576`, `512k`, `32m`.
fn parse_bytes(var: &'static str, value: &str) -> Result<usize, ConfigError> {
    let lower = value.to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix(['k', 'm']) {
        Some(d) if lower.ends_with('k') => (d, 1024),
        Some(d) => (d, 1024 * 1024),
        None => (lower.as_str(), 1),
    };
    let bytes = digits
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| {
            ConfigError::new(
                var,
                format!("{value:?} is not a size; use bytes, or a number with k or m (32m)"),
            )
        })?;
    if bytes < 1024 {
        return Err(ConfigError::new(
            var,
            format!("{value:?} is too small; requests need at least 1k"),
        ));
    }
    Ok(bytes)
}

/// A whole number of seconds, at least one.
fn parse_secs(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match value.parse::<u64>() {
        Ok(secs) if (1..=86_400).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::new(
            var,
            format!("{value:?} is not a number of seconds between 1 and 86400"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(s: Settings) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_settings(&s, &mut Vec::new())
    }

    #[test]
    fn defaults_hold_images_and_long_answers() {
        let g = gateway(Settings::default()).unwrap();
        assert_eq!(g.max_body_bytes, 32 * 1024 * 1024);
        assert_eq!(g.max_body_memory, 256 * 1024 * 1024);
        assert!(g.master_key.is_none());
        assert!(g.first_byte_timeout < g.total_timeout);
    }

    #[test]
    fn sizes_and_deadlines_parse_or_name_their_variable() {
        let g = gateway(Settings {
            max_body_bytes: Some("512k".into()),
            upstream_timeout: Some("30".into()),
            upstream_first_byte_timeout: Some("5".into()),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(g.max_body_bytes, 512 * 1024);
        assert_eq!(g.total_timeout, Duration::from_secs(30));
        // The bodies held at once are at least one whole body.
        let g = gateway(Settings {
            max_body_bytes: Some("64m".into()),
            max_body_memory: Some("16m".into()),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(g.max_body_memory, 64 * 1024 * 1024);
        let err = gateway(Settings {
            max_body_memory: Some("much".into()),
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(err.var, "MAX_BODY_MEMORY");
        let err = gateway(Settings {
            max_body_bytes: Some("lots".into()),
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(err.var, "MAX_BODY_BYTES");
        let err = gateway(Settings {
            upstream_timeout: Some("10".into()),
            upstream_first_byte_timeout: Some("20".into()),
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(err.var, "UPSTREAM_FIRST_BYTE_TIMEOUT");
        let err = gateway(Settings {
            master_key: Some("short".into()),
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(err.var, "MASTER_KEY");
    }

    #[test]
    fn upstream_ca_file_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = gateway(Settings {
            upstream_ca_file: Some(missing.display().to_string()),
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(err.var, "UPSTREAM_CA_FILE");
        assert!(err.to_string().contains("cannot read"), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = gateway(Settings {
            upstream_ca_file: Some(empty.display().to_string()),
            ..Settings::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");

        // Without the variable the system's roots are used (no settings of our own).
        assert!(gateway(Settings::default()).unwrap().upstream_tls.is_none());
    }
}
