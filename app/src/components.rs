//! Pieces the pages share: a labelled input with live validation, the server error of a form,
//! a submit button with its pending state, a link shown once with a Copy button, and the
//! prompt to sign in.

use aicarpool::api::ApiError;
use aicarpool::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::i18n::{Texts, use_i18n};

/// Tailwind classes of a text input.
pub const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30 aria-[invalid=true]:border-red-500 read-only:bg-slate-100 dark:border-slate-600 dark:bg-slate-900 dark:read-only:bg-slate-800";
/// Tailwind classes of a select.
pub const SELECT: &str = "rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-600 dark:bg-slate-900";
/// Tailwind classes of a card.
pub const CARD: &str = "rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-800";
/// Tailwind classes of the main button of a form.
pub const PRIMARY: &str = "rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 disabled:opacity-60";
/// Tailwind classes of the main button of a narrow form, as wide as the form.
pub const WIDE: &str = "w-full rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 disabled:opacity-60";
/// Tailwind classes of a secondary (small) button.
pub const SECONDARY: &str = "rounded-lg border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-50 disabled:opacity-60 dark:border-slate-600 dark:hover:bg-slate-700";
/// Tailwind classes of a destructive (small) button.
pub const DANGER: &str = "rounded-lg border border-red-300 px-3 py-1.5 text-sm text-red-700 hover:bg-red-50 disabled:opacity-60 dark:border-red-700 dark:text-red-300 dark:hover:bg-red-950";

/// One labelled input with its live validation message. Its id is `{form}-{name}`.
#[component]
pub fn Field(
    /// The label, per locale.
    label: fn(&Texts) -> &'static str,
    /// Prefix of the input's id, usually the form's id.
    form: &'static str,
    /// The form field name (the server function's argument).
    name: &'static str,
    /// `type` of the input.
    #[prop(into)]
    input_type: Signal<&'static str>,
    /// `autocomplete` hint.
    autocomplete: &'static str,
    /// The value as typed; its value when the field is created is the initial value.
    value: RwSignal<String>,
    /// Validation of the value.
    check: Signal<Result<(), FieldError>>,
    /// Extra help under the input.
    #[prop(optional)]
    help: Option<fn(&Texts) -> &'static str>,
    /// The value cannot be changed (it is still submitted).
    #[prop(optional)]
    readonly: bool,
    /// The field may be left empty.
    #[prop(optional)]
    optional: bool,
    /// Anything placed after the input (the show-password button).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let i18n = use_i18n();
    let touched = RwSignal::new(false);
    let error = move || {
        if touched.get() {
            check.get().err().map(|e| i18n.t().field_error(&e))
        } else {
            None
        }
    };
    let id = format!("{form}-{name}");
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium">{move || label(i18n.t())}</label>
            <div class="mt-1 flex gap-2">
                <input
                    id=id
                    name=name
                    type=move || input_type.get()
                    autocomplete=autocomplete
                    required=!optional
                    readonly=readonly
                    value=value.get_untracked()
                    prop:value=move || value.get()
                    aria-invalid=move || error().is_some().to_string()
                    aria-describedby=error_id.clone()
                    class=INPUT
                    on:input=move |ev| value.set(event_target_value(&ev))
                    on:blur=move |_| touched.set(true)
                />
                {children.map(|c| c())}
            </div>
            {help.map(|help| view! { <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || help(i18n.t())}</p> })}
            <p id=error_id class="mt-1 min-h-4 text-xs text-red-600 dark:text-red-400">{error}</p>
        </div>
    }
}

/// A show/hide toggle for password fields; `shown` switches their `type`.
#[component]
pub fn PasswordToggle(
    /// The id of the button.
    #[prop(into)]
    id: String,
    /// True while the passwords are shown.
    shown: RwSignal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button
            id=id
            type="button"
            aria-pressed=move || shown.get().to_string()
            class="shrink-0 rounded-lg border border-slate-300 px-3 text-sm hover:bg-slate-50 dark:border-slate-600 dark:hover:bg-slate-700"
            on:click=move |_| shown.update(|v| *v = !*v)
        >
            {move || if shown.get() { i18n.t().hide_password } else { i18n.t().show_password }}
        </button>
    }
}

/// The `type` of password inputs governed by a [`PasswordToggle`].
pub fn password_type(shown: RwSignal<bool>) -> Signal<&'static str> {
    Signal::derive(move || if shown.get() { "text" } else { "password" })
}

/// The refusal of a form's last submission, in words, where the form shows it.
#[component]
pub fn ErrorNote(
    /// The id of the note.
    #[prop(into)]
    id: String,
    /// The error to show, if any.
    #[prop(into)]
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <p
            id=id
            role="alert"
            class="text-sm text-red-600 dark:text-red-400"
            hidden=move || error.with(Option::is_none)
        >
            {move || error.with(|e| e.as_ref().map(|e| i18n.t().api_error(e)))}
        </p>
    }
}

