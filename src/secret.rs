//! Secrets that never print: a wrapper whose `Debug` hides the value, and the generated
//! signing secret persisted in the data directory with owner-only permissions.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A value that must not reach logs: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites are easy to audit with a search for `expose`.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Length in bytes of a generated secret (hex-encoded on disk, so twice as many characters).
const GENERATED_SECRET_BYTES: usize = 32;

/// What [`load_or_generate`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretOrigin {
    /// The file existed and was read.
    Loaded,
    /// The file did not exist; a new secret was generated and written with mode 0600.
    Generated,
}

/// Reads the secret stored at `path`, or generates one and stores it there with mode 0600.
///
/// Creation uses `create_new`, so two processes starting at once cannot overwrite each other's
/// secret: the loser reads what the winner wrote. A file readable by others is tightened to 0600.
pub fn load_or_generate(path: &Path) -> io::Result<(Secret<String>, SecretOrigin)> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let mut bytes = [0u8; GENERATED_SECRET_BYTES];
            rand::fill(&mut bytes);
            let secret = hex::encode(bytes);
            file.write_all(secret.as_bytes())?;
            file.sync_all()?;
            Ok((Secret::new(secret), SecretOrigin::Generated))
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let mut file = std::fs::File::open(path)?;
            let mode = file.metadata()?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            let mut secret = String::new();
            file.read_to_string(&mut secret)?;
            let secret = secret.trim().to_owned();
            if secret.len() < 32 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} holds a secret shorter than 32 characters; delete it to generate a new one",
                        path.display()
                    ),
                ));
            }
            Ok((Secret::new(secret), SecretOrigin::Loaded))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn generated_once_then_reused_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        let (first, origin) = load_or_generate(&path).unwrap();
        assert_eq!(origin, SecretOrigin::Generated);
        assert_eq!(first.expose().len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let (second, origin) = load_or_generate(&path).unwrap();
        assert_eq!(origin, SecretOrigin::Loaded);
        assert_eq!(first, second);
    }

    #[test]
    fn loose_permissions_are_tightened_and_short_secrets_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        std::fs::write(&path, "x".repeat(40)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        load_or_generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(&path, "short").unwrap();
        let err = load_or_generate(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
