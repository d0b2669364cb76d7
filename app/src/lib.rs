//! AiCarpool's browser UI: the HTML shell, the layout with navigation and language switch, the
//! pages, and the server functions they call. Compiled twice: with `ssr` into the server, with
//! `hydrate` into the wasm bundle.
#![recursion_limit = "256"]

pub mod charts;
pub mod components;
pub mod error;
pub mod i18n;
pub mod money;
pub mod pages;
pub mod server;
pub mod session;

use aicarpool::i18n::Locale;
use aicarpool::model::GroupRole;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{SsrMode, path};

use crate::i18n::{I18n, initial_locale, use_i18n};
use crate::pages::accounts::AccountsPage;
use crate::pages::auth::{LoginPage, RegisterPage};
use crate::pages::cost_split::CostSplitPage;
use crate::pages::group::GroupPage;
use crate::pages::group_keys::KeysPage;
use crate::pages::groups::GroupsPage;
use crate::pages::invite::InvitePage;
use crate::pages::my_budget::MyBudgetPage;
use crate::pages::prices::PricesPage;
use crate::pages::profile::ProfilePage;
use crate::pages::usage::UsagePage;
use crate::pages::{home::HomePage, not_found::NotFoundPage, status::StatusPage};
use crate::server::account::Logout;
use crate::session::{Session, on_success, use_session};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let locale = initial_locale();
    view! {
        <!DOCTYPE html>
        <html lang=locale.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-900 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

/// The app: layout, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let i18n = I18n::provide(initial_locale());
    Session::provide();
    // Set once the wasm has taken over the server-rendered page; browser tests wait for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/aicarpool.css" />
        <Title text=move || i18n.t().app_name />
        <Router>
            <div id="app" data-hydrated=move || hydrated.get().to_string() class="flex min-h-screen flex-col">
                <Header />
                <main class="mx-auto w-full max-w-5xl flex-1 px-4 py-10">
                    <Routes fallback=NotFoundPage>
                        // InOrder: every Suspense is awaited and rendered into the HTML
                        // in place, so pages work without JavaScript (out-of-order streaming
                        // would need a script to put them in place).
                        <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder />
                        <Route path=path!("/status") view=StatusPage ssr=SsrMode::InOrder />
                        <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder />
                        <Route path=path!("/register") view=RegisterPage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups") view=GroupsPage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups/:id") view=GroupPage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups/:id/keys") view=KeysPage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups/:id/usage") view=UsagePage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups/:id/me") view=MyBudgetPage ssr=SsrMode::InOrder />
                        <Route path=path!("/groups/:id/cost-split") view=CostSplitPage ssr=SsrMode::InOrder />
                        <Route path=path!("/accounts") view=AccountsPage ssr=SsrMode::InOrder />
                        <Route path=path!("/prices") view=PricesPage ssr=SsrMode::InOrder />
                        <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::InOrder />
                        <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::InOrder />
                    </Routes>
                </main>
                <footer class="border-t border-slate-200 py-4 text-center text-xs text-slate-500 dark:border-slate-800">
                    {move || i18n.t().app_name} " " {aicarpool::VERSION} " · " {move || i18n.t().tagline}
                </footer>
            </div>
        </Router>
    }
}

/// Classes of a navigation link (`aria-current` marks the page it leads to).
const NAV_LINK: &str = "rounded-md px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:text-slate-300 dark:hover:bg-slate-800 dark:aria-[current=page]:bg-slate-800 dark:aria-[current=page]:text-white";

