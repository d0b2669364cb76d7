//! The first-run gate: while no user exists, creating the first admin needs a one-time token
//! that the server prints in its log at start, so whoever finds a fresh instance first cannot
//! take it over. The token lives only in memory; a restart prints a new one.

use std::sync::Mutex;

use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Random bytes in a setup token (hex-encoded, so 48 characters).
const TOKEN_BYTES: usize = 24;

/// Holds the setup token while setup is open.
#[derive(Debug, Default)]
pub struct SetupGate {
    token: Mutex<Option<Secret<String>>>,
}

impl SetupGate {
    /// A gate that is already closed (the instance has users).
    pub fn closed() -> Self {
        Self::default()
    }

    /// Opens the gate with a fresh random token and returns it, for the start-up log.
    pub fn open() -> (Self, String) {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::fill(&mut bytes);
        let token = hex::encode(bytes);
        let gate = Self {
            token: Mutex::new(Some(Secret::new(token.clone()))),
        };
        (gate, token)
    }

    /// A gate with a known token, for tests.
    pub fn with_token(token: &str) -> Self {
        Self {
            token: Mutex::new(Some(Secret::new(token.to_owned()))),
        }
    }

    /// True while the token is still accepted.
    pub fn is_open(&self) -> bool {
        self.token.lock().is_ok_and(|t| t.is_some())
    }

    /// Compares a presented token with the real one in constant time.
    pub fn check(&self, presented: &str) -> bool {
        let Ok(guard) = self.token.lock() else {
            return false;
        };
        guard.as_ref().is_some_and(|token| {
            let expected = token.expose().as_bytes();
            let presented = presented.trim().as_bytes();
            expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
        })
    }

    /// Closes the gate for good: after the first admin exists the token is worthless.
    pub fn close(&self) {
        if let Ok(mut guard) = self.token.lock() {
            *guard = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_printed_token_opens_the_gate_and_only_until_closed() {
        let (gate, token) = SetupGate::open();
        assert_eq!(token.len(), 48);
        assert!(gate.is_open());
        assert!(gate.check(&token));
        assert!(gate.check(&format!(" {token}\n")), "pasted with whitespace");
        assert!(!gate.check(&token[..47]));
        assert!(!gate.check(""));
        assert!(!gate.check(&token.to_uppercase()));
        gate.close();
        assert!(!gate.is_open());
        assert!(!gate.check(&token));
    }

    #[test]
    fn a_closed_gate_accepts_nothing_and_tokens_differ() {
        assert!(!SetupGate::closed().check(""));
        let (_, a) = SetupGate::open();
        let (_, b) = SetupGate::open();
        assert_ne!(a, b);
    }
}
