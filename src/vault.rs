//! The vault: encrypts upstream credentials (API keys, proxy URLs with passwords) at rest with
//! AES-256-GCM under a key derived from `MASTER_KEY`, so a copied database file alone does not
//! leak them.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// Format tag of what [`Vault::seal`] writes, so the scheme can change later.
const TAG: &str = "v1:";
/// Binds ciphertexts to their use: a sealed credential cannot be replayed as something else.
const AAD: &[u8] = b"aicarpool upstream credential";

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The value was sealed under another master key, or was altered.
    #[error(
        "cannot decrypt a stored credential: MASTER_KEY differs from the one it was saved with"
    )]
    WrongKey,
    /// The stored text is not something this vault wrote.
    #[error("a stored credential is malformed")]
    Malformed,
}

/// Seals and opens credentials.
pub struct Vault {
    key: LessSafeKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// A vault whose AES key is the SHA-256 of the master secret.
    pub fn new(master: &Secret<String>) -> Vault {
        let digest: [u8; 32] = Sha256::digest(master.expose().as_bytes()).into();
        // A 32-byte key always fits AES-256; the error branch cannot happen.
        let unbound = UnboundKey::new(&AES_256_GCM, &digest).unwrap_or_else(|_| unreachable_key());
        Vault {
            key: LessSafeKey::new(unbound),
        }
    }

    /// Encrypts `plain` with a fresh random nonce: `v1:` + hex(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buffer = plain.as_bytes().to_vec();
        // Sealing only fails for inputs beyond GCM's 64 GiB limit.
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buffer,
            )
            .is_err()
        {
            buffer.clear();
        }
        let mut out = String::with_capacity(TAG.len() + 2 * (NONCE_LEN + buffer.len()));
        out.push_str(TAG);
        out.push_str(&hex::encode(nonce));
        out.push_str(&hex::encode(&buffer));
        out
    }

    /// Decrypts what [`Vault::seal`] wrote.
    pub fn open(&self, sealed: &str) -> Result<Secret<String>, VaultError> {
        let body = sealed.strip_prefix(TAG).ok_or(VaultError::Malformed)?;
        let bytes = hex::decode(body).map_err(|_| VaultError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, cipher) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Malformed)?;
        let mut buffer = cipher.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut buffer)
            .map_err(|_| VaultError::WrongKey)?;
        String::from_utf8(plain.to_vec())
            .map(Secret::new)
            .map_err(|_| VaultError::Malformed)
    }
}

#[expect(
    clippy::panic,
    reason = "AES-256 takes any 32-byte key; a SHA-256 digest is always 32 bytes"
)]
fn unreachable_key() -> UnboundKey {
    panic!("AES-256-GCM refused a 32-byte key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(master: &str) -> Vault {
        Vault::new(&Secret::new(master.to_owned()))
    }

    #[test]
    fn sealed_keys_round_trip_and_do_not_contain_the_plaintext() {
        let v = vault("a master key of at least thirty-two chars");
        let sealed = v.seal("sk-live-1234567890");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk-live"));
        assert_eq!(v.open(&sealed).unwrap().expose(), "sk-live-1234567890");
        // A fresh nonce each time: the same key seals differently.
        assert_ne!(sealed, v.seal("sk-live-1234567890"));
    }

    #[test]
    fn another_master_key_or_a_flipped_bit_is_refused() {
        let sealed = vault("first master key, long enough to be valid").seal("secret");
        let other = vault("second master key, long enough to be valid");
        assert!(matches!(other.open(&sealed), Err(VaultError::WrongKey)));
        let v = vault("first master key, long enough to be valid");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(v.open(&tampered), Err(VaultError::WrongKey)));
        assert!(matches!(v.open("plain"), Err(VaultError::Malformed)));
    }
}
