//! The invitation parts of the group page (owners and admins): email invitations with their
//! mail delivery, and multi-use invite links. A link with its token is shown once, right after
//! it was made, with a Copy button; afterwards only a new link can be made.

use aicarpool::model::{GroupRole, InvitationView, InviteLinkView};
use aicarpool::validate;
use leptos::prelude::*;

use crate::components::{
    CARD, CopyLink, DANGER, ErrorNote, Field, INPUT, SECONDARY, SELECT, Submit, format_time,
};
use crate::i18n::use_i18n;
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// The role choice of an invitation or link (owners are made from the members list).
#[component]
fn RoleSelect(
    /// The select's id.
    id: &'static str,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div>
            <label for=id class="block text-sm font-medium">{move || i18n.t().role_label}</label>
            <select id=id name="role" class=format!("mt-1 {SELECT}")>
                <option value="member" selected=true>{move || i18n.t().role(GroupRole::Member)}</option>
                <option value="admin">{move || i18n.t().role(GroupRole::Admin)}</option>
            </select>
        </div>
    }
    .into_any()
}

/// Email invitations: the form, the link just made, the list.
#[component]
pub fn InvitationsSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = details.group.id;
    let email = RwSignal::new(String::new());
    let empty = details.invitations.is_empty();
    let rows = details
        .invitations
        .into_iter()
        .map(|inv| view! { <InvitationRow group=group_id invitation=inv actions /> })
        .collect_view();
    view! {
        <section id="invitations" class="space-y-4">
            <h2 class="text-xl font-semibold">{move || i18n.t().invitations}</h2>
            <div id="invite-form" class=format!("max-w-xl {CARD}")>
                <ActionForm action=actions.invite>
                    <input type="hidden" name="id" value=group_id.to_string() />
                    <div class="space-y-4">
                        <Field
                            label=|t| t.invite_email
                            form="invite-form"
                            name="email"
                            input_type="email"
                            autocomplete="off"
                            value=email
                            check=Signal::derive(move || validate::email(&email.get()).map(|_| ()))
                        />
                        <RoleSelect id="invite-form-role" />
                        <ErrorNote id="invitations-error" error=actions.error_for(Part::Invitations) />
                        <Submit id="invite-submit" label=|t| t.send_invitation pending=actions.invite.pending() />
                    </div>
                </ActionForm>
            </div>
            {move || actions.fresh_invitation.get().map(|fresh| view! {
                <div class="max-w-xl space-y-1">
                    <p class="text-sm">
                        {move || i18n.t().invitation_link_for} " "
                        <strong id="invite-link-email">{fresh.email.clone()}</strong>
                    </p>
                    <CopyLink id="invite-link" label=|t| t.invitation_link url=fresh.url />
                </div>
            })}
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="invitation-list" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().email}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().role_label}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().state}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().delivery}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().expires}</th>
                            <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
                <Show when=move || empty>
                    <p class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().no_invitations}</p>
                </Show>
            </div>
        </section>
    }
    .into_any()
}

/// One invitation with its delivery and actions.
#[component]
fn InvitationRow(group: i64, invitation: InvitationView, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let id = invitation.id;
    let state = invitation.state.clone();
    let role = invitation.role;
    let delivery = invitation.delivery.clone();
    let delivery_state = match &delivery {
        Some(aicarpool::model::DeliveryView::Sent { .. }) => "sent",
        Some(aicarpool::model::DeliveryView::Pending { .. }) => "pending",
        None => "none",
    };
    let pending = state == "pending";
    let renewable = pending || state == "expired";
    let revoke = pending.then(|| view! {
        <ActionForm action=actions.revoke_invitation>
            <input type="hidden" name="id" value=group.to_string() />
            <input type="hidden" name="invitation_id" value=id.to_string() />
            <Submit label=|t| t.revoke pending=actions.revoke_invitation.pending() class=DANGER />
        </ActionForm>
    });
    let resend = renewable.then(|| {
        view! {
            <ActionForm action=actions.resend>
                <input type="hidden" name="id" value=group.to_string() />
                <input type="hidden" name="invitation_id" value=id.to_string() />
                <Submit label=|t| t.new_link pending=actions.resend.pending() class=SECONDARY />
            </ActionForm>
        }
    });
    let state_label = state.clone();
    view! {
        <tr data-invitation-email=invitation.email.clone() data-state=state.clone()>
            <td class="px-4 py-2">{invitation.email.clone()}</td>
            <td class="px-4 py-2">{move || i18n.t().role(role)}</td>
            <td class="px-4 py-2" data-test="invitation-state">{move || i18n.t().invitation_state(&state_label)}</td>
            <td class="px-4 py-2 text-slate-600 dark:text-slate-300" data-delivery=delivery_state>
                {move || delivery.as_ref().map(|d| i18n.t().delivery_state(d)).unwrap_or_default()}
            </td>
            <td class="px-4 py-2 text-slate-500">{format_time(invitation.expires_at)}</td>
            <td class="px-4 py-2">
                <div class="flex flex-wrap justify-end gap-2">{resend}{revoke}</div>
            </td>
        </tr>
    }
    .into_any()
}

