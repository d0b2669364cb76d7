//! `/groups/{id}`: a group's page. The name and description (editable by owners and admins),
//! links to the member's API keys, usage, own budget and the cost split; the accounts that
//! serve the group, its routing and limits, the members, the invitations and invite links
//! (owners and admins), and deleting the group (owners). A non-member gets the not-found page,
//! as if the group did not exist.

use aicarpool::api::ApiError;
use aicarpool::model::GroupRole;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::{CARD, DANGER, ErrorNote, Field, INPUT, SECONDARY, SignInPrompt, Submit};
use crate::error::{AppError, error_from_query};
use crate::i18n::use_i18n;
use crate::pages::group_accounts::AccountsSection;
use crate::pages::group_invites::{InvitationsSection, LinksSection};
use crate::pages::group_limits::LimitsSection;
use crate::pages::group_members::MembersSection;
use crate::pages::group_routing::RoutingSection;
use crate::pages::groups::{GROUP_DESCRIPTION_MAX, check_group_name};
use crate::pages::not_found::NotFoundPage;
use crate::server::accounts::{BindAccount, UnbindAccount};
use crate::server::budget::{CreateLimit, DeleteLimit, SetTimeZone, UpdateLimit, UpdateRouting};
use crate::server::groups::{
    ChangeRole, DeleteGroup, GroupDetails, LeaveGroup, RemoveMember, TransferOwnership,
    UpdateGroup, load_group,
};
use crate::server::invites::{
    CreateInviteLink, ResendInvitation, RevokeInvitation, RevokeInviteLink, SendInvitation,
};
use crate::session::{on_error, on_success, use_session};

/// The part of the page an error belongs to, so it shows next to the form that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Name and description.
    Group,
    /// Deleting the group.
    Delete,
    /// The members table.
    Members,
    /// Email invitations.
    Invitations,
    /// Invite links.
    Links,
    /// The accounts that serve the group.
    Accounts,
    /// The routing strategy and fallback chains.
    Routing,
    /// Budgets and limits.
    Limits,
    /// The limit being edited in place.
    LimitEdit,
}

/// A link just made, shown once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshLink {
    /// Whom it is for (the invited email), if anyone in particular.
    pub email: Option<String>,
    /// The link.
    pub url: String,
}

/// The page's actions and what they leave behind; outlives each reload of the group's data.
#[derive(Clone, Copy)]
pub struct GroupActions {
    /// Rename / describe.
    pub update: ServerAction<UpdateGroup>,
    /// Delete the group.
    pub delete: ServerAction<DeleteGroup>,
    /// Change a member's role.
    pub change_role: ServerAction<ChangeRole>,
    /// Remove a member.
    pub remove: ServerAction<RemoveMember>,
    /// Leave the group.
    pub leave: ServerAction<LeaveGroup>,
    /// Hand ownership to a member.
    pub transfer: ServerAction<TransferOwnership>,
    /// Invite an email address.
    pub invite: ServerAction<SendInvitation>,
    /// Revoke an invitation.
    pub revoke_invitation: ServerAction<RevokeInvitation>,
    /// Renew an invitation (new link, new mail).
    pub resend: ServerAction<ResendInvitation>,
    /// Create an invite link.
    pub create_link: ServerAction<CreateInviteLink>,
    /// Revoke an invite link.
    pub revoke_link: ServerAction<RevokeInviteLink>,
    /// Bind an account to the group.
    pub bind: ServerAction<BindAccount>,
    /// Unbind an account.
    pub unbind: ServerAction<UnbindAccount>,
    /// Save the routing strategy and fallback chains.
    pub routing: ServerAction<UpdateRouting>,
    /// Add a limit.
    pub create_limit: ServerAction<CreateLimit>,
    /// Change a limit's cap and thresholds.
    pub update_limit: ServerAction<UpdateLimit>,
    /// Delete a limit.
    pub delete_limit: ServerAction<DeleteLimit>,
    /// Change the time zone of day and month windows.
    pub time_zone: ServerAction<SetTimeZone>,
    /// Bumped by every success, to load the group again.
    pub changed: RwSignal<u64>,
    /// The last refusal and where it belongs.
    pub error: RwSignal<Option<(Part, ApiError)>>,
    /// The accept link of the invitation just sent or renewed.
    pub fresh_invitation: RwSignal<Option<FreshLink>>,
    /// The invite link just created.
    pub fresh_link: RwSignal<Option<FreshLink>>,
}

