//! The error of every service operation (identity, groups, invitations): what a person did
//! wrong or what failed, mapped to one HTTP status by the server and explained in words.

use crate::db::DbError;
use crate::validate::FieldError;

/// Why a service operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No valid session (missing, expired, revoked or malformed token).
    #[error("sign in first: the session is missing, expired or was ended")]
    Unauthenticated,
    /// Wrong email or password (the same answer for both, on purpose).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// Too many failed attempts.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until attempts are accepted again.
        retry_after_secs: u64,
    },
    /// Signed in, but this role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It conflicts with the current state (duplicate email, last owner, already a member).
    #[error("{0}")]
    Conflict(String),
    /// The invitation or link can no longer be used.
    #[error("{0}")]
    Gone(String),
    /// A field is invalid.
    #[error("{field}: {error}")]
    Invalid {
        /// The JSON field.
        field: &'static str,
        /// What is wrong.
        error: FieldError,
    },
    /// The input is invalid in a way not tied to one field.
    #[error("{0}")]
    BadInput(String),
    /// A query-string parameter is missing or malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The database is unreachable.
    #[error("the database is temporarily unavailable")]
    Unavailable,
    /// A bug or an unexpected failure; the details are logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    /// A field error.
    pub fn invalid(field: &'static str) -> impl Fn(FieldError) -> ServiceError {
        move |error| ServiceError::Invalid { field, error }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::RateLimited { .. } => "rate_limited",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::Invalid { .. } | Self::BadInput(_) => "invalid",
            Self::BadRequest(_) => "bad_request",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials => 401,
            Self::RateLimited { .. } => 429,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Gone(_) => 410,
            Self::Invalid { .. } | Self::BadInput(_) => 422,
            Self::BadRequest(_) => 400,
            Self::Unavailable => 503,
            Self::Internal(_) => 500,
        }
    }
}

impl From<DbError> for ServiceError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Conflict(what) => {
                ServiceError::Conflict(format!("conflicts with an existing record ({what})"))
            }
            DbError::Unavailable(_) => ServiceError::Unavailable,
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for ServiceError {
    fn from(err: crate::auth::AuthError) -> Self {
        ServiceError::Internal(err.to_string())
    }
}
