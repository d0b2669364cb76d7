//! Invitations: by email (single use, for that address only) and by multi-use link (max uses,
//! expiry). Tokens are 32 random bytes, shown once in the link and stored as SHA-256. Accepting
//! needs the invitee's own session and never signs anyone in.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::db::invites::{
    self, AcceptOutcome, InvitationRow, InviteLinkRow, NewInvitation, NewInviteLink,
};
use crate::db::outbox::{self, NewMail};
use crate::db::{groups as group_store, now_ms};
use crate::error::ServiceError;
use crate::groups::{access, require};
use crate::i18n::Locale;
use crate::identity::Principal;
use crate::model::{
    DeliveryView, GroupRole, GroupView, InvitationView, InviteLinkView, InvitePreview,
};
use crate::state::AppState;
use crate::validate;

/// How long an email invitation stays valid.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest expiry of an invite link.
pub const LINK_MAX_TTL_HOURS: i64 = 24 * 90;

fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn accept_url(state: &AppState, token: &str) -> String {
    format!("{}/invite/{token}", state.config().app_url)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn invitable_role(role: GroupRole) -> Result<GroupRole, ServiceError> {
    if role == GroupRole::Owner {
        Err(ServiceError::BadInput(
            "role: invite as member or admin; make an owner from the members list".into(),
        ))
    } else {
        Ok(role)
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The invitation mail, in the inviter's language, with a plain-text and an HTML part.
pub fn invitation_mail(
    locale: Locale,
    to: &str,
    inviter: &str,
    group: &str,
    role: GroupRole,
    url: &str,
) -> NewMail {
    let (subject, intro, role_line, action, expiry, ignore) = match locale {
        Locale::ZhCn => (
            format!("{inviter} 邀请你加入 AiCarpool 拼车组「{group}」"),
            format!("{inviter} 邀请你加入 AiCarpool 拼车组「{group}」。"),
            format!(
                "加入后的角色：{}",
                match role {
                    GroupRole::Admin => "管理员",
                    _ => "成员",
                }
            ),
            "打开下面的链接，用本邮箱登录或注册后接受邀请：".to_owned(),
            "链接 7 天内有效，只能使用一次。".to_owned(),
            "如果你不认识邀请人，忽略这封邮件即可。".to_owned(),
        ),
        Locale::En => (
            format!("{inviter} invited you to {group} on AiCarpool"),
            format!("{inviter} invited you to the carpool group “{group}” on AiCarpool."),
            format!(
                "Your role: {}",
                match role {
                    GroupRole::Admin => "admin",
                    _ => "member",
                }
            ),
            "Open the link below, sign in or register with this email address, and accept:"
                .to_owned(),
            "The link works once and expires in 7 days.".to_owned(),
            "If you do not know the sender, ignore this mail.".to_owned(),
        ),
    };
    let text = format!("{intro}\n{role_line}\n\n{action}\n{url}\n\n{expiry}\n{ignore}\n");
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><body style=\"font-family:sans-serif\"><p>{intro}</p><p>{role_line}</p>\
         <p>{action}</p><p><a href=\"{url}\">{url}</a></p><p style=\"color:#666\">{expiry}<br>{ignore}</p></body></html>",
        lang = locale.code(),
        intro = escape_html(&intro),
        role_line = escape_html(&role_line),
        action = escape_html(&action),
        url = escape_html(url),
        expiry = escape_html(&expiry),
        ignore = escape_html(&ignore),
    );
    NewMail {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

fn invitation_state(row: &InvitationRow, now: i64) -> &'static str {
    if row.accepted_at.is_some() {
        "accepted"
    } else if row.revoked_at.is_some() {
        "revoked"
    } else if row.expires_at <= now {
        "expired"
    } else {
        "pending"
    }
}

fn link_state(row: &InviteLinkRow, now: i64) -> &'static str {
    if row.revoked_at.is_some() {
        "revoked"
    } else if row.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if row.max_uses.is_some_and(|m| row.uses >= m) {
        "exhausted"
    } else {
        "active"
    }
}

async fn invitation_view(
    state: &AppState,
    row: InvitationRow,
    accept_url: Option<String>,
) -> Result<InvitationView, ServiceError> {
    let delivery = match row.mail_id {
        Some(id) => outbox::find(state.db(), id)
            .await?
            .map(|m| match m.sent_at {
                Some(sent_at) if m.state == "sent" => DeliveryView::Sent { sent_at },
                _ => DeliveryView::Pending {
                    attempts: m.attempts,
                    last_error: m.last_error,
                    next_attempt_at: m.next_attempt_at,
                },
            }),
        None => None,
    };
    Ok(InvitationView {
        id: row.id,
        email: row.email.clone(),
        role: GroupRole::parse(&row.role).unwrap_or(GroupRole::Member),
        state: invitation_state(&row, now_ms()).to_owned(),
        invited_by: row.inviter_name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        delivery,
        accept_url,
    })
}

fn link_view(row: InviteLinkRow, url: Option<String>) -> InviteLinkView {
    InviteLinkView {
        id: row.id,
        role: GroupRole::parse(&row.role).unwrap_or(GroupRole::Member),
        max_uses: row.max_uses,
        uses: row.uses,
        expires_at: row.expires_at,
        state: link_state(&row, now_ms()).to_owned(),
        created_at: row.created_at,
        url,
    }
}

/// `POST /api/groups/{id}/invite` `{email, role}` (owner or admin): stores the invitation and
/// its mail together and wakes the sender.
pub async fn invite(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    email: &str,
    role: GroupRole,
) -> Result<InvitationView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "invite people")?;
    let role = invitable_role(role)?;
    let email = validate::email(email).map_err(ServiceError::invalid("email"))?;
    if let Some(existing) = crate::db::users::find_by_email(state.db(), &email).await?
        && group_store::role_of(state.db(), group_id, existing.id)
            .await?
            .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "{email} is already a member of this group"
        )));
    }
    let group = group_store::find(state.db(), group_id)
        .await?
        .ok_or(ServiceError::NotFound("group"))?;
    let (token, token_hash) = new_token();
    let url = accept_url(state, &token);
    let locale = Locale::from_tag(&principal.user.locale).unwrap_or_default();
    let mail = invitation_mail(
        locale,
        &email,
        &principal.user.name,
        &group.name,
        role,
        &url,
    );
    let now = now_ms();
    let new = NewInvitation {
        group_id,
        email,
        role: role.as_str().to_owned(),
        token_hash,
        invited_by: principal.user.id,
        expires_at: now.saturating_add(ms(INVITATION_TTL)),
    };
    let id = invites::create_invitation(state.db(), &new, &mail, now).await?;
    state.mail_wake().notify_one();
    let row = invites::find_invitation(state.db(), group_id, id)
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    invitation_view(state, row, Some(url)).await
}