impl GroupActions {
    fn new() -> Self {
        let actions = GroupActions {
            update: ServerAction::new(),
            delete: ServerAction::new(),
            change_role: ServerAction::new(),
            remove: ServerAction::new(),
            leave: ServerAction::new(),
            transfer: ServerAction::new(),
            invite: ServerAction::new(),
            revoke_invitation: ServerAction::new(),
            resend: ServerAction::new(),
            create_link: ServerAction::new(),
            revoke_link: ServerAction::new(),
            bind: ServerAction::new(),
            unbind: ServerAction::new(),
            routing: ServerAction::new(),
            create_limit: ServerAction::new(),
            update_limit: ServerAction::new(),
            delete_limit: ServerAction::new(),
            time_zone: ServerAction::new(),
            changed: RwSignal::new(0),
            error: RwSignal::new(None),
            fresh_invitation: RwSignal::new(None),
            fresh_link: RwSignal::new(None),
        };
        let a = actions;
        let done = move || {
            a.error.set(None);
            a.changed.update(|n| *n += 1);
        };
        let failed = move |part: Part| move |e: &AppError| a.error.set(Some((part, e.0.clone())));
        on_success(a.update, move |_| done());
        on_error(a.update, failed(Part::Group));
        on_error(a.delete, failed(Part::Delete));
        on_success(a.change_role, move |_| done());
        on_error(a.change_role, failed(Part::Members));
        on_success(a.remove, move |()| done());
        on_error(a.remove, failed(Part::Members));
        on_error(a.leave, failed(Part::Members));
        on_success(a.transfer, move |()| done());
        on_error(a.transfer, failed(Part::Members));
        let show_invitation = move |view: &aicarpool::model::InvitationView| {
            a.fresh_invitation
                .set(view.accept_url.clone().map(|url| FreshLink {
                    email: Some(view.email.clone()),
                    url,
                }));
            done();
        };
        on_success(a.invite, show_invitation);
        on_error(a.invite, failed(Part::Invitations));
        on_success(a.resend, show_invitation);
        on_error(a.resend, failed(Part::Invitations));
        on_success(a.revoke_invitation, move |()| done());
        on_error(a.revoke_invitation, failed(Part::Invitations));
        on_success(a.create_link, move |view| {
            a.fresh_link
                .set(view.url.clone().map(|url| FreshLink { email: None, url }));
            done();
        });
        on_error(a.create_link, failed(Part::Links));
        on_success(a.revoke_link, move |()| done());
        on_error(a.revoke_link, failed(Part::Links));
        on_success(a.bind, move |_| done());
        on_error(a.bind, failed(Part::Accounts));
        on_success(a.unbind, move |()| done());
        on_error(a.unbind, failed(Part::Accounts));
        on_success(a.routing, move |_| done());
        on_error(a.routing, failed(Part::Routing));
        on_success(a.create_limit, move |_| done());
        on_error(a.create_limit, failed(Part::Limits));
        // A saved limit closes its form: the address no longer names it.
        let navigate = leptos_router::hooks::use_navigate();
        on_success(
            a.update_limit,
            move |limit: &aicarpool::model::LimitView| {
                done();
                navigate(
                    &format!("/groups/{}", limit.group_id),
                    leptos_router::NavigateOptions {
                        scroll: false,
                        ..Default::default()
                    },
                );
            },
        );
        on_error(a.update_limit, failed(Part::LimitEdit));
        on_success(a.delete_limit, move |()| done());
        on_error(a.delete_limit, failed(Part::Limits));
        on_success(a.time_zone, move |_| done());
        on_error(a.time_zone, failed(Part::Limits));
        actions
    }

    /// The last refusal if it belongs to `part`.
    pub fn error_for(&self, part: Part) -> Signal<Option<ApiError>> {
        let error = self.error;
        Signal::derive(move || {
            error.with(|e| {
                e.as_ref()
                    .filter(|(p, _)| *p == part)
                    .map(|(_, e)| e.clone())
            })
        })
    }
}

