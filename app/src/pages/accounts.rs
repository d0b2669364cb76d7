//! `/accounts`: the upstream accounts the caller manages (all of them for a system admin, the
//! dedicated accounts of their groups for a group owner or admin), each with its health, its
//! bindings and its controls (test, enable/disable, edit, delete), and the form that adds one.
//! A user who manages no account gets the not-found page. The API key is never in the page:
//! only `…` and its last 4 characters.

use aicarpool::api::ApiError;
use aicarpool::model::AccountView;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::{DANGER, ErrorNote, SECONDARY, SignInPrompt, Submit, format_time};
use crate::error::{AppError, error_from_query};
use crate::i18n::use_i18n;
use crate::pages::account_form::{AddAccount, EditAccount};
use crate::pages::account_health::{HealthBadge, HealthDetails, caps_text};
use crate::pages::not_found::NotFoundPage;
use crate::server::accounts::{
    AccountsOverview, CreateAccount, DeleteAccount, SetAccountEnabled, TestAccount, TestOutcome,
    UpdateAccount, load_accounts,
};
use crate::session::{on_error, on_success};

/// Where a refusal belongs: the add form or one account's card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The add form.
    Add,
    /// The card of this account.
    Account(i64),
}

/// The page's actions and what they leave behind; outlives each reload of the list.
#[derive(Clone, Copy)]
pub struct AccountsActions {
    /// Add an account.
    pub create: ServerAction<CreateAccount>,
    /// Change an account.
    pub update: ServerAction<UpdateAccount>,
    /// Turn an account on or off.
    pub toggle: ServerAction<SetAccountEnabled>,
    /// Delete an account.
    pub delete: ServerAction<DeleteAccount>,
    /// Test an account's connection.
    pub test: ServerAction<TestAccount>,
    /// The account the last per-account action was sent for.
    pub focus: RwSignal<Option<i64>>,
    /// Bumped by every success, to load the list again.
    pub changed: RwSignal<u64>,
    /// The last refusal and where it belongs.
    pub error: RwSignal<Option<(Target, ApiError)>>,
    /// The latest connection test of each account tested on this page.
    pub tests: RwSignal<Vec<TestOutcome>>,
}

impl AccountsActions {
    fn new() -> Self {
        let a = AccountsActions {
            create: ServerAction::new(),
            update: ServerAction::new(),
            toggle: ServerAction::new(),
            delete: ServerAction::new(),
            test: ServerAction::new(),
            focus: RwSignal::new(None),
            changed: RwSignal::new(0),
            error: RwSignal::new(None),
            tests: RwSignal::new(Vec::new()),
        };
        // Remember which account a form was sent for, so its answer shows on that card.
        Effect::new(move |_| {
            let ids = [
                a.update.input().with(|i| i.as_ref().map(|i| i.id)),
                a.toggle.input().with(|i| i.as_ref().map(|i| i.id)),
                a.delete.input().with(|i| i.as_ref().map(|i| i.id)),
                a.test.input().with(|i| i.as_ref().map(|i| i.id)),
            ];
            if let Some(id) = ids.into_iter().flatten().next() {
                a.focus.set(Some(id));
            }
        });
        let done = move || {
            a.error.set(None);
            a.changed.update(|n| *n += 1);
        };
        let on_card = move |e: &AppError| {
            if let Some(id) = a.focus.get_untracked() {
                a.error.set(Some((Target::Account(id), e.0.clone())));
            }
        };
        on_success(a.create, move |_| done());
        on_error(a.create, move |e| {
            a.error.set(Some((Target::Add, e.0.clone())))
        });
        on_success(a.update, move |_| done());
        on_error(a.update, on_card);
        on_success(a.toggle, move |_| done());
        on_error(a.toggle, on_card);
        on_success(a.delete, move |()| done());
        on_error(a.delete, on_card);
        on_success(a.test, move |outcome: &TestOutcome| {
            let outcome = outcome.clone();
            a.tests.update(|all| {
                all.retain(|t| t.account_id != outcome.account_id);
                all.push(outcome);
            });
            done();
        });
        on_error(a.test, on_card);
        a
    }

    /// The last refusal if it belongs to `target`.
    pub fn error_for(&self, target: Target) -> Signal<Option<ApiError>> {
        let error = self.error;
        Signal::derive(move || {
            error.with(|e| {
                e.as_ref()
                    .filter(|(t, _)| *t == target)
                    .map(|(_, e)| e.clone())
            })
        })
    }

