//! Member keys, the credentials API clients use: any member creates keys for themselves in a
//! group; owners and admins see and revoke every key of the group. The key is shown once at
//! creation and stored only as its SHA-256.

use crate::db::keys::{self, KeyRow, NewKey};
use crate::db::now_ms;
use crate::error::ServiceError;
use crate::gateway::keys::{KEY_PREFIX, generate, hash_hex};
use crate::groups::access;
use crate::identity::Principal;
use crate::model::{Expiry, GroupRole, KeyInput, KeyView, NewKeyView};
use crate::state::AppState;
use crate::timefmt::parse_rfc3339_ms;
use crate::validate::FieldError;

/// Longest key name.
pub const KEY_NAME_MAX: usize = 100;
/// Characters of the key shown in listings after `acp_`.
const PREFIX_CHARS: usize = 4;

fn view(row: KeyRow) -> KeyView {
    KeyView {
        id: row.id,
        group_id: row.group_id,
        user_id: row.user_id,
        user_name: row.user_name,
        name: row.name,
        prefix: row.prefix,
        last4: row.last4,
        models: row
            .models
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

/// Reads an expiry; it must lie in the future.
pub fn parse_expiry(expiry: &Expiry, now: i64) -> Result<i64, ServiceError> {
    let at = match expiry {
        Expiry::Millis(ms) => *ms,
        Expiry::Text(text) => parse_rfc3339_ms(text).ok_or_else(|| {
            rule(
                "expires_at",
                "must be a time such as 2026-12-31T23:59:59Z (or milliseconds since 1970)",
            )
        })?,
    };
    if at <= now {
        return Err(rule("expires_at", "must be in the future"));
    }
    Ok(at)
}

/// Creates a key for the caller in a group they belong to.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    input: KeyInput,
) -> Result<NewKeyView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    if access.member_role.is_none() {
        return Err(ServiceError::Forbidden(
            "keys belong to members: join the group to create one".to_owned(),
        ));
    }
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name")(FieldError::Required));
    }
    if name.chars().count() > KEY_NAME_MAX {
        return Err(ServiceError::invalid("name")(FieldError::TooLong {
            max: KEY_NAME_MAX,
        }));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("name")(FieldError::ControlChars));
    }
    let models = match input.models {
        // An empty list would read as "no model at all" to the person who sent it, while a
        // key without a list may use every model: refused rather than guessed.
        Some(list) if list.is_empty() => {
            return Err(rule(
                "models",
                "must not be an empty list: leave `models` out for a key that may use every \
                 model of the group, or list the models the key may use",
            ));
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for m in list {
                let m = m.trim().to_owned();
                if m.is_empty() || m.chars().count() > 200 {
                    return Err(rule(
                        "models",
                        "each model name must be 1 to 200 characters",
                    ));
                }
                if !out.contains(&m) {
                    out.push(m);
                }
            }
            Some(out)
        }
        None => None,
    };
    let now = now_ms();
    let expires_at = input
        .expires_at
        .as_ref()
        .map(|e| parse_expiry(e, now))
        .transpose()?;
    let key = generate();
    let hash = hash_hex(&key);
    let prefix = key[..KEY_PREFIX.len() + PREFIX_CHARS].to_owned();
    let last4 = key[key.len() - 4..].to_owned();
    let models_json = models.as_ref().and_then(|m| serde_json::to_string(m).ok());
    let id = keys::create(
        state.db(),
        &NewKey {
            group_id,
            user_id: principal.user.id,
            name,
            key_hash: &hash,
            prefix: &prefix,
            last4: &last4,
            models: models_json.as_deref(),
            expires_at,
        },
        now,
    )
    .await?;
    let row = keys::find(state.db(), id)
        .await?
        .ok_or(ServiceError::NotFound("key"))?;
    Ok(NewKeyView {
        key,
        info: view(row),
    })
}

/// The caller's keys in a group; owners and admins get every member's.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Vec<KeyView>, ServiceError> {
    let access = access(state, principal, group_id).await?;
    let only = (access.effective < GroupRole::Admin).then_some(principal.user.id);
    Ok(keys::list(state.db(), group_id, only)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// Revokes a key: its owner, or the group's owners and admins. Effective on the next request
/// on this node, and within the key cache's lifetime (5 s) on others.
pub async fn revoke(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    key_id: i64,
) -> Result<KeyView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    let row = keys::find(state.db(), key_id)
        .await?
        .filter(|k| k.group_id == group_id)
        .filter(|k| k.user_id == principal.user.id || access.effective >= GroupRole::Admin)
        .ok_or(ServiceError::NotFound("key"))?;
    if row.revoked_at.is_some() {
        return Err(ServiceError::Gone("this key is already revoked".to_owned()));
    }
    keys::revoke(state.db(), key_id, now_ms()).await?;
    state.gateway().forget_key(&row.key_hash);
    let row = keys::find(state.db(), key_id)
        .await?
        .ok_or(ServiceError::NotFound("key"))?;
    Ok(view(row))
}