/// Invite links: the form, the link just made, the list.
#[component]
pub fn LinksSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = details.group.id;
    let empty = details.links.is_empty();
    let rows = details
        .links
        .into_iter()
        .map(|link| view! { <LinkRow group=group_id link actions /> })
        .collect_view();
    view! {
        <section id="invite-links" class="space-y-4">
            <h2 class="text-xl font-semibold">{move || i18n.t().invite_links}</h2>
            <p class="text-sm text-slate-600 dark:text-slate-300">{move || i18n.t().invite_links_intro}</p>
            <div id="link-form" class=format!("max-w-xl {CARD}")>
                <ActionForm action=actions.create_link>
                    <input type="hidden" name="id" value=group_id.to_string() />
                    <div class="grid gap-4 sm:grid-cols-3">
                        <RoleSelect id="link-form-role" />
                        <div>
                            <label for="link-form-max-uses" class="block text-sm font-medium">{move || i18n.t().max_uses}</label>
                            <input id="link-form-max-uses" name="max_uses" type="number" min="1" max="10000" placeholder=move || i18n.t().unlimited class=format!("mt-1 {INPUT}") />
                        </div>
                        <div>
                            <label for="link-form-expires" class="block text-sm font-medium">{move || i18n.t().expires_in_hours}</label>
                            <input id="link-form-expires" name="expires_in_hours" type="number" min="1" max="2160" placeholder=move || i18n.t().never class=format!("mt-1 {INPUT}") />
                        </div>
                    </div>
                    <div class="mt-4 space-y-3">
                        <ErrorNote id="links-error" error=actions.error_for(Part::Links) />
                        <Submit id="link-submit" label=|t| t.create_link pending=actions.create_link.pending() />
                    </div>
                </ActionForm>
            </div>
            {move || actions.fresh_link.get().map(|fresh| view! {
                <div class="max-w-xl">
                    <CopyLink id="new-link" label=|t| t.invite_link url=fresh.url />
                </div>
            })}
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="link-list" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().role_label}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().uses}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().expires}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().state}</th>
                            <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
                <Show when=move || empty>
                    <p class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().no_links}</p>
                </Show>
            </div>
        </section>
    }
    .into_any()
}

/// One invite link.
#[component]
fn LinkRow(group: i64, link: InviteLinkView, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let role = link.role;
    let state = link.state.clone();
    let state_label = state.clone();
    let uses = link.uses;
    let max_uses = link.max_uses;
    let expires_at = link.expires_at;
    let link_id = link.id;
    let revoke = (state == "active").then(|| {
        view! {
            <ActionForm action=actions.revoke_link>
                <input type="hidden" name="id" value=group.to_string() />
                <input type="hidden" name="link_id" value=link_id.to_string() />
                <Submit label=|t| t.revoke pending=actions.revoke_link.pending() class=DANGER />
            </ActionForm>
        }
    });
    view! {
        <tr data-link-id=link.id.to_string() data-state=state.clone()>
            <td class="px-4 py-2">{move || i18n.t().role(role)}</td>
            <td class="px-4 py-2">
                {move || match max_uses {
                    Some(max) => format!("{uses} / {max}"),
                    None => format!("{uses} / {}", i18n.t().unlimited),
                }}
            </td>
            <td class="px-4 py-2 text-slate-500">
                {move || expires_at.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}
            </td>
            <td class="px-4 py-2" data-test="link-state">{move || i18n.t().link_state(&state_label)}</td>
            <td class="px-4 py-2"><div class="flex justify-end">{revoke}</div></td>
        </tr>
    }
    .into_any()
}