    /// True while `action` runs for account `id`.
    pub fn pending_for<S>(&self, action: ServerAction<S>, id: i64) -> Signal<bool>
    where
        S: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
        S::Output: Send + Sync + 'static,
        S::Error: Send + Sync + 'static,
    {
        let focus = self.focus;
        Signal::derive(move || action.pending().get() && focus.get() == Some(id))
    }
}

/// `/accounts`.
#[component]
pub fn AccountsPage() -> impl IntoView {
    let i18n = use_i18n();
    let actions = AccountsActions::new();
    let overview = Resource::new_blocking(move || actions.changed.get(), |_| load_accounts());
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(overview)) => view! { <AccountsContent overview actions /> }.into_any(),
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
fn AccountsContent(overview: AccountsOverview, actions: AccountsActions) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let page_error = Signal::derive(move || error_from_query(&query.read()));
    let empty = overview.accounts.is_empty();
    let cards = overview
        .accounts
        .iter()
        .cloned()
        .map(|account| {
            let groups = account
                .bound_groups
                .iter()
                .map(|g| overview.group_name(*g))
                .collect::<Vec<_>>();
            let owner = account.group_id.map(|g| overview.group_name(g));
            view! { <AccountCard account groups owner actions /> }
        })
        .collect_view();
    view! {
        <section id="accounts" class="space-y-8">
            <header class="space-y-2">
                <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().proxy.accounts_title}</h1>
                <p class="text-slate-600 dark:text-slate-300">{move || i18n.t().proxy.accounts_intro}</p>
                <ErrorNote id="accounts-page-error" error=page_error />
            </header>
            <Show when=move || empty>
                <p id="no-accounts" class="text-slate-600 dark:text-slate-300">{move || i18n.t().proxy.accounts_empty}</p>
            </Show>
            <ul id="account-list" class="space-y-4">{cards}</ul>
            <AddAccount actions system_admin=overview.system_admin groups=overview.groups />
        </section>
    }
    .into_any()
}

/// A term and its description in an account's card.
#[component]
fn Fact(label: fn(&crate::i18n::Texts) -> &'static str, children: Children) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="min-w-0">
            <dt class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">{move || label(i18n.t())}</dt>
            <dd class="mt-0.5 break-words">{children()}</dd>
        </div>
    }
}

