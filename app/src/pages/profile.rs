//! `/profile`: the display name, language and the currency amounts are shown in, and the
//! password. Changing the password ends every other session of the account; the page says so.

use aicarpool::api::ApiError;
use aicarpool::i18n::Locale;
use aicarpool::model::MeView;
use aicarpool::money::Currency;
use aicarpool::validate;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::{
    CARD, ErrorNote, Field, PasswordToggle, SELECT, SignInPrompt, Submit, password_type,
};
use crate::error::error_from_query;
use crate::i18n::use_i18n;
use crate::server::account::{ChangePassword, UpdateProfile};
use crate::session::{on_success, use_session};

/// `/profile`.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    // Created here, not in the forms: a saved profile reloads the user and so the forms, and
    // the outcome must survive that.
    let save = ServerAction::<UpdateProfile>::new();
    let password = ServerAction::<ChangePassword>::new();
    on_success(save, move |user| {
        if let Some(locale) = Locale::from_tag(&user.locale) {
            i18n.set_locale(locale);
        }
        session.refresh();
    });
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match session.user.await {
                    Ok(Some(me)) => view! {
                        <section class="mx-auto max-w-xl space-y-8">
                            <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().profile_title}</h1>
                            <ProfileForm me action=save />
                            <PasswordForm action=password />
                        </section>
                    }
                    .into_any(),
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
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

/// True for a refusal of the password form (after a plain form post only the field tells).
fn is_password_refusal(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::Service { field: Some(field), .. } if field.contains("password")
    )
}

/// Name and language.
#[component]
fn ProfileForm(me: MeView, action: ServerAction<UpdateProfile>) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let name = RwSignal::new(me.user.name.clone());
    let current = Locale::from_tag(&me.user.locale).unwrap_or_default();
    let currency = me.display.currency;
    let rate = aicarpool::money::rate_text(me.display.cny_per_usd_e4);
    let error = Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(_)) => None,
        None => error_from_query(&query.read()).filter(|e| !is_password_refusal(e)),
    });
    let saved = move || matches!(action.value().get(), Some(Ok(_)));
    view! {
        <div id="profile-form" class=CARD>
            <h2 class="text-lg font-semibold">{move || i18n.t().profile_details}</h2>
            <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">{me.user.email.clone()}</p>
            <ActionForm action>
                <div class="mt-4 space-y-4">
                    <Field
                        label=|t| t.name
                        form="profile-form"
                        name="name"
                        input_type="text"
                        autocomplete="name"
                        value=name
                        check=Signal::derive(move || validate::display_name(&name.get()).map(|_| ()))
                    />
                    <div>
                        <label for="profile-form-locale" class="block text-sm font-medium">{move || i18n.t().language}</label>
                        <select id="profile-form-locale" name="locale" class=format!("mt-1 {SELECT}")>
                            {Locale::ALL
                                .into_iter()
                                .map(|l| view! { <option value=l.code() selected=l == current>{l.native_name()}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="profile-form-currency" class="block text-sm font-medium">{move || i18n.t().money.currency}</label>
                        <select id="profile-form-currency" name="currency" class=format!("mt-1 {SELECT}")>
                            {Currency::ALL
                                .into_iter()
                                .map(|c| view! {
                                    <option value=c.as_str() selected=c == currency>{move || i18n.t().money.currency_name(c)}</option>
                                })
                                .collect_view()}
                        </select>
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || (i18n.t().money.currency_help)(&rate)}</p>
                    </div>
                    <ErrorNote id="profile-form-error" error />
                    <p id="profile-saved" role="status" class="text-sm text-emerald-700 dark:text-emerald-300" hidden=move || !saved()>
                        {move || i18n.t().saved}
                    </p>
                    <Submit label=|t| t.save pending=action.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

/// The password change.
#[component]
fn PasswordForm(action: ServerAction<ChangePassword>) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let shown = RwSignal::new(false);
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    // Empty the fields once the change went through.
    on_success(action, move |()| {
        current.set(String::new());
        new.set(String::new());
        confirm.set(String::new());
    });
    let error = Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(())) => None,
        None => error_from_query(&query.read()).filter(is_password_refusal),
    });
    let changed = move || {
        matches!(action.value().get(), Some(Ok(())))
            || (action.value().with(Option::is_none)
                && query.read().get("password").as_deref() == Some("changed"))
    };
    view! {
        <div id="password-form" class=CARD>
            <h2 class="text-lg font-semibold">{move || i18n.t().change_password}</h2>
            <ActionForm action>
                <div class="mt-4 space-y-4">
                    <Field
                        label=|t| t.current_password
                        form="password-form"
                        name="current_password"
                        input_type=password_type(shown)
                        autocomplete="current-password"
                        value=current
                        check=Signal::derive(move || if current.get().is_empty() { Err(validate::FieldError::Required) } else { Ok(()) })
                    >
                        <PasswordToggle id="password-form-toggle" shown />
                    </Field>
                    <Field
                        label=|t| t.new_password
                        form="password-form"
                        name="new_password"
                        input_type=password_type(shown)
                        autocomplete="new-password"
                        value=new
                        check=Signal::derive(move || validate::password(&new.get()))
                    />
                    <Field
                        label=|t| t.password_confirm
                        form="password-form"
                        name="new_password_confirm"
                        input_type=password_type(shown)
                        autocomplete="new-password"
                        value=confirm
                        check=Signal::derive(move || validate::password_confirm(&new.get(), &confirm.get()))
                    />
                    <ErrorNote id="password-form-error" error />
                    <p id="password-changed" role="status" class="text-sm text-emerald-700 dark:text-emerald-300" hidden=move || !changed()>
                        {move || i18n.t().password_changed}
                    </p>
                    <p class="text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().password_change_note}</p>
                    <Submit label=|t| t.change_password pending=action.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}
