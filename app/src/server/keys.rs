//! Server functions of member keys: a member lists, creates and revokes their own keys in a
//! group; owners and admins see and revoke every member's. The key itself leaves the server
//! once, in the answer to [`create_key`]; listings carry only its prefix and last 4 characters.

use aicarpool::model::{GroupView, KeyView, NewKeyView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the keys page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysOverview {
    /// The group.
    pub group: GroupView,
    /// The caller's user id.
    pub my_id: i64,
    /// The caller is an owner or admin of the group (or a system admin): sees every key.
    pub admin: bool,
    /// The caller is a member (only members create keys).
    pub member: bool,
    /// The keys the caller may see.
    pub keys: Vec<KeyView>,
    /// This instance's public URL (`APP_URL`), for the client snippets.
    pub app_url: String,
    /// The models the group's accounts serve (aliases included).
    pub models: Vec<String>,
    /// The server's clock when the page was loaded (ms), to tell expired keys the same way in
    /// the HTML and after hydration.
    pub now: i64,
}

/// The keys page of group `id`; `None` when signed out, "not found" for a non-member.
#[server(prefix = "/rpc", endpoint = "list_keys")]
pub async fn load_keys(id: i64) -> Result<Option<KeysOverview>, AppError> {
    use super::ssr;
    use aicarpool::model::GroupRole;

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let access = aicarpool::groups::access(&state, &principal, id).await?;
    let group = aicarpool::groups::get(&state, &principal, id).await?;
    let keys = aicarpool::member_keys::list(&state, &principal, id).await?;
    let mut models: Vec<String> = Vec::new();
    for binding in aicarpool::accounts::bindings(&state, &principal, id).await? {
        for model in binding.models {
            if !models.contains(&model) {
                models.push(model);
            }
        }
    }
    Ok(Some(KeysOverview {
        group,
        my_id: principal.user.id,
        admin: access.effective >= GroupRole::Admin,
        member: access.member_role.is_some(),
        keys,
        app_url: state.config().app_url.trim_end_matches('/').to_owned(),
        models,
        now: aicarpool::db::now_ms(),
    }))
}

/// Creates a key for the caller in group `id`. `models` restricts it (comma or newline
/// separated; empty: every model); `expires_on` is a date (`2026-12-31`, the key works through
/// that day, UTC) or empty for no expiry.
#[server(prefix = "/rpc", endpoint = "create_key")]
pub async fn create_key(
    id: i64,
    name: String,
    models: String,
    expires_on: String,
) -> Result<NewKeyView, AppError> {
    use super::ssr;
    use aicarpool::model::{Expiry, KeyInput};

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let expires_on = expires_on.trim();
    let expires_at = match expires_on.len() {
        0 => None,
        // A bare date from `<input type="date">`: through the end of that day.
        10 => Some(Expiry::Text(format!("{expires_on}T23:59:59Z"))),
        _ => Some(Expiry::Text(expires_on.to_owned())),
    };
    let models = ssr::split_list(&models);
    let input = KeyInput {
        name,
        models: (!models.is_empty()).then_some(models),
        expires_at,
    };
    Ok(aicarpool::member_keys::create(&state, &principal, id, input).await?)
}

/// Revokes a key of group `id` (its owner, or the group's owners and admins).
#[server(prefix = "/rpc", endpoint = "revoke_key")]
pub async fn revoke_key(id: i64, key_id: i64) -> Result<KeyView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::member_keys::revoke(&state, &principal, id, key_id).await?)
}
