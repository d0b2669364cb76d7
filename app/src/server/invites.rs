//! Server functions of invitations: sending, renewing and revoking email invitations, creating
//! and revoking invite links, and the invitee's side (preview and accept). Links with tokens
//! come back only in the answer that made them.

use aicarpool::model::{InvitationView, InviteLinkView, InvitePreview};
use leptos::prelude::*;

use crate::error::AppError;

/// Invites an email address; the answer carries the accept link (shown once).
#[server(prefix = "/rpc", endpoint = "send_invitation")]
pub async fn send_invitation(
    id: i64,
    email: String,
    role: String,
) -> Result<InvitationView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let role = ssr::parse_role(&role)?;
    Ok(aicarpool::invites::invite(&state, &principal, id, &email, role).await?)
}

/// Revokes a pending invitation.
#[server(prefix = "/rpc", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(id: i64, invitation_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::invites::revoke_invitation(&state, &principal, id, invitation_id).await?)
}

/// Sends an invitation again with a new link (the old one stops working); the answer carries
/// the new link.
#[server(prefix = "/rpc", endpoint = "resend_invitation")]
pub async fn resend_invitation(id: i64, invitation_id: i64) -> Result<InvitationView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::invites::resend_invitation(&state, &principal, id, invitation_id).await?)
}

/// Creates a multi-use invite link; empty limits mean "no limit". The answer carries the link.
#[server(prefix = "/rpc", endpoint = "create_invite_link")]
pub async fn create_invite_link(
    id: i64,
    role: String,
    max_uses: String,
    expires_in_hours: String,
) -> Result<InviteLinkView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let role = ssr::parse_role(&role)?;
    let max_uses = ssr::optional_number("max_uses", &max_uses)?;
    let expires_in_hours = ssr::optional_number("expires_in_hours", &expires_in_hours)?;
    Ok(
        aicarpool::invites::create_link(&state, &principal, id, role, max_uses, expires_in_hours)
            .await?,
    )
}

/// Revokes an invite link.
#[server(prefix = "/rpc", endpoint = "revoke_invite_link")]
pub async fn revoke_invite_link(id: i64, link_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::invites::revoke_link(&state, &principal, id, link_id).await?)
}

/// What the holder of an invitation token may see about it; no sign-in needed.
#[server(prefix = "/rpc", endpoint = "preview_invite")]
pub async fn preview_invite(token: String) -> Result<InvitePreview, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    Ok(aicarpool::invites::preview(&state, &token).await?)
}

/// Accepts an invitation as the signed-in user and opens the group. It never signs anyone in.
#[server(prefix = "/rpc", endpoint = "accept_invite")]
pub async fn accept_invite(token: String) -> Result<i64, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let group = aicarpool::invites::accept(&state, &principal, &token).await?;
    ssr::redirect(&format!("/groups/{}", group.id));
    Ok(group.id)
}