/// `GET /api/groups/{id}/invitations` (owner or admin).
pub async fn list_invitations(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Vec<InvitationView>, ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "see invitations",
    )?;
    let mut out = Vec::new();
    for row in invites::list_invitations(state.db(), group_id).await? {
        out.push(invitation_view(state, row, None).await?);
    }
    Ok(out)
}

/// `DELETE /api/groups/{id}/invitations/{inv}` (owner or admin).
pub async fn revoke_invitation(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<(), ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "revoke invitations",
    )?;
    let row = invites::find_invitation(state.db(), group_id, id)
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    if !invites::revoke_invitation(state.db(), group_id, id, now_ms()).await? {
        return Err(ServiceError::Conflict(format!(
            "the invitation is already {}",
            invitation_state(&row, now_ms())
        )));
    }
    Ok(())
}

/// `POST /api/groups/{id}/invitations/{inv}/resend` (owner or admin): a new link (the old one
/// stops working), a new expiry and a new mail.
pub async fn resend_invitation(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<InvitationView, ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "resend invitations",
    )?;
    let row = invites::find_invitation(state.db(), group_id, id)
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    if row.accepted_at.is_some() || row.revoked_at.is_some() {
        return Err(ServiceError::Conflict(format!(
            "the invitation is already {}",
            invitation_state(&row, now_ms())
        )));
    }
    let group = group_store::find(state.db(), group_id)
        .await?
        .ok_or(ServiceError::NotFound("group"))?;
    let (token, token_hash) = new_token();
    let url = accept_url(state, &token);
    let role = GroupRole::parse(&row.role).unwrap_or(GroupRole::Member);
    let locale = Locale::from_tag(&principal.user.locale).unwrap_or_default();
    let mail = invitation_mail(
        locale,
        &row.email,
        &principal.user.name,
        &group.name,
        role,
        &url,
    );
    let now = now_ms();
    if !invites::renew_invitation(
        state.db(),
        group_id,
        id,
        &token_hash,
        now.saturating_add(ms(INVITATION_TTL)),
        &mail,
        now,
    )
    .await?
    {
        return Err(ServiceError::Conflict(
            "the invitation is no longer pending".into(),
        ));
    }
    state.mail_wake().notify_one();
    let row = invites::find_invitation(state.db(), group_id, id)
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    invitation_view(state, row, Some(url)).await
}

