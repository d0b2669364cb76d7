//! `/prices`: the system administrator's money page. The USD->CNY rate amounts are shown at
//! (for people who chose yuan), and every model's price per million tokens (input, output,
//! cache read, cache write) in the reader's currency, built-in or overridden; an override is
//! set in US dollars (`?edit=MODEL` fills the form from a row, so it works without JavaScript
//! too) and removed to bring the built-in price back. Anyone else gets a 403 page.

use aicarpool::api::ApiError;
use aicarpool::model::PriceView;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::components::{CARD, DANGER, ErrorNote, INPUT, SECONDARY, SignInPrompt, Submit};
use crate::error::{AppError, error_from_query};
use crate::i18n::{Texts, use_i18n};
use crate::money::{Money, check_model, check_price, check_rate, usd_input};
use crate::pages::not_found::NotFoundPage;
use crate::server::prices::{
    PriceLine, PricesOverview, ResetCnyRate, ResetPrice, SetCnyRate, SetPrice, load_prices,
};
use crate::session::{on_error, on_success, use_session};

/// Which form of the page a refusal or a success belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The exchange rate.
    Rate,
    /// Setting a price.
    Price,
    /// Removing an override.
    Reset,
}

/// The page's actions and what they leave behind; outlives each reload of the table.
#[derive(Clone, Copy)]
struct PricesActions {
    set: ServerAction<SetPrice>,
    reset: ServerAction<ResetPrice>,
    rate: ServerAction<SetCnyRate>,
    reset_rate: ServerAction<ResetCnyRate>,
    changed: RwSignal<u64>,
    error: RwSignal<Option<(Part, ApiError)>>,
    done: RwSignal<Option<Part>>,
}

impl PricesActions {
    fn new() -> Self {
        let session = use_session();
        let navigate = use_navigate();
        let a = PricesActions {
            set: ServerAction::new(),
            reset: ServerAction::new(),
            rate: ServerAction::new(),
            reset_rate: ServerAction::new(),
            changed: RwSignal::new(0),
            error: RwSignal::new(None),
            done: RwSignal::new(None),
        };
        let done = move |part: Part| {
            a.error.set(None);
            a.done.set(Some(part));
            a.changed.update(|n| *n += 1);
        };
        let failed = move |part: Part| {
            move |e: &AppError| {
                a.done.set(None);
                a.error.set(Some((part, e.0.clone())));
            }
        };
        on_success(a.set, move |_| {
            done(Part::Price);
            // The form empties: the address no longer names the model being edited.
            navigate(
                "/prices",
                leptos_router::NavigateOptions {
                    scroll: false,
                    ..Default::default()
                },
            );
        });
        on_error(a.set, failed(Part::Price));
        on_success(a.reset, move |()| done(Part::Reset));
        on_error(a.reset, failed(Part::Reset));
        // Every page shows yuan at the new rate from now on.
        on_success(a.rate, move |_| {
            done(Part::Rate);
            session.refresh();
        });
        on_error(a.rate, failed(Part::Rate));
        on_success(a.reset_rate, move |_| {
            done(Part::Rate);
            session.refresh();
        });
        on_error(a.reset_rate, failed(Part::Rate));
        a
    }

    /// The last refusal if it belongs to `part`, else one a plain form post left in the
    /// address (which cannot tell the forms apart, so every form shows it).
    fn error_for(&self, part: Part) -> Signal<Option<ApiError>> {
        let error = self.error;
        let query = use_query_map();
        Signal::derive(move || {
            let last = error.with(|e| {
                e.as_ref()
                    .filter(|(p, _)| *p == part)
                    .map(|(_, e)| e.clone())
            });
            last.or_else(|| {
                error
                    .with(Option::is_none)
                    .then(|| error_from_query(&query.read()))
                    .flatten()
            })
        })
    }
}

/// `/prices`.
#[component]
pub fn PricesPage() -> impl IntoView {
    let i18n = use_i18n();
    let actions = PricesActions::new();
    let overview = Resource::new_blocking(move || actions.changed.get(), |_| load_prices());
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(overview)) => view! { <PricesContent overview actions /> }.into_any(),
                    Err(e) if e.is_not_found() => view! { <NotFoundPage /> }.into_any(),
                    Err(e) if e.0.service_code() == Some("forbidden") => view! {
                        <section id="prices-forbidden" class="mx-auto max-w-md py-12 text-center">
                            <h1 class="text-2xl font-semibold">{move || i18n.t().money.prices_title}</h1>
                            <p role="alert" class="mt-3 text-slate-600 dark:text-slate-300">{move || i18n.t().money.prices_forbidden}</p>
                        </section>
                    }
                    .into_any(),
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

