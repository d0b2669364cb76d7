//! The tables under the usage charts: totals per series (requests, tokens, cost, errors) with
//! a grand total, and latency per account. Amounts are exact (from micro-USD, converted once
//! when shown in yuan), not rounded chart values.

use aicarpool::model::{UsageReport, UsageStats};
use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::money::Money;

/// Micro-USD as dollars with at least two decimals and no trailing zeros beyond them:
/// `12_500_000` -> `$12.50`, `1_234` -> `$0.001234`.
pub fn usd(micros: i64) -> String {
    Money::USD.text(micros)
}

/// Milliseconds, or `—` when nothing was measured.
fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "—".to_owned())
}

const TH: &str = "px-4 py-2 font-medium";
const TD: &str = "px-4 py-2 tabular-nums";

/// One row of the totals table.
#[component]
fn StatsRow(
    key: String,
    label: Signal<String>,
    stats: UsageStats,
    money: Money,
    #[prop(optional)] total: bool,
) -> impl IntoView {
    let class = if total { "font-semibold" } else { "" };
    view! {
        <tr data-series=key class=class>
            <td class="px-4 py-2">{move || label.get()}</td>
            <td class=TD data-test="requests">{stats.requests}</td>
            <td class=TD data-test="tokens">{stats.tokens}</td>
            <td class=format!("{TD} text-slate-500")>{format!("{} / {}", stats.input_tokens, stats.output_tokens)}</td>
            <td class=TD data-test="cost" data-micros=stats.cost_micros.to_string()>{money.text(stats.cost_micros)}</td>
            <td class=TD>{stats.errors}</td>
        </tr>
    }
}

/// Totals per series and in all, amounts in the reader's currency.
#[component]
pub fn TotalsTable(report: UsageReport, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let rows = report
        .series
        .into_iter()
        .map(
            |s| view! { <StatsRow key=s.key label=Signal::stored(s.label) stats=s.totals money /> },
        )
        .collect_view();
    view! {
        <section class="space-y-3">
            <h2 class="text-xl font-semibold">{move || i18n.t().reports.totals}</h2>
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="usage-totals" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class=TH>{move || i18n.t().reports.name}</th>
                            <th class=TH>{move || i18n.t().reports.requests}</th>
                            <th class=TH>{move || i18n.t().reports.tokens}</th>
                            <th class=TH>{move || i18n.t().reports.input_output}</th>
                            <th class=TH>{move || i18n.t().reports.cost}</th>
                            <th class=TH>{move || i18n.t().reports.errors}</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">
                        {rows}
                        <StatsRow key="total".to_owned() label=Signal::derive(move || i18n.t().reports.total.to_owned()) stats=report.totals money total=true />
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// Latency and errors per account.
#[component]
pub fn LatencyTable(report: UsageReport) -> impl IntoView {
    let i18n = use_i18n();
    let rows = report
        .series
        .into_iter()
        .map(|s| {
            view! {
                <tr data-account=s.key>
                    <td class="px-4 py-2">{s.label}</td>
                    <td class=TD>{s.totals.requests}</td>
                    <td class=TD data-test="ttfb">{ms(s.totals.avg_ttfb_ms)}</td>
                    <td class=TD>{ms(s.totals.avg_total_ms)}</td>
                    <td class=TD>{s.totals.errors}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="space-y-3">
            <h2 class="text-xl font-semibold">{move || i18n.t().reports.latency_title}</h2>
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="usage-latency" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class=TH>{move || i18n.t().budget.scope_account}</th>
                            <th class=TH>{move || i18n.t().reports.requests}</th>
                            <th class=TH>{move || i18n.t().reports.avg_first_byte}</th>
                            <th class=TH>{move || i18n.t().reports.avg_total}</th>
                            <th class=TH>{move || i18n.t().reports.errors}</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn dollars_are_exact_with_at_least_cents() {
        assert_eq!(usd(12_500_000), "$12.50");
        assert_eq!(usd(1_234), "$0.001234");
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(-3_000_000), "-$3.00");
    }
}