/// A submit button that says what it is doing while the request runs.
#[component]
pub fn Submit(
    /// The label when idle.
    label: fn(&Texts) -> &'static str,
    /// True while the request runs.
    #[prop(into)]
    pending: Signal<bool>,
    /// Classes (defaults to the primary button).
    #[prop(optional)]
    class: Option<&'static str>,
    /// An id for tests and labels.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button
            type="submit"
            id=id
            disabled=move || pending.get()
            aria-busy=move || pending.get().to_string()
            class=class.unwrap_or(PRIMARY)
        >
            {move || if pending.get() { i18n.t().working } else { label(i18n.t()) }}
        </button>
    }
}

/// A link shown once (it cannot be shown again): a read-only input and a Copy button that puts
/// it on the clipboard. The input's id is `id`, the button's `{id}-copy`.
#[component]
pub fn CopyLink(
    /// The id of the input.
    id: &'static str,
    /// What the link is, per locale.
    label: fn(&Texts) -> &'static str,
    /// The link.
    url: String,
) -> impl IntoView {
    let i18n = use_i18n();
    // None: not tried yet; Some(true): copied; Some(false): the browser refused.
    let copied = RwSignal::new(None::<bool>);
    let copy_id = format!("{id}-copy");
    let on_copy = {
        let url = url.clone();
        move |_| copy_to_clipboard(id, url.clone(), copied)
    };
    view! {
        <div class="rounded-lg border border-emerald-300 bg-emerald-50 p-4 dark:border-emerald-700 dark:bg-emerald-950">
            <label for=id class="block text-sm font-medium">{move || label(i18n.t())}</label>
            <p class="text-xs text-slate-600 dark:text-slate-300">{move || i18n.t().link_shown_once}</p>
            <div class="mt-2 flex gap-2">
                <input id=id type="text" readonly value=url class=INPUT on:focus=move |ev| select_target(&ev) />
                <button id=copy_id type="button" class=SECONDARY on:click=on_copy>
                    {move || match copied.get() {
                        Some(true) => i18n.t().copied,
                        Some(false) => i18n.t().copy_failed,
                        None => i18n.t().copy,
                    }}
                </button>
            </div>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn select_target(ev: &leptos::ev::FocusEvent) {
    use wasm_bindgen::JsCast;
    if let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

#[cfg(not(feature = "hydrate"))]
fn select_target(_ev: &leptos::ev::FocusEvent) {}

/// Writes `url` to the clipboard; when the browser refuses, selects the input so Ctrl+C works.
#[cfg(feature = "hydrate")]
fn copy_to_clipboard(input_id: &'static str, url: String, copied: RwSignal<Option<bool>>) {
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return;
    };
    let select_input = move || {
        if let Some(input) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(input_id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.select();
        }
    };
    let promise = window.navigator().clipboard().write_text(&url);
    leptos::task::spawn_local(async move {
        let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
        if !ok {
            select_input();
        }
        copied.set(Some(ok));
    });
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_input_id: &'static str, _url: String, _copied: RwSignal<Option<bool>>) {}

/// Writes `text` to the clipboard and reports in `copied` whether the browser allowed it.
#[cfg(feature = "hydrate")]
pub fn copy_text(text: String, copied: RwSignal<Option<bool>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = window.navigator().clipboard().write_text(&text);
    leptos::task::spawn_local(async move {
        let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
        copied.set(Some(ok));
    });
}

/// Writes `text` to the clipboard (in the browser only).
#[cfg(not(feature = "hydrate"))]
pub fn copy_text(_text: String, _copied: RwSignal<Option<bool>>) {}

/// Shown where a page needs a signed-in user: links to sign in or register and come back.
#[component]
pub fn SignInPrompt() -> impl IntoView {
    let i18n = use_i18n();
    let location = use_location();
    let next = move || crate::encode_path(&location.pathname.get());
    view! {
        <section id="sign-in-prompt" class="mx-auto max-w-md py-12 text-center">
            <h1 class="text-2xl font-semibold">{move || i18n.t().sign_in_needed_title}</h1>
            <p class="mt-3 text-slate-600 dark:text-slate-300">{move || i18n.t().sign_in_needed_body}</p>
            <div class="mt-6 flex justify-center gap-3">
                <a class=PRIMARY href=move || format!("/login?next={}", next())>{move || i18n.t().sign_in}</a>
                <a class=SECONDARY href=move || format!("/register?next={}", next())>{move || i18n.t().register}</a>
            </div>
        </section>
    }
}

/// A time (ms since the epoch) as `YYYY-MM-DD HH:MM UTC`: the same text on the server and in
/// the browser, so hydration matches.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_709_210_096_000), "2024-02-29 12:34 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