/// `/groups/{id}`.
#[component]
pub fn GroupPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let actions = GroupActions::new();
    // Leaving or deleting changes the caller's groups.
    on_success(actions.leave, move |()| session.refresh());
    on_success(actions.delete, move |()| session.refresh());
    let details = Resource::new_blocking(
        move || (id.get(), actions.changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => load_group(id).await,
                None => Err(AppError::not_found()),
            }
        },
    );
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                let money = crate::money::current(session).await;
                match details.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(details)) => view! { <GroupContent details actions money /> }.into_any(),
                    Err(e) if e.is_not_found() => view! { <NotFoundPage /> }.into_any(),
                    Err(e) => view! {
                        <p role="alert" class="text-red-600">{move || i18n.t().api_error(&e.0)}</p>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

/// The loaded page.
#[component]
fn GroupContent(
    details: GroupDetails,
    actions: GroupActions,
    money: crate::money::Money,
) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let role = details.my_role;
    let member_role = details.group.role;
    let count = details.group.member_count;
    let page_error = Signal::derive(move || error_from_query(&query.read()));
    let admin = role >= GroupRole::Admin;
    let owner = role == GroupRole::Owner;
    view! {
        <article id="group" data-group-id=details.group.id.to_string() class="space-y-10">
            <header class="space-y-2">
                <h1 id="group-name" class="text-3xl font-semibold tracking-tight">{details.group.name.clone()}</h1>
                <p id="group-description" class="whitespace-pre-line text-slate-600 dark:text-slate-300">
                    {details.group.description.clone()}
                </p>
                <p class="text-sm text-slate-500 dark:text-slate-400">
                    {move || i18n.t().your_role} ": "
                    <span id="my-role" data-role=member_role.map(GroupRole::as_str).unwrap_or("none") class="font-medium text-slate-800 dark:text-slate-100">
                        {move || match member_role {
                            Some(r) => i18n.t().role(r).to_owned(),
                            None => i18n.t().not_a_member_admin.to_owned(),
                        }}
                    </span>
                    " · "
                    {move || (i18n.t().member_count)(count)}
                </p>
                <p class="flex flex-wrap gap-2">
                    <a id="group-keys-link" href=format!("/groups/{}/keys", details.group.id) class=SECONDARY>
                        {move || i18n.t().proxy.api_keys}
                    </a>
                    <a id="group-usage-link" href=format!("/groups/{}/usage", details.group.id) class=SECONDARY>
                        {move || i18n.t().reports.usage}
                    </a>
                    <a id="group-me-link" href=format!("/groups/{}/me", details.group.id) class=SECONDARY>
                        {move || i18n.t().reports.my_budget}
                    </a>
                    <a id="group-cost-split-link" href=format!("/groups/{}/cost-split", details.group.id) class=SECONDARY>
                        {move || i18n.t().reports.cost_split}
                    </a>
                </p>
                <ErrorNote id="group-page-error" error=page_error />
                {admin.then(|| view! { <EditGroup details=details.clone() actions /> })}
            </header>
            <AccountsSection details=details.clone() actions />
            <RoutingSection details=details.clone() actions />
            <LimitsSection details=details.clone() actions money />
            <MembersSection details=details.clone() actions />
            {admin.then(|| view! {
                <InvitationsSection details=details.clone() actions />
                <LinksSection details=details.clone() actions />
            })}
            {owner.then(|| view! { <DeleteGroup id=details.group.id actions /> })}
        </article>
    }
    .into_any()
}

/// The name and description form, folded away until wanted.
#[component]
fn EditGroup(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let name = RwSignal::new(details.group.name.clone());
    view! {
        <details id="edit-group" class=format!("mt-4 max-w-xl {CARD}")>
            <summary class="cursor-pointer font-medium">{move || i18n.t().edit_group}</summary>
            <ActionForm action=actions.update>
                <input type="hidden" name="id" value=details.group.id.to_string() />
                <div class="mt-4 space-y-4">
                    <Field
                        label=|t| t.group_name
                        form="edit-group"
                        name="name"
                        input_type="text"
                        autocomplete="off"
                        value=name
                        check=Signal::derive(move || check_group_name(&name.get()))
                    />
                    <div>
                        <label for="edit-group-description" class="block text-sm font-medium">
                            {move || i18n.t().group_description}
                        </label>
                        <textarea
                            id="edit-group-description"
                            name="description"
                            rows="3"
                            maxlength=GROUP_DESCRIPTION_MAX.to_string()
                            class=format!("mt-1 {INPUT}")
                        >{details.group.description.clone()}</textarea>
                    </div>
                    <ErrorNote id="edit-group-error" error=actions.error_for(Part::Group) />
                    <Submit label=|t| t.save pending=actions.update.pending() />
                </div>
            </ActionForm>
        </details>
    }
    .into_any()
}

/// Deleting the group, behind an explicit confirmation (works without JavaScript too).
#[component]
fn DeleteGroup(id: i64, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="rounded-xl border border-red-200 p-6 dark:border-red-900">
            <h2 class="text-lg font-semibold text-red-700 dark:text-red-300">{move || i18n.t().danger_zone}</h2>
            <details id="delete-group" class="mt-3">
                <summary class=format!("inline-block cursor-pointer {DANGER}")>{move || i18n.t().delete_group}</summary>
                <ActionForm action=actions.delete>
                    <input type="hidden" name="id" value=id.to_string() />
                    <p class="mt-3 text-sm text-slate-700 dark:text-slate-200">{move || i18n.t().delete_group_warning}</p>
                    <label class="mt-3 flex items-center gap-2 text-sm">
                        <input id="delete-group-confirm" type="checkbox" name="confirm" value="yes" required />
                        {move || i18n.t().delete_group_confirm}
                    </label>
                    <div class="mt-3 flex gap-2">
                        <Submit id="delete-group-submit" label=|t| t.delete_group_for_good pending=actions.delete.pending() class=DANGER />
                    </div>
                    <div class="mt-2">
                        <ErrorNote id="delete-group-error" error=actions.error_for(Part::Delete) />
                    </div>
                </ActionForm>
            </details>
        </section>
    }
    .into_any()
}
