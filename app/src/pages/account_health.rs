//! The live health of an upstream account on its card: the circuit state as a badge, recent
//! latency and error rate, why and until when it is out; and its caps (concurrency, requests
//! and tokens per minute). The numbers are this node's view at page load.

use aicarpool::model::{AccountHealthView, AccountView};
use leptos::prelude::*;

use crate::components::format_time;
use crate::i18n::use_i18n;

/// Classes of the circuit badge per state.
fn badge_class(circuit: &str) -> &'static str {
    match circuit {
        "closed" => {
            "rounded bg-emerald-50 px-2 py-0.5 text-xs text-emerald-700 dark:bg-emerald-950 dark:text-emerald-300"
        }
        "open" => {
            "rounded bg-red-50 px-2 py-0.5 text-xs text-red-700 dark:bg-red-950 dark:text-red-300"
        }
        "half_open" => {
            "rounded bg-amber-50 px-2 py-0.5 text-xs text-amber-800 dark:bg-amber-950 dark:text-amber-300"
        }
        _ => {
            "rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-600 dark:bg-slate-700 dark:text-slate-300"
        }
    }
}

/// The circuit state as a badge (`data-circuit` carries the raw state for tests and styles).
#[component]
pub fn HealthBadge(health: Option<AccountHealthView>) -> impl IntoView {
    let i18n = use_i18n();
    let circuit = health
        .map(|h| h.circuit)
        .unwrap_or_else(|| "unknown".to_owned());
    let class = badge_class(&circuit);
    let label = circuit.clone();
    view! {
        <span data-test="circuit" data-circuit=circuit class=class>
            {move || i18n.t().budget.circuit(&label)}
        </span>
    }
}

/// The caps as `concurrency / RPM / TPM`, `—` for none.
pub fn caps_text(account: &AccountView) -> String {
    fn cap<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_else(|| "—".to_owned())
    }
    format!(
        "{} / {} / {}",
        cap(account.max_concurrency),
        cap(account.rpm_limit),
        cap(account.tpm_limit)
    )
}

/// Latency, error rate and attempts, and why the account is out (when it is).
#[component]
pub fn HealthDetails(health: Option<AccountHealthView>) -> impl IntoView {
    let i18n = use_i18n();
    let Some(h) = health else {
        return view! {
            <p data-test="health" class="text-sm text-slate-500">{move || i18n.t().budget.health_unknown}</p>
        }
        .into_any();
    };
    let latency = h
        .latency_ms
        .map(|ms| format!("{ms:.0} ms"))
        .unwrap_or_else(|| "—".to_owned());
    let error_rate = format!("{:.1} %", h.error_rate * 100.0);
    let (attempts, in_row) = (h.attempts, h.consecutive_failures);
    let out = h.out_reason.clone().map(|why| {
        let until = h.out_until.map(format_time);
        view! {
            <p data-test="out-reason" class="rounded-lg bg-amber-50 p-3 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                {move || match &until {
                    Some(until) => (i18n.t().budget.out_until)(until, &why),
                    None => (i18n.t().budget.out_because)(&why),
                }}
            </p>
        }
    });
    view! {
        <div data-test="health" class="space-y-2 text-sm">
            <p class="flex flex-wrap gap-x-4 gap-y-1 text-slate-600 dark:text-slate-300">
                <span>{move || i18n.t().budget.latency} ": " <span data-test="latency">{latency}</span></span>
                <span>{move || i18n.t().budget.error_rate} ": " <span data-test="error-rate">{error_rate}</span></span>
                <span class="text-slate-500">{move || (i18n.t().budget.attempts)(attempts, in_row)}</span>
            </p>
            {out}
        </div>
    }
    .into_any()
}