/// One account: what it is, how it is doing, and its controls.
#[component]
fn AccountCard(
    account: AccountView,
    groups: Vec<String>,
    owner: Option<String>,
    actions: AccountsActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let id = account.id;
    let provider = account.provider;
    let enabled = account.enabled;
    let models = (!account.models.is_empty()).then(|| account.models.join(", "));
    let aliases = account
        .model_aliases
        .iter()
        .map(|(alias, model)| format!("{alias} → {model}"))
        .collect::<Vec<_>>()
        .join(", ");
    let proxy = account.proxy_url.clone();
    let groups = (!groups.is_empty()).then(|| groups.join(", "));
    let last_error = account.last_error.clone().map(|e| {
        let at = account.last_error_at.map(format_time).unwrap_or_default();
        view! {
            <div class="rounded-lg bg-red-50 p-3 text-sm text-red-800 dark:bg-red-950 dark:text-red-200" data-test="last-error">
                <span class="font-medium">{move || i18n.t().proxy.last_error}</span> " (" {at} "): " {e}
            </div>
        }
    });
    let last_test = account.last_test_ms;
    let name = account.name.clone();
    let name_attr = account.name.clone();
    let base_url = account.base_url.clone();
    let key_hint = account.api_key_hint.clone();
    let weight_priority = format!("{} / {}", account.weight, account.priority);
    let caps = caps_text(&account);
    let health = account.health.clone();
    let test = move || {
        actions.tests.with(|all| {
            all.iter()
                .find(|t| t.account_id == id)
                .map(|t| t.result.clone())
        })
    };
    view! {
        <li data-account-id=id.to_string() data-account-name=name_attr data-enabled=enabled.to_string()
            class="space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-800">
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="text-lg font-semibold">{name}</h2>
                <span class="rounded bg-indigo-50 px-2 py-0.5 text-xs text-indigo-700 dark:bg-slate-700 dark:text-indigo-200">{move || i18n.t().proxy.provider_name(provider)}</span>
                <span data-test="account-state" class=if enabled { "rounded bg-emerald-50 px-2 py-0.5 text-xs text-emerald-700 dark:bg-emerald-950 dark:text-emerald-300" } else { "rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-600 dark:bg-slate-700 dark:text-slate-300" }>
                    {move || if enabled { i18n.t().proxy.enabled } else { i18n.t().proxy.disabled }}
                </span>
                <HealthBadge health=health.clone() />
                <span class="text-xs text-slate-500">
                    {move || match &owner {
                        Some(group) => (i18n.t().proxy.dedicated_to)(group),
                        None => i18n.t().proxy.system_badge.to_owned(),
                    }}
                </span>
            </div>
            <dl class="grid gap-3 text-sm sm:grid-cols-3">
                <Fact label=|t| t.proxy.base_url><code>{base_url}</code></Fact>
                <Fact label=|t| t.proxy.key_hint><code data-test="key-hint">{key_hint}</code></Fact>
                <Fact label=|t| t.proxy.proxy>
                    {move || proxy.clone().unwrap_or_else(|| i18n.t().proxy.none.to_owned())}
                </Fact>
                <Fact label=|t| t.proxy.models>
                    {move || models.clone().unwrap_or_else(|| i18n.t().proxy.any_model.to_owned())}
                </Fact>
                <Fact label=|t| t.proxy.aliases>{aliases}</Fact>
                <Fact label=|t| t.proxy.weight_priority>{weight_priority}</Fact>
                <Fact label=|t| t.budget.caps><span data-test="caps">{caps}</span></Fact>
                <Fact label=|t| t.proxy.bound_groups>
                    <span data-test="bound-groups">{move || groups.clone().unwrap_or_else(|| i18n.t().proxy.not_bound.to_owned())}</span>
                </Fact>
                <Fact label=|t| t.proxy.last_test>
                    {move || last_test.map(|ms| (i18n.t().proxy.millis)(ms)).unwrap_or_else(|| i18n.t().never.to_owned())}
                </Fact>
            </dl>
            <HealthDetails health />
            {last_error}
            {move || test().map(|result| view! { <TestResult result /> })}
            <ErrorNote id=format!("account-{id}-error") error=actions.error_for(Target::Account(id)) />
            <div class="flex flex-wrap items-start gap-2">
                <ActionForm action=actions.test>
                    <input type="hidden" name="id" value=id.to_string() />
                    <Submit label=|t| t.proxy.test_connection pending=actions.pending_for(actions.test, id) class=SECONDARY />
                </ActionForm>
                <ActionForm action=actions.toggle>
                    <input type="hidden" name="id" value=id.to_string() />
                    <input type="hidden" name="enabled" value=(!enabled).to_string() />
                    <Submit
                        label=if enabled { |t: &crate::i18n::Texts| t.proxy.disable } else { |t: &crate::i18n::Texts| t.proxy.enable }
                        pending=actions.pending_for(actions.toggle, id)
                        class=SECONDARY
                    />
                </ActionForm>
                <details data-test="delete-account">
                    <summary class=format!("inline-block cursor-pointer {DANGER}")>{move || i18n.t().proxy.delete}</summary>
                    <ActionForm action=actions.delete>
                        <input type="hidden" name="id" value=id.to_string() />
                        <label class="mt-3 flex items-center gap-2 text-sm">
                            <input type="checkbox" name="confirm" value="yes" required />
                            {move || i18n.t().proxy.delete_account_confirm}
                        </label>
                        <div class="mt-2">
                            <Submit label=|t| t.proxy.delete_for_good pending=actions.pending_for(actions.delete, id) class=DANGER />
                        </div>
                    </ActionForm>
                </details>
            </div>
            <EditAccount actions account />
        </li>
    }
    .into_any()
}

/// The outcome of a connection test.
#[component]
fn TestResult(result: aicarpool::model::AccountTestView) -> impl IntoView {
    let i18n = use_i18n();
    let ok = result.ok;
    let latency = result.latency_ms;
    let error = result.error.clone().unwrap_or_default();
    let models = result.models.join(", ");
    let has_models = !result.models.is_empty();
    view! {
        <div data-test="test-result" data-ok=ok.to_string()
            class=if ok { "rounded-lg bg-emerald-50 p-3 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" } else { "rounded-lg bg-red-50 p-3 text-sm text-red-800 dark:bg-red-950 dark:text-red-200" }>
            <p>{move || if ok { (i18n.t().proxy.test_ok)(latency) } else { (i18n.t().proxy.test_failed)(latency, &error) }}</p>
            {has_models.then(|| view! {
                <p class="mt-1"><span class="font-medium">{move || i18n.t().proxy.test_models} ": "</span>{models}</p>
            })}
        </div>
    }
    .into_any()
}
