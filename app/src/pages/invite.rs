//! `/invite/{token}`: what an invitation offers, and the way to accept it. Signed out, the
//! invitee signs in or registers right here (with the invited email filled in) and comes back;
//! signed in as the right account, one button accepts. Accepting never signs anyone in.

use aicarpool::model::{InvitePreview, MeView};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::{CARD, ErrorNote, SECONDARY, Submit, format_time};
use crate::error::error_from_query;
use crate::i18n::use_i18n;
use crate::pages::auth::{LoginForm, RegisterForm};
use crate::server::account::Logout;
use crate::server::invites::{AcceptInvite, preview_invite};
use crate::session::{on_success, use_session};

/// `/invite/{token}`.
#[component]
pub fn InvitePage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let params = use_params_map();
    let token = Memo::new(move |_| params.read().get("token").unwrap_or_default());
    let preview = Resource::new_blocking(move || token.get(), preview_invite);
    view! {
        <Suspense fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                let preview = preview.await;
                let user = session.user.await;
                match (preview, user) {
                    (Ok(preview), Ok(user)) => view! {
                        <InviteView token=token.get_untracked() preview user />
                    }
                    .into_any(),
                    (Err(e), _) if e.is_not_found() => view! {
                        <section id="invite-not-found" class="mx-auto max-w-xl py-12 text-center">
                            <h1 class="text-2xl font-semibold">{move || i18n.t().invite_not_found_title}</h1>
                            <p class="mt-3 text-slate-600 dark:text-slate-300">{move || i18n.t().invite_not_found_body}</p>
                        </section>
                    }
                    .into_any(),
                    (Err(e), _) | (_, Err(e)) => view! {
                        <p role="alert" class="text-red-600">{move || i18n.t().api_error(&e.0)}</p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// The invitation and what the visitor can do with it.
#[component]
fn InviteView(token: String, preview: InvitePreview, user: Option<MeView>) -> impl IntoView {
    let i18n = use_i18n();
    let usable = preview.state == "pending" || preview.state == "active";
    let by_email = preview.kind == "email";
    let invited_email = preview.email.clone().unwrap_or_default();
    let next = format!("/invite/{token}");
    let role = preview.role;
    let state = preview.state.clone();
    let group_name = preview.group_name.clone();
    let inviter = preview.inviter_name.clone();

    let action = if !usable {
        let state = state.clone();
        let state_attr = state.clone();
        view! {
            <p id="invite-unusable" data-state=state_attr class="rounded-lg bg-amber-50 p-4 text-amber-800 dark:bg-amber-950 dark:text-amber-200">
                {move || i18n.t().invite_unusable(&state)}
            </p>
        }
        .into_any()
    } else {
        match user {
            None => view! {
                <div class="space-y-4">
                    <p class="text-slate-600 dark:text-slate-300">{move || i18n.t().invite_sign_in_first}</p>
                    <div class="grid gap-6 md:grid-cols-2">
                        <div class=CARD>
                            <h2 class="mb-4 text-lg font-semibold">{move || i18n.t().invite_have_account}</h2>
                            <LoginForm id="invite-login-form" next=next.clone() email=invited_email.clone() />
                        </div>
                        <div class=CARD>
                            <h2 class="mb-4 text-lg font-semibold">{move || i18n.t().invite_new_account}</h2>
                            <RegisterForm id="invite-register-form" next=next.clone() email=invited_email.clone() email_fixed=by_email />
                        </div>
                    </div>
                </div>
            }
            .into_any(),
            Some(me) if by_email && !me.user.email.eq_ignore_ascii_case(&invited_email) => view! {
                <WrongAccount invited=invited_email.clone() signed_in=me.user.email.clone() next=next.clone() />
            }
            .into_any(),
            Some(me) => view! { <AcceptForm token=token.clone() name=me.user.name.clone() /> }.into_any(),
        }
    };

    view! {
        <section class="mx-auto max-w-3xl space-y-6">
            <div id="invite-preview" data-state=state.clone() data-kind=preview.kind.clone() class=CARD>
                <h1 class="text-2xl font-semibold tracking-tight">
                    {move || (i18n.t().invite_heading)(&inviter, &group_name)}
                </h1>
                <dl class="mt-4 grid grid-cols-[auto_1fr] gap-x-6 gap-y-2 text-sm">
                    <dt class="text-slate-500">{move || i18n.t().role_label}</dt>
                    <dd id="invite-role" data-role=role.as_str()>{move || i18n.t().role(role)}</dd>
                    <dt class="text-slate-500">{move || i18n.t().state}</dt>
                    <dd id="invite-state">{
                        let state = state.clone();
                        move || if by_email { i18n.t().invitation_state(&state) } else { i18n.t().link_state(&state) }
                    }</dd>
                    {preview.email.clone().map(|email| view! {
                        <dt class="text-slate-500">{move || i18n.t().invited_email}</dt>
                        <dd id="invite-email">{email}</dd>
                    })}
                    {preview.expires_at.map(|at| view! {
                        <dt class="text-slate-500">{move || i18n.t().expires}</dt>
                        <dd>{format_time(at)}</dd>
                    })}
                </dl>
            </div>
            {action}
        </section>
    }
    .into_any()
}

/// Signed in as someone else than the invited address: say so, offer to sign out.
#[component]
fn WrongAccount(invited: String, signed_in: String, next: String) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let logout = ServerAction::<Logout>::new();
    on_success(logout, move |()| session.refresh());
    view! {
        <div id="invite-wrong-account" class="space-y-3 rounded-lg bg-amber-50 p-4 text-amber-900 dark:bg-amber-950 dark:text-amber-100">
            <p>{move || (i18n.t().invite_wrong_account)(&invited, &signed_in)}</p>
            <ActionForm action=logout>
                <input type="hidden" name="next" value=next />
                <Submit id="invite-sign-out" label=|t| t.sign_out pending=logout.pending() class=SECONDARY />
            </ActionForm>
        </div>
    }
    .into_any()
}

/// The accept button for the signed-in invitee.
#[component]
fn AcceptForm(token: String, name: String) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let accept = ServerAction::<AcceptInvite>::new();
    on_success(accept, move |_| session.refresh());
    let query = use_query_map();
    let error = Signal::derive(move || match accept.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(_)) => None,
        None => error_from_query(&query.read()),
    });
    view! {
        <div id="accept-form" class=format!("space-y-3 {CARD}")>
            <p>{move || (i18n.t().invite_accept_as)(&name)}</p>
            <ActionForm action=accept>
                <input type="hidden" name="token" value=token />
                <Submit id="accept-invite" label=|t| t.accept_invitation pending=accept.pending() />
            </ActionForm>
            <ErrorNote id="accept-error" error />
        </div>
    }
    .into_any()
}