/// `POST /api/groups/{id}/invite-links` `{role, max_uses?, expires_in_hours?}` (owner or admin).
pub async fn create_link(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    role: GroupRole,
    max_uses: Option<i64>,
    expires_in_hours: Option<i64>,
) -> Result<InviteLinkView, ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "create invite links",
    )?;
    let role = invitable_role(role)?;
    if max_uses.is_some_and(|m| !(1..=10_000).contains(&m)) {
        return Err(ServiceError::BadInput(
            "max_uses: between 1 and 10000, or leave it out for no limit".into(),
        ));
    }
    if expires_in_hours.is_some_and(|h| !(1..=LINK_MAX_TTL_HOURS).contains(&h)) {
        return Err(ServiceError::BadInput(format!(
            "expires_in_hours: between 1 and {LINK_MAX_TTL_HOURS}"
        )));
    }
    let now = now_ms();
    let (token, token_hash) = new_token();
    let link = NewInviteLink {
        group_id,
        role: role.as_str().to_owned(),
        token_hash,
        max_uses,
        created_by: principal.user.id,
        expires_at: expires_in_hours.map(|h| now.saturating_add(h.saturating_mul(3_600_000))),
    };
    let id = invites::create_link(state.db(), &link, now).await?;
    let row = invites::list_links(state.db(), group_id)
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or(ServiceError::NotFound("invite link"))?;
    Ok(link_view(row, Some(accept_url(state, &token))))
}

/// `GET /api/groups/{id}/invite-links` (owner or admin).
pub async fn list_links(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Vec<InviteLinkView>, ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "see invite links",
    )?;
    Ok(invites::list_links(state.db(), group_id)
        .await?
        .into_iter()
        .map(|r| link_view(r, None))
        .collect())
}

/// `DELETE /api/groups/{id}/invite-links/{link}` (owner or admin).
pub async fn revoke_link(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<(), ServiceError> {
    require(
        access(state, principal, group_id).await?,
        GroupRole::Admin,
        "revoke invite links",
    )?;
    if !invites::revoke_link(state.db(), group_id, id, now_ms()).await? {
        return Err(ServiceError::NotFound("invite link"));
    }
    Ok(())
}

enum Found {
    Invitation(InvitationRow),
    Link(InviteLinkRow),
}

async fn find_token(state: &AppState, token: &str) -> Result<Found, ServiceError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServiceError::NotFound("invitation"));
    }
    let hash = hash_token(token);
    if let Some(row) = invites::invitation_by_token(state.db(), &hash).await? {
        return Ok(Found::Invitation(row));
    }
    match invites::link_by_token(state.db(), &hash).await? {
        Some(row) => Ok(Found::Link(row)),
        None => Err(ServiceError::NotFound("invitation")),
    }
}

/// `GET /api/invitations/{token}`: what the token holder may see (no login needed).
pub async fn preview(state: &AppState, token: &str) -> Result<InvitePreview, ServiceError> {
    let now = now_ms();
    let (kind, group_id, inviter, role, st, email, expires_at) =
        match find_token(state, token).await? {
            Found::Invitation(r) => (
                "email",
                r.group_id,
                r.inviter_name.clone(),
                r.role.clone(),
                invitation_state(&r, now),
                Some(r.email.clone()),
                Some(r.expires_at),
            ),
            Found::Link(r) => (
                "link",
                r.group_id,
                r.inviter_name.clone(),
                r.role.clone(),
                link_state(&r, now),
                None,
                r.expires_at,
            ),
        };
    let group = group_store::find(state.db(), group_id)
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    Ok(InvitePreview {
        kind: kind.to_owned(),
        group_name: group.name,
        inviter_name: inviter,
        role: GroupRole::parse(&role).unwrap_or(GroupRole::Member),
        state: st.to_owned(),
        email,
        expires_at,
    })
}

/// `POST /api/invitations/{token}/accept` by a signed-in user. An email invitation can only be
/// accepted by the account with that email.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    token: &str,
) -> Result<GroupView, ServiceError> {
    let now = now_ms();
    let (group_id, outcome) = match find_token(state, token).await? {
        Found::Invitation(r) => {
            if !r.email.eq_ignore_ascii_case(&principal.user.email) {
                return Err(ServiceError::Forbidden(format!(
                    "this invitation is for another email address; sign in as {} to accept it",
                    r.email
                )));
            }
            let st = invitation_state(&r, now);
            if st != "pending" {
                return Err(ServiceError::Gone(format!("this invitation is {st}")));
            }
            (
                r.group_id,
                invites::accept_invitation(
                    state.db(),
                    r.id,
                    r.group_id,
                    &r.role,
                    principal.user.id,
                    now,
                )
                .await?,
            )
        }
        Found::Link(r) => {
            let st = link_state(&r, now);
            if st != "active" {
                return Err(ServiceError::Gone(format!("this invite link is {st}")));
            }
            (
                r.group_id,
                invites::accept_link(
                    state.db(),
                    r.id,
                    r.group_id,
                    &r.role,
                    principal.user.id,
                    now,
                )
                .await?,
            )
        }
    };
    match outcome {
        AcceptOutcome::Joined => crate::groups::get(state, principal, group_id).await,
        AcceptOutcome::AlreadyMember => Err(ServiceError::Conflict(
            "you are already a member of this group".into(),
        )),
        AcceptOutcome::NotUsable => Err(ServiceError::Gone(
            "this invitation can no longer be used".into(),
        )),
    }
}
