//! Passwords: argon2id hashing and verification, always on the blocking pool so a hash
//! (tens of milliseconds of CPU) never stalls the async workers.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A failure of the password machinery (not a wrong password).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The stored hash is not a valid PHC string.
    #[error("stored password hash is unreadable: {0}")]
    BadStoredHash(String),
    /// The blocking task panicked or was cancelled.
    #[error("password task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes a password with argon2id (default parameters: m=19 MiB, t=2, p=1) and a random salt.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    })
    .await?
}

/// Checks a password against a stored PHC string, in constant time.
pub async fn verify_password(password: String, stored: String) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || {
        let parsed =
            PasswordHash::new(&stored).map_err(|e| AuthError::BadStoredHash(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse".into()).await.unwrap();
        let b = hash_password("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(
            verify_password("correct horse".into(), a.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("correct horsE".into(), a).await.unwrap());
        assert!(
            verify_password("x".into(), "not a hash".into())
                .await
                .is_err()
        );
    }
}
