//! The accounts part of the group page: the accounts that serve the group, which every member
//! sees (name, provider, models); owners and admins also unbind them and bind the accounts they
//! may bind, with the binding's own priority and weight.

use aicarpool::model::BindingView;
use leptos::prelude::*;

use crate::components::{CARD, DANGER, ErrorNote, INPUT, SELECT, Submit};
use crate::i18n::use_i18n;
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// The accounts section.
#[component]
pub fn AccountsSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = details.group.id;
    let admin = details.my_role >= aicarpool::model::GroupRole::Admin;
    let empty = details.accounts.is_empty();
    let bind_form = admin.then(|| view! { <BindForm details=details.clone() actions /> });
    let rows = details
        .accounts
        .into_iter()
        .map(|binding| view! { <BindingRow group_id admin binding actions /> })
        .collect_view();
    view! {
        <section id="group-accounts" class="space-y-4">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="text-xl font-semibold">{move || i18n.t().proxy.group_accounts}</h2>
                {admin.then(|| view! {
                    <a href="/accounts" class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                        {move || i18n.t().proxy.manage_accounts}
                    </a>
                })}
            </div>
            <p class="text-sm text-slate-600 dark:text-slate-300">{move || i18n.t().proxy.group_accounts_intro}</p>
            <ErrorNote id="group-accounts-error" error=actions.error_for(Part::Accounts) />
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="binding-list" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().name_generic}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.provider}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.models}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.weight_priority}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().state}</th>
                            <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
                <Show when=move || empty>
                    <p id="no-bindings" class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().proxy.group_accounts_empty}</p>
                </Show>
            </div>
            {bind_form}
        </section>
    }
    .into_any()
}

/// One bound account.
#[component]
fn BindingRow(
    group_id: i64,
    admin: bool,
    binding: BindingView,
    actions: GroupActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let provider = binding.provider;
    let enabled = binding.enabled;
    let dedicated = binding.dedicated;
    let models = if binding.models.is_empty() {
        None
    } else {
        Some(binding.models.join(", "))
    };
    let unbind = admin.then(|| {
        view! {
            <ActionForm action=actions.unbind>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="account_id" value=binding.account_id.to_string() />
                <Submit label=|t| t.proxy.unbind pending=actions.unbind.pending() class=DANGER />
            </ActionForm>
        }
    });
    view! {
        <tr data-account-id=binding.account_id.to_string() data-account-name=binding.name.clone()>
            <td class="px-4 py-2">
                <span class="font-medium">{binding.name.clone()}</span>
                " "
                <span class="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600 dark:bg-slate-700 dark:text-slate-300">
                    {move || if dedicated { i18n.t().proxy.dedicated } else { i18n.t().proxy.shared }}
                </span>
            </td>
            <td class="px-4 py-2">{move || i18n.t().proxy.provider_name(provider)}</td>
            <td class="px-4 py-2 text-slate-600 dark:text-slate-300" data-test="binding-models">
                {move || models.clone().unwrap_or_else(|| i18n.t().proxy.any_model.to_owned())}
            </td>
            <td class="px-4 py-2">{format!("{} / {}", binding.weight, binding.priority)}</td>
            <td class="px-4 py-2" title=binding.last_error.clone()>
                {move || if enabled { i18n.t().proxy.enabled } else { i18n.t().proxy.disabled }}
            </td>
            <td class="px-4 py-2"><div class="flex justify-end">{unbind}</div></td>
        </tr>
    }
    .into_any()
}

/// Binding another account (owners and admins).
#[component]
fn BindForm(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    if details.bindable.is_empty() {
        return view! {
            <p id="nothing-to-bind" class="text-sm text-slate-500">{move || i18n.t().proxy.nothing_to_bind}</p>
        }
        .into_any();
    }
    let options = details
        .bindable
        .into_iter()
        .map(|a| {
            let provider = a.provider;
            let system = a.system;
            view! {
                <option value=a.id.to_string()>
                    {a.name.clone()} " · " {move || i18n.t().proxy.provider_name(provider)}
                    {move || if system { format!(" · {}", i18n.t().proxy.system_badge) } else { String::new() }}
                </option>
            }
        })
        .collect_view();
    view! {
        <div id="bind-form" class=format!("max-w-2xl {CARD}")>
            <h3 class="font-medium">{move || i18n.t().proxy.bind_account}</h3>
            <ActionForm action=actions.bind>
                <input type="hidden" name="id" value=details.group.id.to_string() />
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <div>
                        <label for="bind-form-account" class="block text-sm font-medium">{move || i18n.t().proxy.bind_choose}</label>
                        <select id="bind-form-account" name="account_id" required class=format!("mt-1 w-full {SELECT}")>{options}</select>
                    </div>
                    <div>
                        <label for="bind-form-priority" class="block text-sm font-medium">{move || i18n.t().proxy.priority}</label>
                        <input id="bind-form-priority" name="priority" type="number" min="-1000" max="1000" placeholder=move || i18n.t().proxy.own_value class=format!("mt-1 {INPUT}") />
                    </div>
                    <div>
                        <label for="bind-form-weight" class="block text-sm font-medium">{move || i18n.t().proxy.weight}</label>
                        <input id="bind-form-weight" name="weight" type="number" min="0" max="10000" placeholder=move || i18n.t().proxy.own_value class=format!("mt-1 {INPUT}") />
                    </div>
                </div>
                <div class="mt-4">
                    <Submit id="bind-submit" label=|t| t.proxy.bind_account pending=actions.bind.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}
