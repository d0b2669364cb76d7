//! The limits part of the group page: each limit with what it applies to, how much of it is
//! used and left (a progress bar that turns amber at the first warning threshold and red when
//! spent) and when it resets. Owners and admins see every limit, add them (one target select
//! for the whole group, a key, a member or an account) and delete them; a member sees the
//! limits that apply to them.

use aicarpool::model::{GroupRole, LimitMetric, LimitView, LimitWindow};
use leptos::prelude::*;

use crate::components::{CARD, DANGER, ErrorNote, INPUT, SELECT, Submit, format_time};
use crate::i18n::use_i18n;
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// An amount of a limit's metric: dollars with cents for cost, whole numbers otherwise.
pub fn format_amount(metric: LimitMetric, value: f64) -> String {
    match metric {
        LimitMetric::Cost => format!("${value:.2}"),
        _ => format!("{value:.0}"),
    }
}

/// The share of a limit used, in percent (0 to 100).
pub fn percent_used(limit: &LimitView) -> f64 {
    if limit.cap <= 0.0 {
        return 100.0;
    }
    (limit.used / limit.cap * 100.0).clamp(0.0, 100.0)
}

/// The bar's colour: red when spent, amber past the first warning threshold.
fn bar_class(limit: &LimitView, pct: f64) -> &'static str {
    let warn = limit.warn_at.iter().min().copied().unwrap_or(80);
    if pct >= 100.0 {
        "h-2 rounded-full bg-red-500"
    } else if pct >= f64::from(warn) {
        "h-2 rounded-full bg-amber-500"
    } else {
        "h-2 rounded-full bg-indigo-500"
    }
}

/// Used, remaining and a progress bar of one limit.
#[component]
pub fn LimitUsage(limit: LimitView) -> impl IntoView {
    let i18n = use_i18n();
    let pct = percent_used(&limit);
    let used = format!(
        "{} / {}",
        format_amount(limit.metric, limit.used),
        format_amount(limit.metric, limit.cap)
    );
    let remaining = format_amount(limit.metric, limit.remaining.max(0.0));
    view! {
        <div class="min-w-40 space-y-1">
            <div
                role="progressbar"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=format!("{pct:.0}")
                class="h-2 w-full rounded-full bg-slate-100 dark:bg-slate-700"
            >
                <div class=bar_class(&limit, pct) style=format!("width: {pct:.1}%")></div>
            </div>
            <p class="text-xs text-slate-600 dark:text-slate-300">
                <span data-test="limit-used">{used}</span>
                " · " {move || i18n.t().budget.remaining} ": "
                <span data-test="limit-remaining" class="font-medium">{remaining}</span>
            </p>
        </div>
    }
}

/// What a limit applies to, in words.
pub fn target_text(t: &crate::i18n::Texts, limit: &LimitView) -> String {
    match &limit.target_name {
        Some(name) => format!("{}: {name}", t.budget.scope(limit.scope)),
        None => t.budget.scope(limit.scope).to_owned(),
    }
}

/// The limits section.
#[component]
pub fn LimitsSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let admin = details.my_role >= GroupRole::Admin;
    let group_id = details.group.id;
    let empty = details.limits.is_empty();
    let rows = details
        .limits
        .iter()
        .cloned()
        .map(|limit| view! { <LimitRow group_id limit admin actions /> })
        .collect_view();
    let form = admin.then(|| view! { <AddLimit details=details.clone() actions /> });
    let zone = details.time_zone.clone();
    let zone_form = admin.then(|| view! { <TimeZoneForm group_id zone=zone.clone() actions /> });
    view! {
        <section id="group-limits" class="space-y-4">
            <h2 class="text-xl font-semibold">{move || i18n.t().budget.limits_title}</h2>
            <p class="text-sm text-slate-600 dark:text-slate-300">
                {move || if admin { i18n.t().budget.limits_intro } else { i18n.t().budget.limits_member_intro }}
            </p>
            <p class="text-sm text-slate-500">
                {move || i18n.t().budget.time_zone} ": " <span id="group-time-zone">{zone.clone()}</span>
            </p>
            {zone_form}
            <ErrorNote id="limits-error" error=actions.error_for(Part::Limits) />
            <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="limit-list" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().budget.target}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().budget.metric}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().budget.used}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().budget.resets}</th>
                            <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
                <Show when=move || empty>
                    <p id="no-limits" class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().budget.limits_empty}</p>
                </Show>
            </div>
            {form}
        </section>
    }
    .into_any()
}

/// One limit.
#[component]
fn LimitRow(group_id: i64, limit: LimitView, admin: bool, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let (metric, window) = (limit.metric, limit.window);
    let resets = limit.resets_at;
    let target = limit.clone();
    let delete = admin.then(|| {
        view! {
            <ActionForm action=actions.delete_limit>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="limit_id" value=limit.id.to_string() />
                <Submit label=|t| t.budget.delete_limit pending=actions.delete_limit.pending() class=DANGER />
            </ActionForm>
        }
    });
    view! {
        <tr data-limit-id=limit.id.to_string() data-scope=limit.scope.as_str() data-metric=metric.as_str() data-window=window.as_str()>
            <td class="px-4 py-2 font-medium">{move || target_text(i18n.t(), &target)}</td>
            <td class="px-4 py-2">
                {move || format!("{} {}", i18n.t().budget.metric_name(metric), i18n.t().budget.window_name(window))}
            </td>
            <td class="px-4 py-2"><LimitUsage limit=limit.clone() /></td>
            <td class="px-4 py-2 text-slate-500">{move || resets.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}</td>
            <td class="px-4 py-2"><div class="flex justify-end">{delete}</div></td>
        </tr>
    }
    .into_any()
}

