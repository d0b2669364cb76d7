//! Server functions of carpool groups: the caller's groups, one group's page, and the changes
//! its owners and admins make. Permissions are the services' (`aicarpool::groups`); the page
//! only hides what the caller's role cannot use.

use aicarpool::model::{
    BindingView, GroupRole, GroupView, InvitationView, InviteLinkView, KeyView, LimitView,
    MemberView, RoutingView,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the group page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupDetails {
    /// The group.
    pub group: GroupView,
    /// The caller's user id.
    pub my_id: i64,
    /// What the caller may do: their role, or owner for a system administrator.
    pub my_role: GroupRole,
    /// The members.
    pub members: Vec<MemberView>,
    /// Email invitations (empty unless the caller is an owner or admin).
    pub invitations: Vec<InvitationView>,
    /// Invite links (empty unless the caller is an owner or admin).
    pub links: Vec<InviteLinkView>,
    /// The accounts that serve the group.
    pub accounts: Vec<BindingView>,
    /// Accounts the caller could bind to the group (empty unless an owner or admin).
    pub bindable: Vec<super::accounts::AccountChoice>,
    /// The routing strategy and model fallback chains.
    pub routing: RoutingView,
    /// The limits the caller may see (all for owners and admins, a member's own otherwise),
    /// with their live usage.
    pub limits: Vec<LimitView>,
    /// Every member key of the group, as limit targets (empty unless an owner or admin).
    pub keys: Vec<KeyView>,
    /// The time zone its days and months are counted in.
    pub time_zone: String,
}

/// The caller's groups; `None` when signed out.
#[server(prefix = "/rpc", endpoint = "list_groups")]
pub async fn list_groups() -> Result<Option<Vec<GroupView>>, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    match ssr::caller(&state).await? {
        Some(principal) => Ok(Some(aicarpool::groups::list(&state, &principal).await?)),
        None => Ok(None),
    }
}

/// One group's page; `None` when signed out, "not found" when the caller is not a member.
#[server(prefix = "/rpc", endpoint = "load_group")]
pub async fn load_group(id: i64) -> Result<Option<GroupDetails>, AppError> {
    use super::ssr;
    use aicarpool::{groups, invites};

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let access = groups::access(&state, &principal, id).await?;
    let group = groups::get(&state, &principal, id).await?;
    let members = groups::members(&state, &principal, id).await?;
    let (invitations, links) = if access.effective >= GroupRole::Admin {
        (
            invites::list_invitations(&state, &principal, id).await?,
            invites::list_links(&state, &principal, id).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let admin = access.effective >= GroupRole::Admin;
    let (accounts, bindable) =
        super::accounts::group_accounts(&state, &principal, id, admin).await?;
    let routing = aicarpool::routing::get(&state, &principal, id).await?;
    let limits = aicarpool::limits::list(&state, &principal, id).await?;
    let time_zone = aicarpool::db::cost_split::time_zone(state.db(), id)
        .await
        .map_err(aicarpool::error::ServiceError::from)?
        .unwrap_or_else(|| aicarpool::tz::DEFAULT_TIME_ZONE.to_owned());
    let keys = if admin {
        aicarpool::member_keys::list(&state, &principal, id).await?
    } else {
        Vec::new()
    };
    Ok(Some(GroupDetails {
        group,
        my_id: principal.user.id,
        my_role: access.effective,
        members,
        invitations,
        links,
        accounts,
        bindable,
        routing,
        limits,
        keys,
        time_zone,
    }))
}

/// Creates a group with the caller as owner and opens its page.
#[server(prefix = "/rpc", endpoint = "create_group")]
pub async fn create_group(name: String, description: String) -> Result<GroupView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let group = aicarpool::groups::create(&state, &principal, &name, Some(&description)).await?;
    ssr::redirect(&format!("/groups/{}", group.id));
    Ok(group)
}

/// Renames a group or changes its description (owners and admins).
#[server(prefix = "/rpc", endpoint = "update_group")]
pub async fn update_group(
    id: i64,
    name: String,
    description: String,
) -> Result<GroupView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::groups::update(&state, &principal, id, Some(&name), Some(&description)).await?)
}

/// Deletes a group for good (owners) and goes to the group list.
#[server(prefix = "/rpc", endpoint = "delete_group")]
pub async fn delete_group(id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    aicarpool::groups::delete(&state, &principal, id).await?;
    ssr::redirect("/groups");
    Ok(())
}

/// Gives a member another role.
#[server(prefix = "/rpc", endpoint = "change_role")]
pub async fn change_role(id: i64, user_id: i64, role: String) -> Result<MemberView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let role = ssr::parse_role(&role)?;
    Ok(aicarpool::groups::change_role(&state, &principal, id, user_id, role).await?)
}

/// Removes a member.
#[server(prefix = "/rpc", endpoint = "remove_member")]
pub async fn remove_member(id: i64, user_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::groups::remove_member(&state, &principal, id, user_id).await?)
}

/// The caller leaves the group and goes to their group list.
#[server(prefix = "/rpc", endpoint = "leave_group")]
pub async fn leave_group(id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    aicarpool::groups::leave(&state, &principal, id).await?;
    ssr::redirect("/groups");
    Ok(())
}

/// Makes a member the owner; the calling owner becomes an admin.
#[server(prefix = "/rpc", endpoint = "transfer_ownership")]
pub async fn transfer_ownership(id: i64, user_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    aicarpool::groups::transfer(&state, &principal, id, user_id).await?;
    Ok(())
}
