//! `/groups/{id}/usage`: requests, tokens and cost over time as SVG line charts, grouped by
//! member, model or account, for a date range per hour or per day; latency per account; a
//! totals table and the CSV export. The filters are a plain GET form, so the page works
//! without JavaScript. Members see their own usage, owners and admins everyone's; a
//! non-member gets the not-found page.

use aicarpool::model::{UsageReport, UsageSeries};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::charts::{ChartSeries, LineChart, compact};
use crate::components::{INPUT, SECONDARY, SELECT, SignInPrompt};
use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::money::Money;
use crate::pages::not_found::NotFoundPage;
use crate::server::usage::{UsageOverview, date_of, load_usage};
use crate::session::use_session;

/// Most lines in one chart; the rest are in the totals table and the CSV.
const MAX_SERIES: usize = 8;

/// `/groups/{id}/usage`.
#[component]
pub fn UsagePage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let args = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        (get("from"), get("to"), get("bucket"), get("by"))
    });
    let overview = Resource::new_blocking(
        move || (id.get(), args.get()),
        |(id, (from, to, bucket, by))| async move {
            match id {
                Some(id) => load_usage(id, from, to, bucket, by).await,
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
                    Ok(Some(overview)) => view! { <UsageContent overview money /> }.into_any(),
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

/// The x labels of a report: local day, or local day and hour.
pub fn x_labels(report: &UsageReport) -> Vec<String> {
    let Some(first) = report.series.first() else {
        return Vec::new();
    };
    first
        .points
        .iter()
        .map(|p| {
            let day = date_of(p.t, report.tz_offset_minutes);
            let short = day.get(5..).unwrap_or(&day).to_owned();
            if report.bucket == "hour" {
                let local =
                    (p.t + i64::from(report.tz_offset_minutes) * 60_000).rem_euclid(86_400_000);
                format!("{short} {:02}:00", local / 3_600_000)
            } else {
                short
            }
        })
        .collect()
}

/// The chart lines of one measure of the report's first series.
pub fn lines(
    series: &[UsageSeries],
    value: impl Fn(&aicarpool::model::UsageStats) -> Option<f64>,
) -> Vec<ChartSeries> {
    series
        .iter()
        .take(MAX_SERIES)
        .map(|s| ChartSeries {
            key: s.key.clone(),
            label: s.label.clone(),
            values: s.points.iter().map(|p| value(&p.stats)).collect(),
        })
        .collect()
}

/// Milliseconds for the latency axis.
fn millis(v: f64) -> String {
    format!("{} ms", compact(v))
}

/// The loaded page.
#[component]
fn UsageContent(overview: UsageOverview, money: Money) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = overview.group.id;
    let group_name = overview.group.name.clone();
    let admin = overview.admin;
    let report = overview.report;
    let labels = x_labels(&report);
    let empty = report.totals.requests == 0;
    let (bucket, by) = (report.bucket.clone(), report.by.clone().unwrap_or_default());
    let requests = lines(&report.series, |s| Some(s.requests as f64));
    let tokens = lines(&report.series, |s| Some(s.tokens as f64));
    let cost = lines(&report.series, |s| Some(money.chart(s.cost_micros)));
    let latency_labels = x_labels(&overview.latency);
    let latency = lines(&overview.latency.series, |s| s.avg_ttfb_ms);
    let option = move |value: &'static str,
                       current: &str,
                       label: fn(&crate::i18n::Texts) -> &'static str| {
        let selected = value == current;
        view! { <option value=value selected=selected>{move || label(i18n.t())}</option> }
    };
    let bucket_options = view! {
        {option("day", &bucket, |t| t.reports.bucket_day)}
        {option("hour", &bucket, |t| t.reports.bucket_hour)}
    };
    let by_options = view! {
        {admin.then(|| option("member", &by, |t| t.reports.by_member))}
        {option("model", &by, |t| t.reports.by_model)}
        {option("account", &by, |t| t.reports.by_account)}
    };
    view! {
        <article id="usage" data-group-id=group_id.to_string() data-bucket=report.bucket.clone() data-by=by.clone() class="space-y-8">
            <header class="space-y-2">
                <a href=format!("/groups/{group_id}") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                    "← " {move || i18n.t().proxy.back_to_group}
                </a>
                <h1 class="text-3xl font-semibold tracking-tight">{move || (i18n.t().reports.usage_title)(&group_name)}</h1>
                <p class="text-slate-600 dark:text-slate-300">
                    {move || if admin { i18n.t().reports.usage_intro_admin } else { i18n.t().reports.usage_intro_member }}
                </p>
            </header>
            <form id="usage-filters" method="get" class="flex flex-wrap items-end gap-3">
                <label class="text-sm">
                    <span class="block font-medium">{move || i18n.t().reports.from}</span>
                    <input id="usage-from" name="from" type="date" value=overview.from_date class=format!("mt-1 {INPUT}") />
                </label>
                <label class="text-sm">
                    <span class="block font-medium">{move || i18n.t().reports.to}</span>
                    <input id="usage-to" name="to" type="date" value=overview.to_date class=format!("mt-1 {INPUT}") />
                </label>
                <label class="text-sm">
                    <span class="block font-medium">{move || i18n.t().reports.bucket}</span>
                    <select id="usage-bucket" name="bucket" class=format!("mt-1 {SELECT}")>{bucket_options}</select>
                </label>
                <label class="text-sm">
                    <span class="block font-medium">{move || i18n.t().reports.group_by}</span>
                    <select id="usage-by" name="by" class=format!("mt-1 {SELECT}")>{by_options}</select>
                </label>
                <button id="usage-show" type="submit" class=SECONDARY>{move || i18n.t().reports.show}</button>
                <a id="usage-csv" href=overview.csv_url download="" class=format!("ml-auto {SECONDARY}")>{move || i18n.t().reports.export_csv}</a>
            </form>
            <Show when=move || empty>
                <p id="no-usage" class="text-slate-600 dark:text-slate-300">{move || i18n.t().reports.no_usage}</p>
            </Show>
            <div class="grid gap-8 lg:grid-cols-2">
                <LineChart id="chart-requests" title=|t| t.reports.chart_requests x_labels=labels.clone() series=requests format=compact />
                <LineChart id="chart-tokens" title=|t| t.reports.chart_tokens x_labels=labels.clone() series=tokens format=compact />
                <LineChart id="chart-cost" title=money.cost_chart_title() x_labels=labels series=cost format=money.axis() />
                <LineChart id="chart-latency" title=|t| t.reports.chart_latency x_labels=latency_labels series=latency format=millis />
            </div>
            <crate::pages::usage_tables::TotalsTable report=report.clone() money />
            <crate::pages::usage_tables::LatencyTable report=overview.latency />
        </article>
    }
    .into_any()
}
