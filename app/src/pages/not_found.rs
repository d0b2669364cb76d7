//! The 404 page.

use leptos::prelude::*;

use crate::i18n::use_i18n;

/// Shown for any address the router does not know; the server answers it with status 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let i18n = use_i18n();
    view! {
        <section id="not-found" class="mx-auto max-w-xl py-16 text-center">
            <h1 class="text-3xl font-semibold">{move || i18n.t().not_found_title}</h1>
            <p class="mt-4 text-slate-600 dark:text-slate-300">{move || i18n.t().not_found_body}</p>
            <a class="mt-8 inline-block text-indigo-600 hover:underline dark:text-indigo-400" href="/">
                {move || i18n.t().back_home}
            </a>
        </section>
    }
}
