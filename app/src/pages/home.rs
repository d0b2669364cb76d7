//! `/`: the first-run setup form while no administrator exists, the instance status after.

use aicarpool::api::{ApiError, SetupField};
use aicarpool::validate;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::Field;
use crate::error::error_from_code;
use crate::i18n::use_i18n;
use crate::pages::status::StatusCard;
use crate::server::{CreateFirstAdmin, get_instance_status};

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    let setup = ServerAction::<CreateFirstAdmin>::new();
    // Refetch the status only when setup succeeded, so a refused attempt keeps what was typed.
    let succeeded = Memo::new(move |_| setup.value().with(|v| matches!(v, Some(Ok(())))));
    let status = Resource::new_blocking(move || succeeded.get(), |_| get_instance_status());

    view! {
        <Suspense fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(status) if status.setup_required => view! { <SetupForm action=setup /> }.into_any(),
                    Ok(status) => view! {
                        <section class="mx-auto max-w-xl space-y-6">
                            <div>
                                <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().ready_title}</h1>
                                <p class="mt-2 text-slate-600 dark:text-slate-300">{move || i18n.t().ready_intro}</p>
                            </div>
                            <StatusCard status />
                        </section>
                    }
                    .into_any(),
                    Err(e) => view! {
                        <p role="alert" class="text-red-600">{move || i18n.t().api_error(&e.0)}</p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// The first-run form. A real HTML form: it also works before the wasm has loaded.
#[component]
fn SetupForm(action: ServerAction<CreateFirstAdmin>) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let show_password = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());

    let server_error = move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(())) => None,
        None => query
            .read()
            .get("error")
            .and_then(|code| error_from_code(&code)),
    };
    let server_error_text = move || {
        server_error().map(|e| match &e {
            ApiError::InvalidField { field, error } => {
                let t = i18n.t();
                let label = match field {
                    SetupField::Token => t.setup_token,
                    SetupField::Email => t.email,
                    SetupField::Name => t.name,
                    SetupField::Password => t.password,
                    SetupField::PasswordConfirm => t.password_confirm,
                };
                format!("{label}: {}", t.field_error(error))
            }
            other => i18n.t().api_error(other),
        })
    };
    let password_type = Signal::derive(move || {
        if show_password.get() {
            "text"
        } else {
            "password"
        }
    });

    view! {
        <section class="mx-auto max-w-xl">
            <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().setup_title}</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-300">{move || i18n.t().setup_intro}</p>
            <div id="setup-form" class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-800">
                <ActionForm action=action>
                    <div class="space-y-4">
                        <Field
                            form="setup"
                            label=|t| t.setup_token
                            name="token"
                            input_type="text"
                            autocomplete="off"
                            value=RwSignal::new(String::new())
                            check=Signal::derive(|| Ok(()))
                            help=|t| t.setup_token_help
                        />
                        <Field
                            form="setup"
                            label=|t| t.email
                            name="email"
                            input_type="email"
                            autocomplete="email"
                            value=email
                            check=Signal::derive(move || validate::email(&email.get()).map(|_| ()))
                        />
                        <Field
                            form="setup"
                            label=|t| t.name
                            name="name"
                            input_type="text"
                            autocomplete="name"
                            value=name
                            check=Signal::derive(move || validate::display_name(&name.get()).map(|_| ()))
                        />
                        <Field
                            form="setup"
                            label=|t| t.password
                            name="password"
                            input_type=password_type
                            autocomplete="new-password"
                            value=password
                            check=Signal::derive(move || validate::password(&password.get()))
                        >
                            <button
                                id="toggle-password"
                                type="button"
                                aria-pressed=move || show_password.get().to_string()
                                class="shrink-0 rounded-lg border border-slate-300 px-3 text-sm hover:bg-slate-50 dark:border-slate-600 dark:hover:bg-slate-700"
                                on:click=move |_| show_password.update(|v| *v = !*v)
                            >
                                {move || if show_password.get() { i18n.t().hide_password } else { i18n.t().show_password }}
                            </button>
                        </Field>
                        <Field
                            form="setup"
                            label=|t| t.password_confirm
                            name="password_confirm"
                            input_type=password_type
                            autocomplete="new-password"
                            value=confirm
                            check=Signal::derive(move || validate::password_confirm(&password.get(), &confirm.get()))
                        />
                        <p id="setup-error" role="alert" class="text-sm text-red-600 dark:text-red-400" hidden=move || server_error().is_none()>
                            {server_error_text}
                        </p>
                        <button
                            type="submit"
                            disabled=move || action.pending().get()
                            class="w-full rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 disabled:opacity-60"
                        >
                            {move || if action.pending().get() { i18n.t().setup_submitting } else { i18n.t().setup_submit }}
                        </button>
                    </div>
                </ActionForm>
            </div>
        </section>
    }
}
