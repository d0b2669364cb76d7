//! Reading single values of the configuration: ports, URLs, secrets, the mail settings.
//! Each check returns a [`ConfigError`] naming the variable and saying what would be right.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::api::DbBackend;
use crate::secret::Secret;

use super::{ConfigError, DatabaseConfig, Settings, SmtpConfig, SmtpSecurity, given};

pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The file path in an `sqlite://` or `sqlite:` URL, without query parameters.
pub fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

pub(super) fn parse_port(
    var: &'static str,
    value: &str,
    allow_zero: bool,
) -> Result<u16, ConfigError> {
    match value.parse::<u16>() {
        Ok(0) if !allow_zero => Err(ConfigError::new(var, "0 is not a usable port")),
        Ok(port) => Ok(port),
        Err(_) => Err(ConfigError::new(
            var,
            format!("{value:?} is not a port number (1-65535)"),
        )),
    }
}

pub(super) fn parse_database_url(url: &str) -> Result<DatabaseConfig, ConfigError> {
    if url.starts_with("sqlite:") {
        if sqlite_path(url).as_os_str().is_empty() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "the sqlite URL names no file (use sqlite://./data/aicarpool.db)",
            ));
        }
        return Ok(DatabaseConfig {
            backend: DbBackend::Sqlite,
            url: Secret::new(url.to_owned()),
        });
    }
    let parsed = url::Url::parse(url).map_err(|e| {
        ConfigError::new(
            "DATABASE_URL",
            format!("not a URL ({e}); use sqlite://PATH or mysql://USER:PASS@HOST:PORT/DB"),
        )
    })?;
    match parsed.scheme() {
        "mysql" | "mariadb" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "the mysql URL names no host",
                ));
            }
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "the mysql URL names no database (…/DBNAME)",
                ));
            }
            let url = if parsed.scheme() == "mariadb" {
                format!("mysql{}", &url["mariadb".len()..])
            } else {
                url.to_owned()
            };
            Ok(DatabaseConfig {
                backend: DbBackend::Mysql,
                url: Secret::new(url),
            })
        }
        other => Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "unsupported scheme {other:?}; use sqlite://PATH or mysql://USER:PASS@HOST:PORT/DB"
            ),
        )),
    }
}

pub(super) fn parse_redis_url(url: &str) -> Result<Secret<String>, ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        ConfigError::new(
            "REDIS_URL",
            format!("not a URL ({e}); use redis://HOST:PORT"),
        )
    })?;
    match parsed.scheme() {
        "redis" | "rediss" if parsed.host_str().is_some_and(|h| !h.is_empty()) => {
            Ok(Secret::new(url.to_owned()))
        }
        "redis" | "rediss" => Err(ConfigError::new("REDIS_URL", "the URL names no host")),
        other => Err(ConfigError::new(
            "REDIS_URL",
            format!("unsupported scheme {other:?}; use redis:// or rediss://"),
        )),
    }
}

pub(super) fn check_secret(var: &'static str, secret: &str) -> Result<Secret<String>, ConfigError> {
    if secret.chars().count() < 32 {
        Err(ConfigError::new(
            var,
            "must be at least 32 characters (generate one with: openssl rand -hex 32)",
        ))
    } else {
        Ok(Secret::new(secret.to_owned()))
    }
}

pub(super) fn parse_app_url(var: &'static str, url: &str) -> Result<String, ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        ConfigError::new(
            var,
            format!("{url:?} is not a URL ({e}); use https://carpool.example.com"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::new(
            var,
            format!("{url:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

pub(super) fn parse_smtp(s: &Settings) -> Result<Option<SmtpConfig>, ConfigError> {
    let Some(host) = given(&s.smtp_host) else {
        return Ok(None);
    };
    if host.contains(['/', ' ']) {
        return Err(ConfigError::new(
            "SMTP_HOST",
            format!("{host:?} is not a host name"),
        ));
    }
    let port = given(&s.smtp_port)
        .map(|p| parse_port("SMTP_PORT", p, false))
        .transpose()?;
    let security = match given(&s.smtp_security)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("starttls") => SmtpSecurity::StartTls,
        Some("tls" | "ssl") => SmtpSecurity::Tls,
        Some("plain" | "none") => SmtpSecurity::Plain,
        Some(other) => {
            return Err(ConfigError::new(
                "SMTP_SECURITY",
                format!("{other:?} is not one of starttls, tls, plain"),
            ));
        }
        None if port == Some(465) => SmtpSecurity::Tls,
        None => SmtpSecurity::StartTls,
    };
    let port = port.unwrap_or(match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls | SmtpSecurity::Plain => 587,
    });
    let credentials = match (given(&s.smtp_user), s.smtp_password.as_deref()) {
        (Some(user), Some(password)) if !password.is_empty() => {
            Some((user.to_owned(), Secret::new(password.to_owned())))
        }
        (Some(_), _) => {
            return Err(ConfigError::new(
                "SMTP_PASSWORD",
                "SMTP_USER is set but SMTP_PASSWORD is empty",
            ));
        }
        (None, _) => None,
    };
    let ca_file = given(&s.smtp_ca_file).map(PathBuf::from);
    if ca_file.is_some() && security == SmtpSecurity::Plain {
        return Err(ConfigError::new(
            "SMTP_CA_FILE",
            "is set but SMTP_SECURITY=plain uses no TLS",
        ));
    }
    Ok(Some(SmtpConfig {
        host: host.to_owned(),
        port,
        security,
        credentials,
        ca_file,
    }))
}

pub(super) fn check_mailbox(from: &str) -> Result<(), String> {
    lettre::message::Mailbox::from_str(from)
        .map(|_| ())
        .map_err(|e| {
            format!("{from:?} is not a mail address ({e}); use \"AiCarpool <noreply@example.com>\"")
        })
}