/// Adding a limit (owners and admins). The target select names the scope and the target in
/// one value (`group`, `key:ID`, `member:ID`, `account:ID`), so it works without JavaScript.
#[component]
fn AddLimit(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let option = |value: String, label: String| view! { <option value=value>{label}</option> };
    let keys = details
        .keys
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| {
            option(
                format!("key:{}", k.id),
                format!("{} ({})", k.name, k.user_name),
            )
        })
        .collect_view();
    let members = details
        .members
        .iter()
        .map(|m| option(format!("member:{}", m.user_id), m.name.clone()))
        .collect_view();
    let accounts = details
        .accounts
        .iter()
        .map(|a| option(format!("account:{}", a.account_id), a.name.clone()))
        .collect_view();
    let metrics = [
        LimitMetric::Cost,
        LimitMetric::Tokens,
        LimitMetric::Requests,
    ]
    .into_iter()
    .map(|m| view! { <option value=m.as_str()>{move || i18n.t().budget.metric_name(m)}</option> })
    .collect_view();
    let windows = [
        LimitWindow::Month,
        LimitWindow::Day,
        LimitWindow::Minute,
        LimitWindow::Total,
    ]
    .into_iter()
    .map(|w| view! { <option value=w.as_str()>{move || i18n.t().budget.window_name(w)}</option> })
    .collect_view();
    view! {
        <div id="limit-form" class=format!("max-w-3xl {CARD}")>
            <h3 class="font-medium">{move || i18n.t().budget.add_limit}</h3>
            <ActionForm action=actions.create_limit>
                <input type="hidden" name="id" value=details.group.id.to_string() />
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <div>
                        <label for="limit-form-target" class="block text-sm font-medium">{move || i18n.t().budget.target}</label>
                        <select id="limit-form-target" name="target" required class=format!("mt-1 w-full {SELECT}")>
                            <option value="group">{move || i18n.t().budget.scope_group}</option>
                            <optgroup label=move || i18n.t().budget.scope_member>{members}</optgroup>
                            <optgroup label=move || i18n.t().budget.scope_key>{keys}</optgroup>
                            <optgroup label=move || i18n.t().budget.scope_account>{accounts}</optgroup>
                        </select>
                    </div>
                    <div>
                        <label for="limit-form-metric" class="block text-sm font-medium">{move || i18n.t().budget.metric}</label>
                        <select id="limit-form-metric" name="metric" class=format!("mt-1 w-full {SELECT}")>{metrics}</select>
                    </div>
                    <div>
                        <label for="limit-form-window" class="block text-sm font-medium">{move || i18n.t().budget.window}</label>
                        <select id="limit-form-window" name="window" class=format!("mt-1 w-full {SELECT}")>{windows}</select>
                    </div>
                    <div>
                        <label for="limit-form-cap" class="block text-sm font-medium">{move || i18n.t().budget.cap}</label>
                        <input id="limit-form-cap" name="cap" type="number" min="0" step="any" required class=format!("mt-1 {INPUT}") />
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().budget.cap_help}</p>
                    </div>
                    <div>
                        <label for="limit-form-warn" class="block text-sm font-medium">{move || i18n.t().budget.warn_at}</label>
                        <input id="limit-form-warn" name="warn_at" type="text" placeholder="80, 100" autocomplete="off" class=format!("mt-1 {INPUT}") />
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().budget.warn_at_help}</p>
                    </div>
                </div>
                <div class="mt-4">
                    <Submit id="limit-submit" label=|t| t.budget.add_limit pending=actions.create_limit.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

/// Changing the time zone of day and month windows (owners and admins).
#[component]
fn TimeZoneForm(group_id: i64, zone: String, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let mut names: Vec<String> = aicarpool::tz::NAMED
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    if !names.contains(&zone) {
        names.push(zone.clone());
    }
    let options = names
        .into_iter()
        .map(|name| {
            let (selected, value) = (name == zone, name.clone());
            view! { <option value=value selected=selected>{name}</option> }
        })
        .collect_view();
    view! {
        <div id="time-zone-form">
            <ActionForm action=actions.time_zone>
                <input type="hidden" name="id" value=group_id.to_string() />
                <div class="flex flex-wrap items-end gap-2">
                    <label class="text-sm">
                        <span class="sr-only">{move || i18n.t().budget.time_zone}</span>
                        <select id="time-zone-form-zone" name="time_zone" class=SELECT>{options}</select>
                    </label>
                    <Submit label=|t| t.budget.set_time_zone pending=actions.time_zone.pending() class=crate::components::SECONDARY />
                </div>
            </ActionForm>
        </div>
    }
}
