//! The routing part of the group page: how requests spread over the group's accounts (the
//! strategy, each explained in one line) and the model fallback chains (`alias -> model1,
//! model2`). Every member reads them; owners and admins change them with a plain form.

use aicarpool::model::{GroupRole, RoutingStrategy, RoutingView};
use leptos::prelude::*;

use crate::components::{CARD, ErrorNote, INPUT, SELECT, Submit};
use crate::i18n::use_i18n;
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// The chains as the textarea shows them: one `alias -> model1, model2` per line.
pub fn format_routes(routing: &RoutingView) -> String {
    routing
        .routes
        .iter()
        .map(|(alias, models)| format!("{alias} -> {}", models.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The routing section.
#[component]
pub fn RoutingSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let admin = details.my_role >= GroupRole::Admin;
    let routing = details.routing.clone();
    let current = routing.strategy;
    // The strategy picked in the form (its explanation is highlighted); the saved one before.
    let chosen = RwSignal::new(current);
    let explanations = RoutingStrategy::ALL
        .into_iter()
        .map(|s| {
            view! {
                <li data-strategy=s.as_str() aria-current=move || (chosen.get() == s).then_some("true")
                    class="rounded px-2 py-1 text-slate-500 aria-[current=true]:bg-indigo-50 aria-[current=true]:text-indigo-800 dark:text-slate-400 dark:aria-[current=true]:bg-slate-700 dark:aria-[current=true]:text-white">
                    <span class="font-medium">{move || i18n.t().budget.strategy_name(s)}</span>
                    ": " {move || i18n.t().budget.strategy_help(s)}
                </li>
            }
        })
        .collect_view();
    let body = if admin {
        view! { <RoutingForm group_id=details.group.id routing chosen actions /> }.into_any()
    } else {
        view! { <RoutingChains routing /> }.into_any()
    };
    view! {
        <section id="group-routing" data-strategy=current.as_str() class="space-y-4">
            <h2 class="text-xl font-semibold">{move || i18n.t().budget.routing_title}</h2>
            <p class="text-sm text-slate-600 dark:text-slate-300">{move || i18n.t().budget.routing_intro}</p>
            <p class="text-sm">
                {move || i18n.t().budget.strategy} ": "
                <span id="routing-strategy" class="font-medium">{move || i18n.t().budget.strategy_name(current)}</span>
            </p>
            <ul id="strategy-explanations" class="space-y-1 text-sm">{explanations}</ul>
            {body}
        </section>
    }
    .into_any()
}

/// The chains, read-only.
#[component]
fn RoutingChains(routing: RoutingView) -> impl IntoView {
    let i18n = use_i18n();
    if routing.routes.is_empty() {
        return view! {
            <p id="no-chains" class="text-sm text-slate-500">{move || i18n.t().budget.chains_empty}</p>
        }
        .into_any();
    }
    let rows = routing
        .routes
        .into_iter()
        .map(|(alias, models)| {
            let name = alias.clone();
            view! {
                <li data-alias=name>
                    <code class="font-medium">{alias}</code> " → " {models.join(" → ")}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="space-y-1">
            <h3 class="font-medium">{move || i18n.t().budget.chains}</h3>
            <ul id="routing-chains" class="space-y-1 text-sm">{rows}</ul>
        </div>
    }
    .into_any()
}

/// Changing the strategy and the chains (owners and admins).
#[component]
fn RoutingForm(
    group_id: i64,
    routing: RoutingView,
    chosen: RwSignal<RoutingStrategy>,
    actions: GroupActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let current = routing.strategy;
    let chains = format_routes(&routing);
    let options = RoutingStrategy::ALL
        .into_iter()
        .map(|s| {
            view! {
                <option value=s.as_str() selected=s == current>{move || i18n.t().budget.strategy_name(s)}</option>
            }
        })
        .collect_view();
    let on_change = move |ev: leptos::ev::Event| {
        if let Some(s) = RoutingStrategy::parse(&event_target_value(&ev)) {
            chosen.set(s);
        }
    };
    view! {
        <div id="routing-form" class=format!("max-w-2xl {CARD}")>
            <ActionForm action=actions.routing>
                <input type="hidden" name="id" value=group_id.to_string() />
                <div class="space-y-4">
                    <div>
                        <label for="routing-form-strategy" class="block text-sm font-medium">{move || i18n.t().budget.strategy}</label>
                        <select id="routing-form-strategy" name="strategy" class=format!("mt-1 w-full {SELECT}") on:change=on_change>{options}</select>
                        <p id="routing-form-explanation" class="mt-1 text-xs text-slate-500 dark:text-slate-400">
                            {move || i18n.t().budget.strategy_help(chosen.get())}
                        </p>
                    </div>
                    <div>
                        <label for="routing-form-routes" class="block text-sm font-medium">{move || i18n.t().budget.chains}</label>
                        <textarea id="routing-form-routes" name="routes" rows="4" placeholder="smart -> claude-sonnet-4-5, gpt-4o, qwen-max" class=format!("mt-1 font-mono text-sm {INPUT}")>{chains}</textarea>
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().budget.chains_help}</p>
                    </div>
                    <ErrorNote id="routing-error" error=actions.error_for(Part::Routing) />
                    <Submit id="routing-submit" label=|t| t.budget.save_routing pending=actions.routing.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}
