//! Carpool groups, members and roles, with the permission rules in one place:
//! owner > admin > member, and a system admin acts as an owner everywhere. A user outside a
//! group gets "not found" for it, never a hint that it exists.

use crate::db::{groups, now_ms};
use crate::error::ServiceError;
use crate::identity::Principal;
use crate::model::{GroupRole, GroupView, MemberView};
use crate::state::AppState;
use crate::validate::FieldError;

/// Longest group name.
pub const GROUP_NAME_MAX: usize = 100;
/// Longest group description.
pub const GROUP_DESCRIPTION_MAX: usize = 1000;

/// The caller's standing in a group.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    /// Their membership role, if they are a member.
    pub member_role: Option<GroupRole>,
    /// What they may do: the membership role, or owner for a system admin.
    pub effective: GroupRole,
}

/// The caller's access to a group; `NotFound` when the group does not exist or the caller is
/// neither a member nor a system admin.
pub async fn access(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Access, ServiceError> {
    let member_role = groups::role_of(state.db(), group_id, principal.user.id)
        .await?
        .and_then(|r| GroupRole::parse(&r));
    match member_role {
        Some(role) => Ok(Access {
            member_role,
            effective: if principal.is_system_admin() {
                GroupRole::Owner
            } else {
                role
            },
        }),
        None if principal.is_system_admin()
            && groups::find(state.db(), group_id).await?.is_some() =>
        {
            Ok(Access {
                member_role: None,
                effective: GroupRole::Owner,
            })
        }
        None => Err(ServiceError::NotFound("group")),
    }
}

/// Refuses unless the caller's effective role is at least `min`.
pub fn require(access: Access, min: GroupRole, action: &str) -> Result<(), ServiceError> {
    if access.effective >= min {
        Ok(())
    } else {
        let who = match min {
            GroupRole::Owner => "the group's owners",
            GroupRole::Admin => "the group's owners and admins",
            GroupRole::Member => "members",
        };
        Err(ServiceError::Forbidden(format!("only {who} can {action}")))
    }
}

fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        Err(ServiceError::Invalid {
            field: "name",
            error: FieldError::Required,
        })
    } else if name.chars().count() > GROUP_NAME_MAX {
        Err(ServiceError::Invalid {
            field: "name",
            error: FieldError::TooLong {
                max: GROUP_NAME_MAX,
            },
        })
    } else if name.chars().any(char::is_control) {
        Err(ServiceError::Invalid {
            field: "name",
            error: FieldError::ControlChars,
        })
    } else {
        Ok(name.to_owned())
    }
}

fn check_description(description: &str) -> Result<String, ServiceError> {
    let description = description.trim();
    if description.chars().count() > GROUP_DESCRIPTION_MAX {
        Err(ServiceError::Invalid {
            field: "description",
            error: FieldError::TooLong {
                max: GROUP_DESCRIPTION_MAX,
            },
        })
    } else {
        Ok(description.to_owned())
    }
}

fn view(row: groups::GroupRow, role: Option<GroupRole>) -> GroupView {
    GroupView {
        id: row.id,
        name: row.name,
        description: row.description,
        role,
        member_count: row.member_count,
        created_at: row.created_at,
    }
}

/// `GET /api/groups`: the caller's groups.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<GroupView>, ServiceError> {
    Ok(groups::list_for_user(state.db(), principal.user.id)
        .await?
        .into_iter()
        .map(|(row, role)| view(row, GroupRole::parse(&role)))
        .collect())
}

/// `POST /api/groups`: the caller becomes owner.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    name: &str,
    description: Option<&str>,
) -> Result<GroupView, ServiceError> {
    let name = check_name(name)?;
    let description = check_description(description.unwrap_or(""))?;
    let id = groups::create(state.db(), &name, &description, principal.user.id, now_ms()).await?;
    get(state, principal, id).await
}

/// `GET /api/groups/{id}`.
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<GroupView, ServiceError> {
    let access = access(state, principal, id).await?;
    let row = groups::find(state.db(), id)
        .await?
        .ok_or(ServiceError::NotFound("group"))?;
    Ok(view(row, access.member_role))
}

/// `PUT /api/groups/{id}` (owner or admin).
pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<GroupView, ServiceError> {
    let access = access(state, principal, id).await?;
    require(access, GroupRole::Admin, "edit the group")?;
    let current = groups::find(state.db(), id)
        .await?
        .ok_or(ServiceError::NotFound("group"))?;
    let name = check_name(name.unwrap_or(&current.name))?;
    let description = check_description(description.unwrap_or(&current.description))?;
    groups::update(state.db(), id, &name, &description, now_ms()).await?;
    get(state, principal, id).await
}

