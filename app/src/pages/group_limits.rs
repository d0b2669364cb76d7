//! The limits part of the group page: each limit with what it applies to, how much of it is
//! used and left (a progress bar that turns amber at the first warning threshold and red when
//! spent) and when it resets, amounts in the reader's currency. Owners and admins see every
//! limit, add them (one target select for the whole group, a key, a member or an account),
//! change a limit's cap and warning thresholds in place (`?edit_limit=ID` opens the row's
//! form, so it works without JavaScript too) and delete them; a member sees the limits that
//! apply to them.

use aicarpool::api::ApiError;
use aicarpool::model::{GroupRole, LimitMetric, LimitView, LimitWindow};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::{CARD, DANGER, ErrorNote, INPUT, SECONDARY, SELECT, Submit, format_time};
use crate::error::error_from_query;
use crate::i18n::use_i18n;
use crate::money::{Money, check_cap, check_warn_at};
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// The share of a limit used, in percent (0 to 100).
pub fn percent_used(limit: &LimitView) -> f64 {
    if limit.cap_raw <= 0 {
        return 100.0;
    }
    (limit.used_raw as f64 / limit.cap_raw as f64 * 100.0).clamp(0.0, 100.0)
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

/// Used, remaining and a progress bar of one limit, amounts in the reader's currency.
#[component]
pub fn LimitUsage(limit: LimitView, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let pct = percent_used(&limit);
    let used = format!(
        "{} / {}",
        money.limit_amount(limit.metric, limit.used_raw),
        money.limit_amount(limit.metric, limit.cap_raw)
    );
    let remaining = money.limit_amount(limit.metric, limit.remaining_raw.max(0));
    let alerts = limit.alerts.clone();
    let alerts_attr = alerts
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let reached = alerts.iter().any(|p| *p >= 100);
    let notice = (!alerts.is_empty()).then(|| {
        let class = if reached {
            "text-xs font-medium text-red-700 dark:text-red-400"
        } else {
            "text-xs font-medium text-amber-700 dark:text-amber-400"
        };
        view! {
            <p data-test="limit-alerts" data-alerts=alerts_attr role="status" class=class>
                <span aria-hidden="true">"⚠ "</span>
                <span class="sr-only">{move || i18n.t().alerts.notice_label} ": "</span>
                {move || i18n.t().alerts.notice(&alerts).unwrap_or_default()}
            </p>
        }
    });
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
                <span data-test="limit-used" data-used=limit.used_raw.to_string() data-cap=limit.cap_raw.to_string()>{used}</span>
                " · " {move || i18n.t().budget.remaining} ": "
                <span data-test="limit-remaining" class="font-medium">{remaining}</span>
            </p>
            {notice}
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
pub fn LimitsSection(details: GroupDetails, actions: GroupActions, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let admin = details.my_role >= GroupRole::Admin;
    let group_id = details.group.id;
    let empty = details.limits.is_empty();
    let rows = details
        .limits
        .iter()
        .cloned()
        .map(|limit| view! { <LimitRow group_id limit admin actions money /> })
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
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
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

/// One limit, and for owners and admins its Edit link and Delete button; while the address
/// names it (`?edit_limit=ID`), its edit form in a row below.
#[component]
fn LimitRow(
    group_id: i64,
    limit: LimitView,
    admin: bool,
    actions: GroupActions,
    money: Money,
) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let (metric, window) = (limit.metric, limit.window);
    let resets = limit.resets_at;
    let target = limit.clone();
    let id = limit.id;
    let editing =
        Memo::new(move |_| query.read().get("edit_limit").and_then(|v| v.parse().ok()) == Some(id));
    let buttons = admin.then(|| {
        view! {
            <A
                href=format!("/groups/{group_id}?edit_limit={id}")
                scroll=false
                attr:class=SECONDARY
                attr:data-test="edit-limit"
            >
                {move || i18n.t().money.edit_limit}
            </A>
            <ActionForm action=actions.delete_limit>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="limit_id" value=id.to_string() />
                <Submit label=|t| t.budget.delete_limit pending=actions.delete_limit.pending() class=DANGER />
            </ActionForm>
        }
    });
    let edit = limit.clone();
    view! {
        <tr id=format!("limit-{id}") data-limit-id=id.to_string() data-scope=limit.scope.as_str() data-metric=metric.as_str() data-window=window.as_str() data-cap=limit.cap_raw.to_string()>
            <td class="px-4 py-2 font-medium">{move || target_text(i18n.t(), &target)}</td>
            <td class="px-4 py-2">
                {move || format!("{} {}", i18n.t().budget.metric_name(metric), i18n.t().budget.window_name(window))}
            </td>
            <td class="px-4 py-2"><LimitUsage limit=limit.clone() money /></td>
            <td class="px-4 py-2 text-slate-500">{move || resets.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}</td>
            <td class="px-4 py-2"><div class="flex items-center justify-end gap-2 whitespace-nowrap">{buttons}</div></td>
        </tr>
        <Show when=move || admin && editing.get()>
            <EditLimit group_id limit=edit.clone() actions />
        </Show>
    }
    .into_any()
}

/// The message of `error` for form field `field`: the rule it broke, or `fallback` when only
/// the field is known (after a plain form post, the message does not survive the redirect).
fn field_message(error: &ApiError, field: &str, fallback: String) -> Option<String> {
    match error {
        ApiError::Service {
            field: Some(f),
            reason,
            ..
        } if f == field => Some(match reason {
            Some(aicarpool::validate::FieldError::Rule(rule)) => rule.clone(),
            _ => fallback,
        }),
        _ => None,
    }
}

/// Changing a limit's cap and warning thresholds, in a row under the limit. Checks as you
/// type; the server's refusal of a field shows under that field, any other under the form.
#[component]
fn EditLimit(group_id: i64, limit: LimitView, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let metric = limit.metric;
    let id = limit.id;
    let cap_text = match metric {
        LimitMetric::Cost => crate::money::usd_input(limit.cap_raw),
        _ => limit.cap_raw.to_string(),
    };
    let warn_text = limit
        .warn_at
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let cap = RwSignal::new(cap_text);
    let warn = RwSignal::new(warn_text);
    let (cap_touched, warn_touched) = (RwSignal::new(false), RwSignal::new(false));
    // The refusal of this form: from the last submission, else from the address after a plain
    // form post.
    let error = Signal::derive(move || {
        actions
            .error_for(Part::LimitEdit)
            .get()
            .or_else(|| error_from_query(&query.read()))
    });
    let cap_error = move || {
        let t = i18n.t();
        let fallback = || match metric {
            LimitMetric::Cost => t.money.err_cap_cost.to_owned(),
            _ => t.money.err_cap_whole.to_owned(),
        };
        error
            .with(|e| e.as_ref().and_then(|e| field_message(e, "cap", fallback())))
            .or_else(|| {
                cap_touched
                    .get()
                    .then(|| check_cap(t, metric, &cap.get()).err())
                    .flatten()
            })
    };
    let warn_error = move || {
        let t = i18n.t();
        error
            .with(|e| {
                e.as_ref()
                    .and_then(|e| field_message(e, "warn_at", t.money.err_warn_at.to_owned()))
            })
            .or_else(|| {
                warn_touched
                    .get()
                    .then(|| check_warn_at(t, &warn.get()).err())
                    .flatten()
            })
    };
    let other_error = Signal::derive(move || {
        error.get().filter(|e| {
            field_message(e, "cap", String::new()).is_none()
                && field_message(e, "warn_at", String::new()).is_none()
        })
    });
    let cap_label = move || match metric {
        LimitMetric::Cost => i18n.t().money.cap_usd,
        _ => i18n.t().budget.cap,
    };
    let form_id = format!("edit-limit-{id}");
    let (cap_id, warn_id) = (format!("{form_id}-cap"), format!("{form_id}-warn_at"));
    let (cap_err_id, warn_err_id) = (format!("{cap_id}-error"), format!("{warn_id}-error"));
    view! {
        <tr data-edit-limit=id.to_string() class="bg-slate-50 dark:bg-slate-900/40">
            <td colspan="5" class="px-4 py-3">
                <ActionForm action=actions.update_limit attr:id=form_id.clone()>
                    <input type="hidden" name="id" value=group_id.to_string() />
                    <input type="hidden" name="limit_id" value=id.to_string() />
                    // At most a phone's width on small screens: the row spans the whole
                    // (scrolling) table, the form stays in view.
                    <div class="grid max-w-[19rem] gap-3 sm:max-w-none sm:grid-cols-[minmax(0,12rem)_minmax(0,14rem)_auto] sm:items-start">
                        <div>
                            <label for=cap_id.clone() class="block text-sm font-medium">{cap_label}</label>
                            <input
                                id=cap_id
                                name="cap"
                                type="text"
                                inputmode="decimal"
                                autocomplete="off"
                                required
                                value=cap.get_untracked()
                                prop:value=move || cap.get()
                                aria-invalid=move || cap_error().is_some().to_string()
                                aria-describedby=cap_err_id.clone()
                                class=format!("mt-1 {INPUT}")
                                on:input=move |ev| cap.set(event_target_value(&ev))
                                on:blur=move |_| cap_touched.set(true)
                            />
                            <p id=cap_err_id class="mt-1 min-h-4 text-xs text-red-600 dark:text-red-400">{cap_error}</p>
                        </div>
                        <div>
                            <label for=warn_id.clone() class="block text-sm font-medium">{move || i18n.t().budget.warn_at}</label>
                            <input
                                id=warn_id
                                name="warn_at"
                                type="text"
                                autocomplete="off"
                                placeholder="80, 100"
                                value=warn.get_untracked()
                                prop:value=move || warn.get()
                                aria-invalid=move || warn_error().is_some().to_string()
                                aria-describedby=warn_err_id.clone()
                                class=format!("mt-1 {INPUT}")
                                on:input=move |ev| warn.set(event_target_value(&ev))
                                on:blur=move |_| warn_touched.set(true)
                            />
                            <p id=warn_err_id class="mt-1 min-h-4 text-xs text-red-600 dark:text-red-400">{warn_error}</p>
                        </div>
                        <div class="flex items-center gap-2 sm:mt-6">
                            <Submit id="edit-limit-submit" label=|t| t.save pending=actions.update_limit.pending() />
                            <A href=format!("/groups/{group_id}") scroll=false attr:class=SECONDARY attr:data-test="cancel-edit">
                                {move || i18n.t().money.cancel}
                            </A>
                        </div>
                    </div>
                    <ErrorNote id=format!("edit-limit-{id}-error") error=other_error />
                </ActionForm>
            </td>
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
    let mut names: Vec<String> = aicarpool::tz::COMMON
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    if !names.contains(&zone) {
        names.push(zone.clone());
    }
    let options = names
        .into_iter()
        .map(|name| {
            let (selected, value) = (name == zone, name.clone());
            view! { <option value=value selected=selected>{move || i18n.t().alerts.zone_label(&name)}</option> }
        })
        .collect_view();
    view! {
        <div id="time-zone-form">
            <ActionForm action=actions.time_zone>
                <input type="hidden" name="id" value=group_id.to_string() />
                <div class="flex flex-wrap items-end gap-2">
                    <label class="min-w-0 max-w-full text-sm">
                        <span class="sr-only">{move || i18n.t().budget.time_zone}</span>
                        <select id="time-zone-form-zone" name="time_zone" class=format!("{SELECT} max-w-full")>{options}</select>
                    </label>
                    <Submit label=|t| t.budget.set_time_zone pending=actions.time_zone.pending() class=crate::components::SECONDARY />
                </div>
            </ActionForm>
        </div>
    }
}