const TH: &str = "px-3 py-2 font-medium whitespace-nowrap";
const TD: &str = "px-3 py-2 tabular-nums whitespace-nowrap";

/// The loaded page.
#[component]
fn PricesContent(overview: PricesOverview, actions: PricesActions) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let money = Money(overview.display);
    let currency = money.currency();
    let rows = overview
        .lines
        .iter()
        .cloned()
        .map(|line| view! { <PriceRow line money actions /> })
        .collect_view();
    let lines = overview.lines.clone();
    // The form, filled from the row the address names (`?edit=MODEL`).
    let form = move || {
        let edit = query.read().get("edit").unwrap_or_default();
        let initial = lines
            .iter()
            .find(|l| l.price.model == edit)
            .map(|l| l.price.clone());
        view! { <PriceForm initial actions /> }
    };
    view! {
        <article id="prices" data-currency=currency.as_str() data-rate=overview.display.cny_per_usd_e4.to_string() class="space-y-8">
            <header class="space-y-2">
                <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().money.prices_title}</h1>
                <p class="max-w-3xl text-slate-600 dark:text-slate-300">{move || i18n.t().money.prices_intro}</p>
            </header>
            <RateForm settings=overview.settings.clone() actions />
            <section class="space-y-3">
                <div class="flex flex-wrap items-baseline justify-between gap-2">
                    <h2 class="text-xl font-semibold">{move || i18n.t().money.prices_title}</h2>
                    <p class="text-sm text-slate-500">
                        {move || (i18n.t().money.per_million)(i18n.t().money.currency_name(currency))}
                    </p>
                </div>
                <p id="price-reset-done" role="status" class="text-sm text-emerald-700 dark:text-emerald-300" hidden=move || actions.done.get() != Some(Part::Reset)>
                    {move || i18n.t().money.price_reset_done}
                </p>
                <ErrorNote id="price-reset-error" error=actions.error_for(Part::Reset) />
                <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                    <table id="price-list" class="w-full text-left text-sm">
                        <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                            <tr>
                                <th class=TH>{move || i18n.t().money.model}</th>
                                <th class=TH>{move || i18n.t().money.input}</th>
                                <th class=TH>{move || i18n.t().money.output}</th>
                                <th class=TH>{move || i18n.t().money.cache_read}</th>
                                <th class=TH>{move || i18n.t().money.cache_write}</th>
                                <th class=TH>{move || i18n.t().money.source}</th>
                                <th class=TH><span class="sr-only">{move || i18n.t().actions}</span></th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                    </table>
                </div>
            </section>
            {form}
        </article>
    }
    .into_any()
}

/// The four prices of a model in the reader's currency, `/`-separated.
fn four(money: Money, p: &PriceView) -> String {
    [p.input, p.output, p.cache_read, p.cache_write]
        .map(|v| money.text(i64::try_from(v).unwrap_or(i64::MAX)))
        .join(" / ")
}

/// One model's prices, its source and its Edit link (and Reset button for an override).
#[component]
fn PriceRow(line: PriceLine, money: Money, actions: PricesActions) -> impl IntoView {
    let i18n = use_i18n();
    let price = line.price.clone();
    let overridden = price.source == "override";
    let has_built_in = line.built_in.is_some();
    let cell = move |v: u64| {
        let micros = i64::try_from(v).unwrap_or(i64::MAX);
        view! { <td class=TD data-micros=micros.to_string()>{money.text(micros)}</td> }
    };
    let was = line.built_in.as_ref().filter(|_| overridden).map(|b| {
        let text = four(money, b);
        view! {
            <span class="mt-1 block min-w-48 text-xs text-slate-500" data-test="built-in-price">
                {move || (i18n.t().money.built_in_was)(&text)}
            </span>
        }
    });
    let reset = overridden.then(|| {
        let model = price.model.clone();
        let label: fn(&Texts) -> &'static str = if has_built_in {
            |t| t.money.reset_price
        } else {
            |t| t.money.remove_price
        };
        view! {
            <ActionForm action=actions.reset>
                <input type="hidden" name="model" value=model />
                <Submit label pending=actions.reset.pending() class=DANGER />
            </ActionForm>
        }
    });
    let edit_href = format!(
        "/prices?edit={}#price-form",
        crate::encode_path(&price.model)
    );
    view! {
        <tr data-model=price.model.clone() data-source=price.source.clone()>
            <td class="px-3 py-2 font-medium whitespace-nowrap">{price.model.clone()}</td>
            {cell(price.input)}
            {cell(price.output)}
            {cell(price.cache_read)}
            {cell(price.cache_write)}
            <td class="px-3 py-2">
                <span class=if overridden {
                    "rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800 dark:bg-amber-900 dark:text-amber-200"
                } else {
                    "rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600 dark:bg-slate-700 dark:text-slate-300"
                }>
                    {move || if overridden { i18n.t().money.overridden } else { i18n.t().money.built_in }}
                </span>
                {was}
            </td>
            <td class="px-3 py-2">
                <div class="flex items-center justify-end gap-2 whitespace-nowrap">
                    <a href=edit_href class=SECONDARY data-test="edit-price">{move || i18n.t().money.edit_price}</a>
                    {reset}
                </div>
            </td>
        </tr>
    }
}