/// `DELETE /api/groups/{id}` (owner only).
pub async fn delete(state: &AppState, principal: &Principal, id: i64) -> Result<(), ServiceError> {
    let access = access(state, principal, id).await?;
    require(access, GroupRole::Owner, "delete the group")?;
    groups::delete(state.db(), id).await?;
    Ok(())
}

/// `GET /api/groups/{id}/members` (any member).
pub async fn members(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<Vec<MemberView>, ServiceError> {
    access(state, principal, id).await?;
    Ok(groups::members(state.db(), id)
        .await?
        .into_iter()
        .filter_map(|m| {
            GroupRole::parse(&m.role).map(|role| MemberView {
                user_id: m.user_id,
                email: m.email,
                name: m.name,
                role,
                joined_at: m.joined_at,
            })
        })
        .collect())
}

async fn target_role(
    state: &AppState,
    group_id: i64,
    user_id: i64,
) -> Result<GroupRole, ServiceError> {
    groups::role_of(state.db(), group_id, user_id)
        .await?
        .and_then(|r| GroupRole::parse(&r))
        .ok_or(ServiceError::NotFound("member"))
}

fn last_owner(err: ServiceError, what: &str) -> ServiceError {
    match err {
        ServiceError::Conflict(_) => ServiceError::Conflict(format!(
            "{what} would leave the group without an owner: make someone else owner first (or delete the group)"
        )),
        other => other,
    }
}

/// `PUT /api/groups/{id}/members/{user_id}` `{role}`. Admins move people between member and
/// admin; only owners touch admins and owners or make owners.
pub async fn change_role(
    state: &AppState,
    principal: &Principal,
    id: i64,
    user_id: i64,
    role: GroupRole,
) -> Result<MemberView, ServiceError> {
    let access = access(state, principal, id).await?;
    require(access, GroupRole::Admin, "change roles")?;
    let current = target_role(state, id, user_id).await?;
    if access.effective == GroupRole::Admin {
        if role == GroupRole::Owner {
            return Err(ServiceError::Forbidden(
                "admins cannot make anyone an owner; ask an owner".into(),
            ));
        }
        if current >= GroupRole::Admin && user_id != principal.user.id {
            return Err(ServiceError::Forbidden(
                "only owners can change the role of an admin or owner".into(),
            ));
        }
    }
    groups::set_role(state.db(), id, user_id, role.as_str())
        .await
        .map_err(|e| last_owner(e.into(), "this change"))?;
    members(state, principal, id)
        .await?
        .into_iter()
        .find(|m| m.user_id == user_id)
        .ok_or(ServiceError::NotFound("member"))
}

/// `DELETE /api/groups/{id}/members/{user_id}`. Admins remove members; owners remove anyone
/// but the last owner.
pub async fn remove_member(
    state: &AppState,
    principal: &Principal,
    id: i64,
    user_id: i64,
) -> Result<(), ServiceError> {
    if user_id == principal.user.id {
        return leave(state, principal, id).await;
    }
    let access = access(state, principal, id).await?;
    require(access, GroupRole::Admin, "remove members")?;
    let current = target_role(state, id, user_id).await?;
    if access.effective == GroupRole::Admin && current >= GroupRole::Admin {
        return Err(ServiceError::Forbidden(
            "admins can remove members only; an owner removes admins and owners".into(),
        ));
    }
    groups::remove_member(state.db(), id, user_id)
        .await
        .map_err(|e| last_owner(e.into(), "removing this owner"))?;
    Ok(())
}

/// `POST /api/groups/{id}/leave`: the caller leaves; the last owner cannot.
pub async fn leave(state: &AppState, principal: &Principal, id: i64) -> Result<(), ServiceError> {
    let access = access(state, principal, id).await?;
    if access.member_role.is_none() {
        return Err(ServiceError::NotFound("member"));
    }
    groups::remove_member(state.db(), id, principal.user.id)
        .await
        .map_err(|e| last_owner(e.into(), "leaving"))?;
    Ok(())
}

/// `POST /api/groups/{id}/transfer` `{user_id}`: makes a member the owner; the caller (an
/// owner) becomes an admin.
pub async fn transfer(
    state: &AppState,
    principal: &Principal,
    id: i64,
    to_user_id: i64,
) -> Result<Vec<MemberView>, ServiceError> {
    let access = access(state, principal, id).await?;
    require(access, GroupRole::Owner, "transfer ownership")?;
    target_role(state, id, to_user_id).await?;
    let from = if access.member_role == Some(GroupRole::Owner) {
        principal.user.id
    } else {
        to_user_id
    };
    groups::transfer_ownership(state.db(), id, from, to_user_id).await?;
    members(state, principal, id).await
}
