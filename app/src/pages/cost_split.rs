//! `/groups/{id}/cost-split?period=YYYY-MM`: the month's statement per member (metered cost,
//! share of the fixed costs, total, what they owe or receive), the fixed costs (owners and
//! admins add them, split equally, by usage or by weights, and delete them), the "who owes
//! what" table, closing the month and the CSV export. Every member reads it; a non-member gets
//! the not-found page.

use aicarpool::api::ApiError;
use aicarpool::model::{CostLine, FixedCostView, SplitRule};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::{
    CARD, DANGER, ErrorNote, INPUT, SECONDARY, SELECT, SignInPrompt, Submit, format_time,
};
use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::money::Money;
use crate::pages::not_found::NotFoundPage;
use crate::server::cost_split::{
    AddFixedCost, ClosePeriod, CostSplitOverview, DeleteFixedCost, load_cost_split,
};
use crate::session::{on_error, on_success, use_session};

/// The page's actions; they outlive each reload of the statement.
#[derive(Clone, Copy)]
struct SplitActions {
    add: ServerAction<AddFixedCost>,
    delete: ServerAction<DeleteFixedCost>,
    close: ServerAction<ClosePeriod>,
    changed: RwSignal<u64>,
    error: RwSignal<Option<ApiError>>,
}

impl SplitActions {
    fn new() -> Self {
        let a = SplitActions {
            add: ServerAction::new(),
            delete: ServerAction::new(),
            close: ServerAction::new(),
            changed: RwSignal::new(0),
            error: RwSignal::new(None),
        };
        let done = move || {
            a.error.set(None);
            a.changed.update(|n| *n += 1);
        };
        let failed = move |e: &AppError| a.error.set(Some(e.0.clone()));
        on_success(a.add, move |_| done());
        on_error(a.add, failed);
        on_success(a.delete, move |()| done());
        on_error(a.delete, failed);
        on_success(a.close, move |_| done());
        on_error(a.close, failed);
        a
    }
}