/// One input with its label, its check as you type (after the first blur) and the server's
/// refusal of it. Its id is `{form}-{name}`.
#[component]
fn CheckedField(
    /// Prefix of the input's id.
    form: &'static str,
    /// The form field name.
    name: &'static str,
    /// The label, per locale.
    label: fn(&Texts) -> String,
    /// The value as typed.
    value: RwSignal<String>,
    /// The check: the message when the value is wrong.
    check: fn(&Texts, &str) -> Option<String>,
    /// The form's last refusal.
    error: Signal<Option<ApiError>>,
    /// Extra help under the input.
    #[prop(optional)]
    help: Option<Signal<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let touched = RwSignal::new(false);
    let message = move || {
        let t = i18n.t();
        let from_server = error.with(|e| match e {
            Some(ApiError::Service {
                field: Some(f),
                reason,
                ..
            }) if f == name => Some(match reason {
                Some(aicarpool::validate::FieldError::Rule(rule)) => rule.clone(),
                // After a plain form post only the field is known: say its rule.
                _ => check(t, "").unwrap_or_else(|| t.err_invalid.to_owned()),
            }),
            _ => None,
        });
        from_server.or_else(|| touched.get().then(|| check(t, &value.get())).flatten())
    };
    let id = format!("{form}-{name}");
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium">{move || label(i18n.t())}</label>
            <input
                id=id
                name=name
                type="text"
                inputmode="decimal"
                autocomplete="off"
                required
                value=value.get_untracked()
                prop:value=move || value.get()
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=error_id.clone()
                class=format!("mt-1 {INPUT}")
                on:input=move |ev| value.set(event_target_value(&ev))
                on:blur=move |_| touched.set(true)
            />
            {help.map(|help| view! { <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || help.get()}</p> })}
            <p id=error_id class="mt-1 min-h-4 text-xs text-red-600 dark:text-red-400">{message}</p>
        </div>
    }
}

/// True when `error` names one of `fields` (it then shows under that field, not the form).
fn names_field(error: &ApiError, fields: &[&str]) -> bool {
    matches!(error, ApiError::Service { field: Some(f), .. } if fields.contains(&f.as_str()))
}

