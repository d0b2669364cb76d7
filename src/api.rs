//! Wire types shared by the server functions, the JSON API and the browser.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

/// Which database engine the instance runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DbBackend {
    /// The embedded default: one SQLite file in the data directory.
    Sqlite,
    /// MySQL or a server that speaks its protocol (MariaDB, TiDB).
    Mysql,
}

impl DbBackend {
    /// The name a person knows the engine by.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Mysql => "MySQL",
        }
    }
}

/// Where quota counters and account health live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterBackend {
    /// In this process's memory (single node).
    Memory,
    /// In Redis, shared by every node.
    Redis,
}

impl CounterBackend {
    /// The name a person knows the backend by.
    pub fn label(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "Redis",
        }
    }
}

/// How outgoing mail leaves the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailTransport {
    /// A configured SMTP server.
    Smtp,
    /// No SMTP configured: mails are appended to `outbox.log` in the data directory.
    OutboxLog,
}

/// What the home and status pages show about the running instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// The server's version.
    pub version: String,
    /// The database engine in use.
    pub database: DbBackend,
    /// Where counters live.
    pub counters: CounterBackend,
    /// How mail is sent.
    pub mail: MailTransport,
    /// True while no user exists and the first-run form is offered.
    pub setup_required: bool,
    /// Number of user accounts.
    pub users: i64,
    /// Seconds since the server process started.
    pub uptime_secs: u64,
}

/// The fields of the first-run setup form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupField {
    /// The one-time token printed in the server log.
    Token,
    /// The admin's email address.
    Email,
    /// The admin's display name.
    Name,
    /// The password.
    Password,
    /// The password, typed again.
    PasswordConfirm,
}

/// Why a request was refused, as a stable code the browser translates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// A form field is invalid.
    #[error("{field:?}: {error}")]
    InvalidField {
        /// Which field.
        field: SetupField,
        /// What is wrong with it.
        error: FieldError,
    },
    /// The setup token does not match the one in the server log.
    #[error("the setup token is wrong; copy it from the server log")]
    SetupTokenInvalid,
    /// The first admin already exists.
    #[error("this instance is already set up")]
    SetupAlreadyDone,
    /// A dependency (database) is not reachable right now.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Something failed on the server; the details are in its log.
    #[error("internal error; the server log has the details")]
    Internal,
    /// The request did not reach the server or its answer was unreadable.
    #[error("network error: {0}")]
    Transport(String),
    /// A refusal of the account, group or invitation services (built on the server from their
    /// error), with the stable code the browser translates and the English words as a fallback.
    #[error("{message}")]
    Service {
        /// `invalid_credentials`, `rate_limited`, `unauthenticated`, `forbidden`, `not_found`,
        /// `conflict`, `gone` or `invalid`.
        code: String,
        /// The refusal in English; may be empty (after a plain form post only the code survives).
        message: String,
        /// For `invalid`: the form field at fault.
        field: Option<String>,
        /// For `invalid`: what is wrong with that field, when it breaks one of the shared rules.
        reason: Option<FieldError>,
        /// For `rate_limited`: seconds until attempts are accepted again.
        retry_after_secs: Option<u64>,
        /// The HTTP status it was sent with (0 when rebuilt from a page's query).
        status: u16,
    },
}

impl ApiError {
    /// The HTTP status this refusal is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidField { .. } => 422,
            Self::SetupTokenInvalid => 403,
            Self::SetupAlreadyDone => 409,
            Self::Unavailable => 503,
            Self::Internal => 500,
            Self::Transport(_) => 502,
            Self::Service { status, .. } => *status,
        }
    }

    /// The stable code of a service refusal (`None` for the other variants).
    pub fn service_code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}