/// The top bar: brand, navigation, who is signed in, language switch.
#[component]
fn Header() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    view! {
        <header class="border-b border-slate-200 bg-white/80 backdrop-blur dark:border-slate-800 dark:bg-slate-900/80">
            <div class="mx-auto flex max-w-5xl flex-wrap items-center gap-4 px-4 py-3">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold">
                    <span aria-hidden="true" class="inline-flex h-8 w-8 items-center justify-center rounded-lg bg-indigo-600 text-white">"AI"</span>
                    <span>{move || i18n.t().app_name}</span>
                </a>
                <nav aria-label=move || i18n.t().nav_label class="flex flex-wrap gap-1">
                    <A href="/" exact=true attr:class=NAV_LINK>{move || i18n.t().nav_home}</A>
                    <A href="/status" attr:class=NAV_LINK>{move || i18n.t().nav_status}</A>
                </nav>
                <div class="ml-auto flex flex-wrap items-center gap-2">
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            match session.user.await {
                                Ok(Some(me)) => {
                                    let admin = me.user.role == "admin";
                                    let manages = admin
                                        || me.groups.iter().any(|g| g.role >= GroupRole::Admin);
                                    view! { <SignedIn name=me.user.name manages admin /> }.into_any()
                                }
                                _ => view! { <SignedOut /> }.into_any(),
                            }
                        })}
                    </Transition>
                    <LocaleSwitch />
                </div>
            </div>
        </header>
    }
}

/// The header's part for a signed-in user: their pages (the accounts page for those who
/// manage accounts, the prices page for the system administrator), their name, the logout
/// button.
#[component]
fn SignedIn(name: String, manages: bool, admin: bool) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let logout = ServerAction::<Logout>::new();
    on_success(logout, move |()| session.refresh());
    view! {
        <A href="/groups" attr:id="nav-groups" attr:class=NAV_LINK>{move || i18n.t().nav_groups}</A>
        {manages.then(|| view! {
            <A href="/accounts" attr:id="nav-accounts" attr:class=NAV_LINK>{move || i18n.t().proxy.nav_accounts}</A>
        })}
        {admin.then(|| view! {
            <A href="/prices" attr:id="nav-prices" attr:class=NAV_LINK>{move || i18n.t().money.nav_prices}</A>
        })}
        <A href="/profile" attr:id="nav-profile" attr:class=NAV_LINK>{move || i18n.t().nav_profile}</A>
        <span id="current-user" class="px-2 text-sm font-medium">{name}</span>
        <ActionForm action=logout>
            <input type="hidden" name="next" value="/" />
            <button
                id="logout"
                type="submit"
                disabled=move || logout.pending().get()
                class="rounded-md px-3 py-2 text-sm text-slate-600 hover:bg-slate-100 disabled:opacity-60 dark:text-slate-300 dark:hover:bg-slate-800"
            >
                {move || i18n.t().sign_out}
            </button>
        </ActionForm>
    }
}

/// The header's part for a visitor: sign in, register.
#[component]
fn SignedOut() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <A href="/login" attr:id="nav-login" attr:class=NAV_LINK>{move || i18n.t().sign_in}</A>
        <A href="/register" attr:id="nav-register" attr:class=NAV_LINK>{move || i18n.t().register}</A>
    }
}

/// Links to each language. Without JavaScript they go through `/lang/{code}`, which sets the
/// cookie and comes back; once hydrated they switch in place and set the cookie themselves.
#[component]
fn LocaleSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let location = use_location();
    view! {
        <div role="group" aria-label=move || i18n.t().language class="flex gap-1 text-sm">
            {Locale::ALL
                .into_iter()
                .map(|locale| {
                    let href = move || {
                        format!("/lang/{}?next={}", locale.code(), encode_path(&location.pathname.get()))
                    };
                    view! {
                        <a
                            href=href
                            data-lang=locale.code()
                            hreflang=locale.code()
                            lang=locale.code()
                            aria-current=move || (i18n.locale() == locale).then_some("true")
                            class="rounded-md px-2 py-1 text-slate-600 hover:bg-slate-100 aria-[current=true]:font-semibold aria-[current=true]:text-indigo-700 dark:text-slate-300 dark:hover:bg-slate-800 dark:aria-[current=true]:text-white"
                            on:click=move |ev| {
                                ev.prevent_default();
                                i18n.set_locale(locale);
                            }
                        >
                            {locale.native_name()}
                        </a>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Percent-encodes a path for use as a query value (paths here are ASCII route paths).
pub(crate) fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
