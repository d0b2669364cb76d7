//! Member keys on the hot path: `acp_` keys are looked up by their SHA-256 in an in-memory
//! cache, so a request costs no database query while its key is cached. Entries (found and
//! not found) live a few seconds; a revocation on this node drops the entry at once, on other
//! nodes it takes effect when their entry expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::{Db, DbError, keys};

/// How long a looked-up key (or its absence) is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Past this many entries the cache starts over (a flood of random keys must not grow it).
const MAX_ENTRIES: usize = 100_000;
/// The prefix of every member key.
pub const KEY_PREFIX: &str = "acp_";
/// Random characters after the prefix: 43 base62 characters carry 256 bits.
const KEY_RANDOM_CHARS: usize = 43;

/// A fresh member key: `acp_` and 43 random base62 characters.
pub fn generate() -> String {
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{tail}")
}

/// The stored form of a key.
pub fn hash_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What the proxy needs to know about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberKey {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Member.
    pub user_id: i64,
    /// Allowed models (requested names); all when `None`.
    pub models: Option<Vec<String>>,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
}

impl MemberKey {
    /// Whether the key may be used at `now`.
    pub fn usable(&self, now_ms: i64) -> Result<(), &'static str> {
        if self.revoked_at.is_some() {
            Err("this API key was revoked; ask for a new one on the keys page")
        } else if self.expires_at.is_some_and(|t| t <= now_ms) {
            Err("this API key has expired; create a new one on the keys page")
        } else {
            Ok(())
        }
    }

    /// Whether the key may use the model the client named.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|list| list.iter().any(|m| m == model))
    }
}

type Entry = (Instant, Option<Arc<MemberKey>>);

/// The key cache.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl KeyCache {
    /// Finds the key, from the cache or the database.
    pub async fn lookup(&self, db: &Db, key: &str) -> Result<Option<Arc<MemberKey>>, DbError> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        if let Some((at, found)) = self.lock().get(&digest)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(found.clone());
        }
        let found = keys::find_by_hash(db, &hex::encode(digest))
            .await?
            .map(|row| {
                Arc::new(MemberKey {
                    id: row.id,
                    group_id: row.group_id,
                    user_id: row.user_id,
                    models: row
                        .models
                        .as_deref()
                        .and_then(|m| serde_json::from_str(m).ok()),
                    expires_at: row.expires_at,
                    revoked_at: row.revoked_at,
                })
            });
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(digest, (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Drops a key (by its stored hash) so the next request reads it afresh.
    pub fn forget(&self, hash_hex: &str) {
        if let Ok(bytes) = hex::decode(hash_hex)
            && let Ok(digest) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            self.lock().remove(&digest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hash_stably() {
        let a = generate();
        assert!(a.starts_with("acp_") && a.len() == 47, "{a}");
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate());
        assert_eq!(hash_hex("acp_x"), hash_hex("acp_x"));
        assert_eq!(hash_hex("acp_x").len(), 64);
    }

    #[test]
    fn revoked_expired_and_model_limits() {
        let key = MemberKey {
            id: 1,
            group_id: 1,
            user_id: 1,
            models: Some(vec!["gpt-4o".into()]),
            expires_at: Some(1000),
            revoked_at: None,
        };
        assert!(key.usable(999).is_ok());
        assert!(key.usable(1000).is_err());
        assert!(key.allows("gpt-4o") && !key.allows("claude"));
        let revoked = MemberKey {
            revoked_at: Some(5),
            expires_at: None,
            ..key
        };
        assert!(revoked.usable(0).is_err());
    }
}
