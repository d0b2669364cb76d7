//! Why an upstream request failed, worded for the people who read it on the accounts page.

use std::fmt;

/// What went wrong, as far as the gateway's failover cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No connection: DNS, TCP, the proxy or TLS refused or failed. Nothing was sent.
    Connect,
    /// The deadline passed.
    Timeout,
    /// The connection failed after the request went out (or while it did).
    Io,
    /// The request itself cannot be sent (a URL the client cannot reach).
    Request,
}

/// An upstream request failure.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    pub(super) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub(super) fn connect(message: impl Into<String>) -> Error {
        Error::new(Kind::Connect, message)
    }

    /// A request that cannot be sent: a bad URL or header value.
    pub fn request(message: impl Into<String>) -> Error {
        Error::new(Kind::Request, message)
    }

    pub(super) fn timeout() -> Error {
        Error::new(Kind::Timeout, "the upstream did not answer in time")
    }

    /// A failure of hyper's connection, with its cause chain in the message.
    pub(super) fn hyper(err: &hyper::Error) -> Error {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::new(Kind::Io, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether a deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// Whether no connection could be made (nothing reached the provider).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
