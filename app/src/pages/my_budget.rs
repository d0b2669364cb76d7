//! `/groups/{id}/me`: a member's own view of a group. What is left of each limit that applies
//! to them (with its reset time), their usage this month as a chart by model, and what they owe
//! (or receive) in this month's cost split. A non-member gets the not-found page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::charts::{LineChart, compact};
use crate::components::{CARD, SignInPrompt, format_time};
use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::money::Money;
use crate::pages::group_limits::{LimitUsage, target_text};
use crate::pages::not_found::NotFoundPage;
use crate::pages::usage::{lines, x_labels};
use crate::pages::usage_tables::TotalsTable;
use crate::server::usage::{MyOverview, load_my_budget};
use crate::session::use_session;

/// `/groups/{id}/me`.
#[component]
pub fn MyBudgetPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let overview = Resource::new_blocking(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => load_my_budget(id).await,
                None => Err(AppError::not_found()),
            }
        },
    );
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                let money = crate::money::current(session).await;
                match overview.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(overview)) => view! { <MyBudgetContent overview money /> }.into_any(),
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
fn MyBudgetContent(overview: MyOverview, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = overview.group.id;
    let group_name = overview.group.name.clone();
    let period = overview.period.clone();
    let no_limits = overview.limits.is_empty();
    let limits = overview
        .limits
        .into_iter()
        .map(|limit| {
            let resets = limit.resets_at;
            let (metric, window) = (limit.metric, limit.window);
            let target = limit.clone();
            let (id, scope) = (limit.id.to_string(), limit.scope.as_str());
            view! {
                <li data-limit-id=id data-scope=scope data-metric=metric.as_str() class=format!("space-y-2 {CARD}")>
                    <p class="flex flex-wrap justify-between gap-2 text-sm">
                        <span class="font-medium">
                            {move || target_text(i18n.t(), &target)} " · "
                            {move || format!("{} {}", i18n.t().budget.metric_name(metric), i18n.t().budget.window_name(window))}
                        </span>
                        <span class="text-slate-500">
                            {move || i18n.t().budget.resets} ": "
                            {move || resets.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}
                        </span>
                    </p>
                    <LimitUsage limit money />
                </li>
            }
        })
        .collect_view();
    let labels = x_labels(&overview.month);
    let cost = lines(&overview.month.series, |s| Some(money.chart(s.cost_micros)));
    let requests = lines(&overview.month.series, |s| Some(s.requests as f64));
    let owe = overview.statement.clone().map(|line| {
        let payee = overview.payee.clone().unwrap_or_default();
        let closed = overview.closed;
        let (owes, receives) = (line.owes_micros, line.receives_micros);
        view! {
            <div id="my-statement" data-owes=owes.to_string() class=format!("space-y-2 {CARD}")>
                <p class="text-lg font-semibold" data-test="owe">
                    {move || if owes > 0 {
                        (i18n.t().reports.owe_to)(&money.text(owes), &payee)
                    } else if receives > 0 {
                        (i18n.t().reports.receive)(&money.text(receives))
                    } else {
                        i18n.t().reports.owe_nothing.to_owned()
                    }}
                </p>
                <dl class="grid grid-cols-3 gap-3 text-sm">
                    <div><dt class="text-slate-500">{move || i18n.t().reports.metered}</dt><dd>{money.text(line.metered_micros)}</dd></div>
                    <div><dt class="text-slate-500">{move || i18n.t().reports.fixed_share}</dt><dd>{money.text(line.fixed_micros)}</dd></div>
                    <div><dt class="text-slate-500">{move || i18n.t().reports.total}</dt><dd class="font-medium" data-test="total" data-micros=line.total_micros.to_string()>{money.text(line.total_micros)}</dd></div>
                </dl>
                <p class="text-xs text-slate-500">
                    {move || if closed { i18n.t().reports.month_closed } else { i18n.t().reports.month_open }}
                </p>
            </div>
        }
    });
    view! {
        <article id="my-budget" data-group-id=group_id.to_string() class="space-y-8">
            <header class="space-y-2">
                <a href=format!("/groups/{group_id}") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                    "← " {move || i18n.t().proxy.back_to_group}
                </a>
                <h1 class="text-3xl font-semibold tracking-tight">{move || (i18n.t().reports.my_budget_title)(&group_name)}</h1>
            </header>
            <section class="space-y-3">
                <h2 class="text-xl font-semibold">{move || i18n.t().reports.my_limits}</h2>
                <Show when=move || no_limits>
                    <p id="no-my-limits" class="text-sm text-slate-500">{move || i18n.t().reports.no_my_limits}</p>
                </Show>
                <ul id="my-limits" class="grid gap-3 sm:grid-cols-2">{limits}</ul>
            </section>
            <section class="space-y-3">
                <div class="flex flex-wrap items-baseline justify-between gap-2">
                    <h2 class="text-xl font-semibold">{move || i18n.t().reports.what_i_owe}</h2>
                    <a href=format!("/groups/{group_id}/cost-split") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                        {move || i18n.t().reports.cost_split}
                    </a>
                </div>
                {owe}
            </section>
            <section class="space-y-3">
                <div class="flex flex-wrap items-baseline justify-between gap-2">
                    <h2 class="text-xl font-semibold">{move || (i18n.t().reports.my_usage_month)(&period)}</h2>
                    <a href=format!("/groups/{group_id}/usage") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                        {move || i18n.t().reports.usage}
                    </a>
                </div>
                <div class="grid gap-8 lg:grid-cols-2">
                    <LineChart id="my-chart-cost" title=money.cost_chart_title() x_labels=labels.clone() series=cost format=money.axis() />
                    <LineChart id="my-chart-requests" title=|t| t.reports.chart_requests x_labels=labels series=requests format=compact />
                </div>
                <TotalsTable report=overview.month money />
            </section>
        </article>
    }
    .into_any()
}