/// Setting a price override, in US dollars per million tokens.
#[component]
fn PriceForm(initial: Option<PriceView>, actions: PricesActions) -> impl IntoView {
    let i18n = use_i18n();
    let start = |v: Option<u64>| {
        v.map(|v| usd_input(i64::try_from(v).unwrap_or(0)))
            .unwrap_or_default()
    };
    let model = RwSignal::new(
        initial
            .as_ref()
            .map(|p| p.model.clone())
            .unwrap_or_default(),
    );
    let input = RwSignal::new(start(initial.as_ref().map(|p| p.input)));
    let output = RwSignal::new(start(initial.as_ref().map(|p| p.output)));
    let cache_read = RwSignal::new(start(initial.as_ref().map(|p| p.cache_read)));
    let cache_write = RwSignal::new(start(initial.as_ref().map(|p| p.cache_write)));
    let error = actions.error_for(Part::Price);
    let fields = ["model", "input", "output", "cache_read", "cache_write"];
    let other = Signal::derive(move || error.get().filter(|e| !names_field(e, &fields)));
    let price_check: fn(&Texts, &str) -> Option<String> = |t, v| check_price(t, v).err();
    view! {
        <section id="price-form" class=format!("max-w-3xl scroll-mt-4 {CARD}")>
            <h2 class="text-lg font-semibold">{move || i18n.t().money.price_form_title}</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">{move || i18n.t().money.price_form_help}</p>
            <ActionForm action=actions.set>
                <div class="mt-4 space-y-4">
                    <CheckedField
                        form="price-form"
                        name="model"
                        label=|t| t.money.model.to_owned()
                        value=model
                        check=|t, v| check_model(t, v).err()
                        error
                    />
                    <div class="grid gap-4 sm:grid-cols-2">
                        <CheckedField form="price-form" name="input" label=|t| (t.money.in_usd)(t.money.input) value=input check=price_check error />
                        <CheckedField form="price-form" name="output" label=|t| (t.money.in_usd)(t.money.output) value=output check=price_check error />
                        <CheckedField form="price-form" name="cache_read" label=|t| (t.money.in_usd)(t.money.cache_read) value=cache_read check=price_check error />
                        <CheckedField form="price-form" name="cache_write" label=|t| (t.money.in_usd)(t.money.cache_write) value=cache_write check=price_check error />
                    </div>
                    <ErrorNote id="price-form-error" error=other />
                    <p id="price-saved" role="status" class="text-sm text-emerald-700 dark:text-emerald-300" hidden=move || actions.done.get() != Some(Part::Price)>
                        {move || i18n.t().money.price_saved}
                    </p>
                    <Submit id="price-submit" label=|t| t.money.save_price pending=actions.set.pending() />
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The USD->CNY rate: what is in force and where it comes from, a form to set it, and going
/// back to the configured default.
#[component]
fn RateForm(settings: aicarpool::model::SettingsView, actions: PricesActions) -> impl IntoView {
    let i18n = use_i18n();
    let rate = RwSignal::new(settings.cny_per_usd.clone());
    let error = actions.error_for(Part::Rate);
    let other = Signal::derive(move || error.get().filter(|e| !names_field(e, &["cny_per_usd"])));
    let from_admin = settings.cny_per_usd_source == "admin";
    let (now, default) = (
        settings.cny_per_usd.clone(),
        settings.cny_per_usd_default.clone(),
    );
    let help_default = default.clone();
    let reset = from_admin.then(|| {
        view! {
            <ActionForm action=actions.reset_rate>
                <Submit id="rate-reset" label=|t| t.money.reset_rate pending=actions.reset_rate.pending() class=SECONDARY />
            </ActionForm>
        }
    });
    view! {
        <section id="rate-form" data-rate=settings.cny_per_usd_e4.to_string() data-source=settings.cny_per_usd_source.clone() class=format!("max-w-3xl {CARD}")>
            <h2 class="text-lg font-semibold">{move || i18n.t().money.rate_title}</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">{move || i18n.t().money.rate_intro}</p>
            <p class="mt-3 text-sm">
                <span id="rate-now" class="font-medium">{move || (i18n.t().money.rate_now)(&now)}</span>
                " · "
                <span class="text-slate-500">
                    {move || if from_admin { i18n.t().money.rate_from_admin.to_owned() } else { (i18n.t().money.rate_from_config)(&default) }}
                </span>
            </p>
            <div class="mt-4 flex flex-wrap items-start gap-3">
                <ActionForm action=actions.rate>
                    <div class="flex flex-wrap items-start gap-3">
                        <div class="w-full sm:w-80">
                            <CheckedField
                                form="rate-form"
                                name="cny_per_usd"
                                label=|t| t.money.rate_label.to_owned()
                                value=rate
                                check=|t, v| check_rate(t, v).err()
                                error
                                help=Signal::derive(move || (i18n.t().money.rate_help)(&help_default))
                            />
                        </div>
                        <div class="sm:mt-6">
                            <Submit id="rate-submit" label=|t| t.money.save_rate pending=actions.rate.pending() />
                        </div>
                    </div>
                </ActionForm>
                <div class="sm:mt-6">{reset}</div>
            </div>
            <ErrorNote id="rate-form-error" error=other />
            <p id="rate-saved" role="status" class="text-sm text-emerald-700 dark:text-emerald-300" hidden=move || actions.done.get() != Some(Part::Rate)>
                {move || i18n.t().money.rate_saved}
            </p>
        </section>
    }
    .into_any()
}
