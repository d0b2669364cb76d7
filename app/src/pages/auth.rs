//! `/login` and `/register`, and the two forms they are made of (the invitation page reuses
//! them). Both are real forms: without JavaScript the server sets the cookie and redirects.

use aicarpool::api::ApiError;
use aicarpool::validate;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::{CARD, ErrorNote, Field, PasswordToggle, Submit, WIDE, password_type};
use crate::error::error_from_query;
use crate::i18n::use_i18n;
use crate::server::account::{Login, Register};
use crate::session::{on_success, safe_next, use_session};

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let next = next_from_query();
    view! {
        <section class="mx-auto max-w-md">
            <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().login_title}</h1>
            <div class=format!("mt-8 {CARD}")>
                <LoginForm id="login-form" next=next.clone() email=String::new() />
            </div>
            <p class="mt-4 text-center text-sm text-slate-600 dark:text-slate-300">
                {move || i18n.t().no_account} " "
                <a id="to-register" class="text-indigo-600 hover:underline dark:text-indigo-400" href=format!("/register?next={}", crate::encode_path(&next))>
                    {move || i18n.t().register}
                </a>
            </p>
        </section>
    }
    .into_any()
}

/// `/register`.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let i18n = use_i18n();
    let next = next_from_query();
    view! {
        <section class="mx-auto max-w-md">
            <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().register_title}</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-300">{move || i18n.t().register_intro}</p>
            <div class=format!("mt-8 {CARD}")>
                <RegisterForm id="register-form" next=next.clone() email=String::new() email_fixed=false />
            </div>
            <p class="mt-4 text-center text-sm text-slate-600 dark:text-slate-300">
                {move || i18n.t().have_account} " "
                <a id="to-login" class="text-indigo-600 hover:underline dark:text-indigo-400" href=format!("/login?next={}", crate::encode_path(&next))>
                    {move || i18n.t().sign_in}
                </a>
            </p>
        </section>
    }
    .into_any()
}

/// `?next=` of the page, when it is a path of this site.
fn next_from_query() -> String {
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    safe_next(&next, "/groups")
}

/// True for the refusals of a sign-in (as opposed to those of registering).
fn is_login_refusal(error: &ApiError) -> bool {
    matches!(
        error.service_code(),
        Some("invalid_credentials" | "rate_limited")
    )
}

/// The sign-in form. Its error note is `{id}-error`.
#[component]
pub fn LoginForm(
    /// The form's id (also the prefix of its inputs' ids).
    id: &'static str,
    /// Where to go once signed in.
    next: String,
    /// The email to start with.
    email: String,
) -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let action = ServerAction::<Login>::new();
    on_success(action, move |()| session.refresh());
    let shown = RwSignal::new(false);
    let email = RwSignal::new(email);
    let password = RwSignal::new(String::new());
    let error = Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(())) => None,
        // After a plain form post: only the refusals of signing in belong here.
        None => error_from_query(&query.read()).filter(is_login_refusal),
    });
    view! {
        <div id=id>
            <ActionForm action>
                <input type="hidden" name="next" value=next />
                <div class="space-y-4">
                    <Field
                        label=|t| t.email
                        form=id
                        name="email"
                        input_type="email"
                        autocomplete="email"
                        value=email
                        check=Signal::derive(move || validate::email(&email.get()).map(|_| ()))
                    />
                    <Field
                        label=|t| t.password
                        form=id
                        name="password"
                        input_type=password_type(shown)
                        autocomplete="current-password"
                        value=password
                        check=Signal::derive(move || if password.get().is_empty() { Err(validate::FieldError::Required) } else { Ok(()) })
                    >
                        <PasswordToggle id=format!("{id}-toggle-password") shown />
                    </Field>
                    <ErrorNote id=format!("{id}-error") error />
                    <Submit label=|t| t.sign_in pending=action.pending() class=WIDE />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

/// The registration form. With `email_fixed` the email cannot be changed (an invitation for
/// that address). Its error note is `{id}-error`.
#[component]
pub fn RegisterForm(
    /// The form's id (also the prefix of its inputs' ids).
    id: &'static str,
    /// Where to go once registered.
    next: String,
    /// The email to start with.
    email: String,
    /// True when the email must stay as given.
    email_fixed: bool,
) -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let action = ServerAction::<Register>::new();
    on_success(action, move |()| session.refresh());
    let shown = RwSignal::new(false);
    let email = RwSignal::new(email);
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let error = Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(())) => None,
        None => error_from_query(&query.read()).filter(|e| !is_login_refusal(e)),
    });
    view! {
        <div id=id>
            <ActionForm action>
                <input type="hidden" name="next" value=next />
                <div class="space-y-4">
                    <Field
                        label=|t| t.email
                        form=id
                        name="email"
                        input_type="email"
                        autocomplete="email"
                        value=email
                        readonly=email_fixed
                        check=Signal::derive(move || validate::email(&email.get()).map(|_| ()))
                    />
                    <Field
                        label=|t| t.name
                        form=id
                        name="name"
                        input_type="text"
                        autocomplete="name"
                        value=name
                        check=Signal::derive(move || validate::display_name(&name.get()).map(|_| ()))
                    />
                    <Field
                        label=|t| t.password
                        form=id
                        name="password"
                        input_type=password_type(shown)
                        autocomplete="new-password"
                        value=password
                        check=Signal::derive(move || validate::password(&password.get()))
                    >
                        <PasswordToggle id=format!("{id}-toggle-password") shown />
                    </Field>
                    <Field
                        label=|t| t.password_confirm
                        form=id
                        name="password_confirm"
                        input_type=password_type(shown)
                        autocomplete="new-password"
                        value=confirm
                        check=Signal::derive(move || validate::password_confirm(&password.get(), &confirm.get()))
                    />
                    <ErrorNote id=format!("{id}-error") error />
                    <Submit label=|t| t.register pending=action.pending() class=WIDE />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}