/// `/groups/{id}/cost-split`.
#[component]
pub fn CostSplitPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let period = Memo::new(move |_| query.read().get("period").unwrap_or_default());
    let actions = SplitActions::new();
    let overview = Resource::new_blocking(
        move || (id.get(), period.get(), actions.changed.get()),
        |(id, period, _)| async move {
            match id {
                Some(id) => load_cost_split(id, period).await,
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
                    Ok(Some(overview)) => view! { <SplitContent overview actions money /> }.into_any(),
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

const TH: &str = "px-4 py-2 font-medium";
const TD: &str = "px-4 py-2 tabular-nums";

/// One member's line of the statement.
#[component]
fn LineRow(line: CostLine, payee: bool, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let former = line.role.is_none();
    view! {
        <tr data-user-id=line.user_id.to_string() data-total=line.total_micros.to_string()>
            <td class="px-4 py-2">
                <span class="font-medium">{line.name.clone()}</span>
                {former.then(|| view! { <span class="ml-1 text-xs text-slate-500">"(" {move || i18n.t().reports.former_member} ")"</span> })}
            </td>
            <td class=TD>{line.requests}</td>
            <td class=TD>{money.text(line.metered_micros)}</td>
            <td class=TD>{money.text(line.fixed_micros)}</td>
            <td class=format!("{TD} font-medium") data-test="total">{money.text(line.total_micros)}</td>
            <td class=TD data-test="owes">
                {if payee { format!("+{}", money.text(line.receives_micros)) } else { money.text(line.owes_micros) }}
            </td>
        </tr>
    }
}

/// One fixed cost, with its delete button for owners and admins of an open month.
#[component]
fn FixedRow(
    group_id: i64,
    fixed: FixedCostView,
    editable: bool,
    actions: SplitActions,
    money: Money,
) -> impl IntoView {
    let i18n = use_i18n();
    let split = fixed.split;
    let delete = editable.then(|| {
        view! {
            <ActionForm action=actions.delete>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="fixed_id" value=fixed.id.to_string() />
                <Submit label=|t| t.reports.delete_fixed pending=actions.delete.pending() class=DANGER />
            </ActionForm>
        }
    });
    view! {
        <tr data-fixed-id=fixed.id.to_string() data-split=split.as_str()>
            <td class="px-4 py-2 font-medium">{fixed.name.clone()}</td>
            <td class=TD>{money.text(fixed.amount_micros)}</td>
            <td class="px-4 py-2">{move || i18n.t().reports.split_rule(split)}</td>
            <td class="px-4 py-2"><div class="flex justify-end">{delete}</div></td>
        </tr>
    }
}

/// The loaded page.
#[component]
fn SplitContent(overview: CostSplitOverview, actions: SplitActions, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = overview.group.id;
    let group_name = overview.group.name.clone();
    let split = overview.split;
    let period = split.period.clone();
    let closed = split.closed.clone();
    let is_closed = closed.is_some().to_string();
    let editable = overview.admin && closed.is_none();
    let payee = split.payee_user_id;
    let lines = split
        .lines
        .iter()
        .cloned()
        .map(|line| {
            let is_payee = Some(line.user_id) == payee;
            view! { <LineRow line payee=is_payee money /> }
        })
        .collect_view();
    let no_fixed = split.fixed.is_empty();
    let fixed = split
        .fixed
        .iter()
        .cloned()
        .map(|fixed| view! { <FixedRow group_id fixed editable actions money /> })
        .collect_view();
    let no_settlements = split.settlements.is_empty();
    let settlements = split
        .settlements
        .iter()
        .map(|s| {
            view! {
                <li data-from=s.from_user_id.to_string() data-to=s.to_user_id.to_string() data-amount=s.amount_micros.to_string()>
                    <span class="font-medium">{s.from_name.clone()}</span>
                    " " {move || i18n.t().reports.pays} " "
                    <span class="font-medium">{s.to_name.clone()}</span>
                    " " <span class="tabular-nums">{money.text(s.amount_micros)}</span>
                </li>
            }
        })
        .collect_view();
    let weights = overview
        .members
        .iter()
        .map(|m| format!("{} = 1", m.email))
        .collect::<Vec<_>>()
        .join("\n");
    let csv = format!("/api/groups/{group_id}/cost-split.csv?period={period}");
    let add_form =
        editable.then(|| view! { <AddFixed group_id period=period.clone() weights actions /> });
    let close_form = editable.then(|| {
        let period = period.clone();
        view! {
            <ActionForm action=actions.close>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="period" value=period />
                <label class="flex items-center gap-2 text-sm">
                    <input id="close-month-confirm" type="checkbox" name="confirm" value="yes" required />
                    {move || i18n.t().reports.close_month_confirm}
                </label>
                <div class="mt-2"><Submit id="close-month" label=|t| t.reports.close_month pending=actions.close.pending() class=DANGER /></div>
            </ActionForm>
        }
    });
    view! {
        <article id="cost-split" data-group-id=group_id.to_string() data-period=period.clone() data-closed=is_closed class="space-y-8">
            <header class="space-y-2">
                <a href=format!("/groups/{group_id}") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                    "← " {move || i18n.t().proxy.back_to_group}
                </a>
                <h1 class="text-3xl font-semibold tracking-tight">{move || (i18n.t().reports.cost_split_title)(&group_name)}</h1>
                <p class="text-slate-600 dark:text-slate-300">{move || i18n.t().reports.cost_split_intro}</p>
                <div class="flex flex-wrap items-end gap-2">
                    <a id="previous-month" href=format!("?period={}", overview.previous) class=SECONDARY>"← " {move || i18n.t().reports.previous_month}</a>
                    <form method="get" class="flex items-end gap-2">
                        <label class="text-sm">
                            <span class="sr-only">{move || i18n.t().reports.period}</span>
                            <input id="period" name="period" type="month" value=period.clone() class=INPUT />
                        </label>
                        <button type="submit" class=SECONDARY>{move || i18n.t().reports.show}</button>
                    </form>
                    <a id="next-month" href=format!("?period={}", overview.next) class=SECONDARY>{move || i18n.t().reports.next_month} " →"</a>
                    <a id="cost-split-csv" href=csv download="" class=format!("ml-auto {SECONDARY}")>{move || i18n.t().reports.export_csv}</a>
                </div>
                <p class="text-sm text-slate-500">
                    {split.time_zone.clone()} " · "
                    {move || match &closed {
                        Some(c) => (i18n.t().reports.closed_on)(&format_time(c.closed_at)),
                        None => i18n.t().reports.month_open.to_owned(),
                    }}
                </p>
                <ErrorNote id="cost-split-error" error=actions.error />
            </header>
            <section class="space-y-3">
                <h2 class="text-xl font-semibold">{move || i18n.t().reports.statement}</h2>
                <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                    <table id="statement" class="w-full text-left text-sm">
                        <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                            <tr>
                                <th class=TH>{move || i18n.t().reports.member}</th>
                                <th class=TH>{move || i18n.t().reports.requests}</th>
                                <th class=TH>{move || i18n.t().reports.metered}</th>
                                <th class=TH>{move || i18n.t().reports.fixed_share}</th>
                                <th class=TH>{move || i18n.t().reports.total}</th>
                                <th class=TH>{move || i18n.t().reports.owes} " / " {move || i18n.t().reports.receives}</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-700">
                            {lines}
                            <tr class="font-semibold">
                                <td class="px-4 py-2">{move || i18n.t().reports.group_total}</td>
                                <td class=TD></td>
                                <td class=TD>{money.text(split.metered_total_micros)}</td>
                                <td class=TD>{money.text(split.fixed_total_micros)}</td>
                                <td class=TD id="group-total" data-micros=split.total_micros.to_string()>{money.text(split.total_micros)}</td>
                                <td class=TD></td>
                            </tr>
                        </tbody>
                    </table>
                </div>
            </section>
            <section class="space-y-3">
                <h2 class="text-xl font-semibold">{move || i18n.t().reports.who_owes_what}</h2>
                <Show when=move || no_settlements>
                    <p id="no-settlements" class="text-sm text-slate-500">{move || i18n.t().reports.settled}</p>
                </Show>
                <ul id="settlements" class="space-y-1 text-sm">{settlements}</ul>
            </section>
            <section class="space-y-3">
                <h2 class="text-xl font-semibold">{move || i18n.t().reports.fixed_costs}</h2>
                <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                    <table id="fixed-costs" class="w-full text-left text-sm">
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{fixed}</tbody>
                    </table>
                    <Show when=move || no_fixed>
                        <p id="no-fixed-costs" class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().reports.no_fixed_costs}</p>
                    </Show>
                </div>
                {add_form}
            </section>
            {close_form.map(|form| view! { <section class="rounded-xl border border-red-200 p-6 dark:border-red-900">{form}</section> })}
        </article>
    }
    .into_any()
}

/// Adding a fixed cost (owners and admins, open months).
#[component]
fn AddFixed(
    group_id: i64,
    period: String,
    weights: String,
    actions: SplitActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let rules = [SplitRule::Equal, SplitRule::Usage, SplitRule::Weights]
        .into_iter()
        .map(|r| view! { <option value=r.as_str()>{move || i18n.t().reports.split_rule(r)}</option> })
        .collect_view();
    view! {
        <div id="fixed-form" class=format!("max-w-2xl {CARD}")>
            <h3 class="font-medium">{move || i18n.t().reports.add_fixed}</h3>
            <ActionForm action=actions.add>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="period" value=period />
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <label class="text-sm sm:col-span-3">
                        <span class="block font-medium">{move || i18n.t().reports.fixed_name}</span>
                        <input id="fixed-form-name" name="name" type="text" required maxlength="100" autocomplete="off" class=format!("mt-1 {INPUT}") />
                    </label>
                    <label class="text-sm">
                        <span class="block font-medium">{move || i18n.t().reports.amount}</span>
                        <input id="fixed-form-amount" name="amount" type="number" min="0" step="any" required class=format!("mt-1 {INPUT}") />
                    </label>
                    <label class="text-sm sm:col-span-2">
                        <span class="block font-medium">{move || i18n.t().reports.split}</span>
                        <select id="fixed-form-split" name="split" class=format!("mt-1 w-full {SELECT}")>{rules}</select>
                    </label>
                    <label class="text-sm sm:col-span-3">
                        <span class="block font-medium">{move || i18n.t().reports.weights}</span>
                        <textarea id="fixed-form-weights" name="weights" rows="3" class=format!("mt-1 font-mono {INPUT}")>{weights}</textarea>
                        <span class="mt-1 block text-xs text-slate-500">{move || i18n.t().reports.weights_help}</span>
                    </label>
                </div>
                <div class="mt-4"><Submit id="fixed-submit" label=|t| t.reports.add_fixed pending=actions.add.pending() /></div>
            </ActionForm>
        </div>
    }
}
