//! The status page and the status card it shares with the home page.

use aicarpool::api::InstanceStatus;
use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::server::get_instance_status;

/// A definition list of the instance's status.
#[component]
pub fn StatusCard(status: InstanceStatus) -> impl IntoView {
    let i18n = use_i18n();
    let row = move |label: fn(&crate::i18n::Texts) -> &'static str, value: Signal<String>| {
        view! {
            <div class="flex justify-between gap-4 py-2">
                <dt class="text-slate-500 dark:text-slate-400">{move || label(i18n.t())}</dt>
                <dd class="font-medium text-right">{move || value.get()}</dd>
            </div>
        }
    };
    let s = status.clone();
    let database = Signal::derive(move || s.database.label().to_owned());
    let version = {
        let v = status.version.clone();
        Signal::derive(move || v.clone())
    };
    let counters = Signal::derive(move || i18n.t().counters(status.counters).to_owned());
    let mail = Signal::derive(move || i18n.t().mail(status.mail).to_owned());
    let users = Signal::derive(move || status.users.to_string());
    let uptime = Signal::derive(move || (i18n.t().uptime)(status.uptime_secs));
    view! {
        <section id="instance-status" class="rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-800">
            <h2 class="text-lg font-semibold">{move || i18n.t().status_title}</h2>
            <dl class="mt-4 divide-y divide-slate-100 text-sm dark:divide-slate-700">
                {row(|t| t.status_version, version)}
                {row(|t| t.status_database, database)}
                {row(|t| t.status_counters, counters)}
                {row(|t| t.status_mail, mail)}
                {row(|t| t.status_users, users)}
                {row(|t| t.status_uptime, uptime)}
            </dl>
        </section>
    }
}

/// `/status`: the instance status on its own.
#[component]
pub fn StatusPage() -> impl IntoView {
    let i18n = use_i18n();
    let status = Resource::new_blocking(|| (), |_| get_instance_status());
    view! {
        <section class="mx-auto max-w-xl">
            <Suspense fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => {
                            let pending = status.setup_required;
                            view! {
                                <StatusCard status />
                                <Show when=move || pending>
                                    <p class="mt-4 text-sm text-amber-700 dark:text-amber-300">
                                        {move || i18n.t().setup_pending_note}
                                    </p>
                                </Show>
                            }
                            .into_any()
                        }
                        Err(e) => view! {
                            <p role="alert" class="text-red-600">{move || i18n.t().api_error(&e.0)}</p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
