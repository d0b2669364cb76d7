//! The form fields of an upstream account, shared by the add form and each account's edit
//! form: name, base URL, API key, models, aliases, proxy, weight, priority and the caps. The add form
//! also picks the provider (which fills in its public base URL) and the account's owner.

use aicarpool::model::{AccountView, Provider};
use leptos::prelude::*;

use crate::components::{CARD, ErrorNote, INPUT, SELECT, Submit};
use crate::i18n::{Texts, use_i18n};
use crate::pages::accounts::{AccountsActions, Target};
use crate::server::accounts::GroupChoice;

/// A label above an input, with optional help below it.
#[component]
fn Labelled(
    /// The id of the input the label is for.
    #[prop(into)]
    id: String,
    /// The label, per locale.
    label: fn(&Texts) -> &'static str,
    /// Help under the input, per locale.
    #[prop(optional)]
    help: Option<fn(&Texts) -> &'static str>,
    /// The input.
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div>
            <label for=id class="block text-sm font-medium">{move || label(i18n.t())}</label>
            <div class="mt-1">{children()}</div>
            {help.map(|help| view! { <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || help(i18n.t())}</p> })}
        </div>
    }
}

/// The fields both forms have; `current` fills them in for editing (never the key or the
/// proxy's secret: empty keeps them).
#[component]
fn CommonFields(
    /// Prefix of the inputs' ids.
    #[prop(into)]
    prefix: String,
    /// The account being edited, if any.
    current: Option<AccountView>,
    /// The value of the base URL input (filled in from the provider when adding).
    base_url: RwSignal<String>,
    /// The provider, for the base URL's placeholder.
    #[prop(into)]
    provider: Signal<Provider>,
) -> impl IntoView {
    let i18n = use_i18n();
    let id = |name: &str| format!("{prefix}-{name}");
    let (name_id, base_id, key_id) = (id("name"), id("base_url"), id("api_key"));
    let (models_id, aliases_id, proxy_id) = (id("models"), id("model_aliases"), id("proxy_url"));
    let (weight_id, priority_id) = (id("weight"), id("priority"));
    let (conc_id, rpm_id, tpm_id) = (id("max_concurrency"), id("rpm_limit"), id("tpm_limit"));
    let conc = current
        .as_ref()
        .and_then(|a| a.max_concurrency)
        .map(|v| v.to_string());
    let rpm = current
        .as_ref()
        .and_then(|a| a.rpm_limit)
        .map(|v| v.to_string());
    let tpm = current
        .as_ref()
        .and_then(|a| a.tpm_limit)
        .map(|v| v.to_string());
    let editing = current.is_some();
    let key_help: Option<fn(&Texts) -> &'static str> =
        editing.then_some(|t: &Texts| t.proxy.api_key_keep);
    let name = current.as_ref().map(|a| a.name.clone()).unwrap_or_default();
    let models = current
        .as_ref()
        .map(|a| a.models.join("\n"))
        .unwrap_or_default();
    let aliases = current
        .as_ref()
        .map(|a| {
            a.model_aliases
                .iter()
                .map(|(alias, model)| format!("{alias}={model}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let proxy = current.as_ref().and_then(|a| a.proxy_url.clone());
    let weight = current.as_ref().map(|a| a.weight.to_string());
    let priority = current.as_ref().map(|a| a.priority.to_string());
    let base_placeholder = move || match provider.get() {
        Provider::OpenAiCompatible => "https://api.deepseek.com/v1".to_owned(),
        p => p.default_base_url().to_owned(),
    };
    view! {
        <Labelled id=name_id.clone() label=|t| t.proxy.account_name>
            <input id=name_id name="name" type="text" required maxlength="100" autocomplete="off" value=name class=INPUT />
        </Labelled>
        <Labelled id=base_id.clone() label=|t| t.proxy.base_url help=|t| t.proxy.base_url_help>
            <input
                id=base_id
                name="base_url"
                type="url"
                autocomplete="off"
                placeholder=base_placeholder
                value=base_url.get_untracked()
                prop:value=move || base_url.get()
                on:input=move |ev| base_url.set(event_target_value(&ev))
                class=INPUT
            />
        </Labelled>
        <Labelled id=key_id.clone() label=|t| t.proxy.api_key nostrip:help=key_help>
            <input id=key_id name="api_key" type="password" autocomplete="new-password" required=!editing class=INPUT />
        </Labelled>
        <Labelled id=models_id.clone() label=|t| t.proxy.models help=|t| t.proxy.models_help>
            <textarea id=models_id name="models" rows="3" class=INPUT>{models}</textarea>
        </Labelled>
        <Labelled id=aliases_id.clone() label=|t| t.proxy.aliases help=|t| t.proxy.aliases_help>
            <textarea id=aliases_id name="model_aliases" rows="2" class=INPUT>{aliases}</textarea>
        </Labelled>
        <Labelled id=proxy_id.clone() label=|t| t.proxy.proxy_url help=|t| t.proxy.proxy_help>
            <input id=proxy_id name="proxy_url" type="text" autocomplete="off" placeholder=proxy.clone().unwrap_or_else(|| "socks5h://user:pass@host:1080".to_owned()) class=INPUT />
            {proxy.map(|_| view! {
                <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().proxy.proxy_keep}</p>
                <label class="mt-1 flex items-center gap-2 text-sm">
                    <input type="checkbox" name="remove_proxy" value="yes" />
                    {move || i18n.t().proxy.remove_proxy}
                </label>
            })}
        </Labelled>
        <div class="grid gap-4 sm:grid-cols-2">
            <Labelled id=weight_id.clone() label=|t| t.proxy.weight help=|t| t.proxy.weight_help>
                <input id=weight_id name="weight" type="number" min="0" max="10000" placeholder="1" value=weight class=INPUT />
            </Labelled>
            <Labelled id=priority_id.clone() label=|t| t.proxy.priority help=|t| t.proxy.priority_help>
                <input id=priority_id name="priority" type="number" min="-1000" max="1000" placeholder="0" value=priority class=INPUT />
            </Labelled>
        </div>
        <fieldset class="space-y-2">
            <legend class="text-sm font-medium">{move || i18n.t().budget.caps}</legend>
            <div class="grid gap-4 sm:grid-cols-3">
                <Labelled id=conc_id.clone() label=|t| t.budget.max_concurrency>
                    <input id=conc_id name="max_concurrency" type="number" min="0" placeholder="—" value=conc class=INPUT />
                </Labelled>
                <Labelled id=rpm_id.clone() label=|t| t.budget.rpm_limit>
                    <input id=rpm_id name="rpm_limit" type="number" min="0" placeholder="—" value=rpm class=INPUT />
                </Labelled>
                <Labelled id=tpm_id.clone() label=|t| t.budget.tpm_limit>
                    <input id=tpm_id name="tpm_limit" type="number" min="0" placeholder="—" value=tpm class=INPUT />
                </Labelled>
            </div>
            <p class="text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().budget.caps_help}</p>
        </fieldset>
    }
}

/// Adding an account: a system admin adds shared system accounts or dedicates one to a group;
/// a group's owner or admin picks among the groups they administer.
#[component]
pub fn AddAccount(
    /// The page's actions.
    actions: AccountsActions,
    /// The caller is a system administrator.
    system_admin: bool,
    /// Groups the caller administers.
    groups: Vec<GroupChoice>,
) -> impl IntoView {
    let i18n = use_i18n();
    let provider = RwSignal::new(Provider::OpenAi);
    let base_url = RwSignal::new(Provider::OpenAi.default_base_url().to_owned());
    let on_provider = move |ev: leptos::ev::Event| {
        let Some(next) = Provider::parse(&event_target_value(&ev)) else {
            return;
        };
        // Follow the provider unless the URL was typed by hand.
        let before = provider.get_untracked().default_base_url();
        if base_url.with_untracked(|u| u.is_empty() || u == before) {
            base_url.set(next.default_base_url().to_owned());
        }
        provider.set(next);
    };
    let providers = Provider::ALL
        .into_iter()
        .map(|p| view! { <option value=p.as_str() selected=p == Provider::OpenAi>{move || i18n.t().proxy.provider_name(p)}</option> })
        .collect_view();
    let owners = groups
        .into_iter()
        .map(|g| view! { <option value=g.id.to_string()>{g.name}</option> })
        .collect_view();
    view! {
        <div id="add-account" class=format!("max-w-2xl {CARD}")>
            <h2 class="text-lg font-semibold">{move || i18n.t().proxy.add_account}</h2>
            <ActionForm action=actions.create>
                <div class="mt-4 space-y-4">
                    <div class="grid gap-4 sm:grid-cols-2">
                        <Labelled id="add-account-provider" label=|t| t.proxy.provider>
                            <select id="add-account-provider" name="provider" class=format!("w-full {SELECT}") on:change=on_provider>{providers}</select>
                        </Labelled>
                        <Labelled id="add-account-group" label=|t| t.proxy.account_group>
                            <select id="add-account-group" name="group_id" class=format!("w-full {SELECT}")>
                                {system_admin.then(|| view! { <option value="" selected=true>{move || i18n.t().proxy.system_account}</option> })}
                                {owners}
                            </select>
                        </Labelled>
                    </div>
                    <CommonFields prefix="add-account" current=None base_url provider />
                    <ErrorNote id="add-account-error" error=actions.error_for(Target::Add) />
                    <Submit id="add-account-submit" label=|t| t.proxy.add_account pending=actions.create.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

/// Editing an account, folded away until wanted.
#[component]
pub fn EditAccount(
    /// The page's actions.
    actions: AccountsActions,
    /// The account.
    account: AccountView,
) -> impl IntoView {
    let i18n = use_i18n();
    let id = account.id;
    let prefix = format!("edit-account-{id}");
    let base_url = RwSignal::new(account.base_url.clone());
    let provider = account.provider;
    view! {
        <details data-test="edit-account" class="w-full">
            <summary class="cursor-pointer text-sm font-medium text-indigo-700 dark:text-indigo-300">{move || i18n.t().proxy.edit}</summary>
            <ActionForm action=actions.update>
                <input type="hidden" name="id" value=id.to_string() />
                <div class="mt-4 max-w-2xl space-y-4">
                    <CommonFields prefix current=Some(account) base_url provider=Signal::stored(provider) />
                    <Submit label=|t| t.save pending=actions.pending_for(actions.update, id) />
                </div>
            </ActionForm>
        </details>
    }
    .into_any()
}
