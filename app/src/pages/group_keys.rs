//! `/groups/{id}/keys`: a group's member keys. A member creates keys for themselves and sees
//! their own; owners and admins see every member's. A new key is shown once, with a Copy
//! button and ready-to-paste set-ups for common clients; afterwards only its prefix and last 4
//! characters. A non-member gets the not-found page.

use aicarpool::api::ApiError;
use aicarpool::model::{KeyView, NewKeyView};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::components::{
    CARD, CopyLink, DANGER, ErrorNote, INPUT, SignInPrompt, Submit, format_time,
};
use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::pages::key_snippets::{Client, snippet};
use crate::pages::not_found::NotFoundPage;
use crate::server::keys::{CreateKey, KeysOverview, RevokeKey, load_keys};
use crate::session::{on_error, on_success};

/// The page's actions and what they leave behind; outlives each reload of the list.
#[derive(Clone, Copy)]
struct KeysActions {
    create: ServerAction<CreateKey>,
    revoke: ServerAction<RevokeKey>,
    changed: RwSignal<u64>,
    create_error: RwSignal<Option<ApiError>>,
    list_error: RwSignal<Option<ApiError>>,
    /// The key just created: the only time it is on screen.
    fresh: RwSignal<Option<NewKeyView>>,
}

impl KeysActions {
    fn new() -> Self {
        let a = KeysActions {
            create: ServerAction::new(),
            revoke: ServerAction::new(),
            changed: RwSignal::new(0),
            create_error: RwSignal::new(None),
            list_error: RwSignal::new(None),
            fresh: RwSignal::new(None),
        };
        on_success(a.create, move |new: &NewKeyView| {
            a.fresh.set(Some(new.clone()));
            a.create_error.set(None);
            a.changed.update(|n| *n += 1);
        });
        on_error(a.create, move |e: &AppError| {
            a.create_error.set(Some(e.0.clone()))
        });
        on_success(a.revoke, move |_| {
            a.list_error.set(None);
            a.changed.update(|n| *n += 1);
        });
        on_error(a.revoke, move |e: &AppError| {
            a.list_error.set(Some(e.0.clone()))
        });
        a
    }
}

/// `/groups/{id}/keys`.
#[component]
pub fn KeysPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let actions = KeysActions::new();
    let overview = Resource::new_blocking(
        move || (id.get(), actions.changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => load_keys(id).await,
                None => Err(AppError::not_found()),
            }
        },
    );
    view! {
        <Transition fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(overview)) => view! { <KeysContent overview actions /> }.into_any(),
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

/// The loaded page.
#[component]
fn KeysContent(overview: KeysOverview, actions: KeysActions) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = overview.group.id;
    let group_name = overview.group.name.clone();
    let admin = overview.admin;
    let empty = overview.keys.is_empty();
    let models = (!overview.models.is_empty()).then(|| overview.models.join(", "));
    let app_url = overview.app_url.clone();
    let group_models = overview.models.clone();
    let rows = overview
        .keys
        .into_iter()
        .map(|key| {
            let mine = key.user_id == overview.my_id;
            view! { <KeyRow group_id key admin mine now=overview.now actions /> }
        })
        .collect_view();
    view! {
        <article id="keys" data-group-id=group_id.to_string() class="space-y-8">
            <header class="space-y-2">
                <a href=format!("/groups/{group_id}") class="text-sm text-indigo-600 hover:underline dark:text-indigo-400">
                    "← " {move || i18n.t().proxy.back_to_group}
                </a>
                <h1 class="text-3xl font-semibold tracking-tight">{move || (i18n.t().proxy.keys_title)(&group_name)}</h1>
                <p class="text-slate-600 dark:text-slate-300">{move || i18n.t().proxy.keys_intro}</p>
                {models.map(|m| view! {
                    <p id="group-models" class="text-sm text-slate-500 dark:text-slate-400">
                        {move || i18n.t().proxy.group_models} ": " {m}
                    </p>
                })}
                {admin.then(|| view! { <p class="text-sm text-slate-500">{move || i18n.t().proxy.keys_admin_note}</p> })}
            </header>
            {if overview.member {
                view! { <CreateKeyForm group_id actions /> }.into_any()
            } else {
                view! { <p id="keys-not-member" class="text-slate-600">{move || i18n.t().proxy.keys_not_member}</p> }.into_any()
            }}
            {move || actions.fresh.get().map(|fresh| view! { <FreshKey fresh app_url=app_url.clone() group_models=group_models.clone() /> })}
            <section class="space-y-3">
                <h2 class="text-xl font-semibold">{move || i18n.t().proxy.api_keys}</h2>
                <ErrorNote id="keys-error" error=actions.list_error />
                <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                    <table id="key-list" class="w-full text-left text-sm">
                        <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                            <tr>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().name_generic}</th>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.key}</th>
                                {admin.then(|| view! { <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.owner}</th> })}
                                <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.models}</th>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().expires}</th>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.created}</th>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().proxy.last_used}</th>
                                <th class="px-4 py-2 font-medium">{move || i18n.t().state}</th>
                                <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                    </table>
                    <Show when=move || empty>
                        <p id="no-keys" class="px-4 py-3 text-sm text-slate-500">{move || i18n.t().proxy.keys_empty}</p>
                    </Show>
                </div>
            </section>
        </article>
    }
    .into_any()
}

/// The form that creates a key. Its button waits for the page to hydrate: without JavaScript
/// the answer (the only copy of the key) would be lost.
#[component]
fn CreateKeyForm(group_id: i64, actions: KeysActions) -> impl IntoView {
    let i18n = use_i18n();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let pending = actions.create.pending();
    view! {
        <div id="create-key-form" class=format!("max-w-2xl {CARD}")>
            <h2 class="text-lg font-semibold">{move || i18n.t().proxy.create_key}</h2>
            <ActionForm action=actions.create>
                <input type="hidden" name="id" value=group_id.to_string() />
                <div class="mt-4 space-y-4">
                    <div>
                        <label for="create-key-form-name" class="block text-sm font-medium">{move || i18n.t().proxy.key_name}</label>
                        <input id="create-key-form-name" name="name" type="text" required maxlength="100" autocomplete="off" class=format!("mt-1 {INPUT}") />
                    </div>
                    <div>
                        <label for="create-key-form-models" class="block text-sm font-medium">{move || i18n.t().proxy.key_models}</label>
                        <textarea id="create-key-form-models" name="models" rows="2" class=format!("mt-1 {INPUT}")></textarea>
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().proxy.key_models_help}</p>
                    </div>
                    <div>
                        <label for="create-key-form-expires" class="block text-sm font-medium">{move || i18n.t().proxy.key_expires}</label>
                        <input id="create-key-form-expires" name="expires_on" type="date" class=format!("mt-1 max-w-xs {INPUT}") />
                        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{move || i18n.t().proxy.key_expires_help}</p>
                    </div>
                    <ErrorNote id="create-key-error" error=actions.create_error />
                    <p class="text-xs text-slate-500" hidden=move || hydrated.get()>{move || i18n.t().proxy.keys_need_js}</p>
                    <Submit id="create-key-submit" label=|t| t.proxy.create_key pending=Signal::derive(move || pending.get() || !hydrated.get()) />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

/// The key just created, once, with the client set-ups.
#[component]
fn FreshKey(fresh: NewKeyView, app_url: String, group_models: Vec<String>) -> impl IntoView {
    let i18n = use_i18n();
    let models = fresh.info.models.clone().unwrap_or(group_models);
    let shown = RwSignal::new(Client::Curl);
    let tabs = Client::ALL
        .into_iter()
        .map(|client| {
            view! {
                <button
                    type="button"
                    role="tab"
                    data-snippet=client.slug()
                    aria-selected=move || (shown.get() == client).to_string()
                    class="rounded-md px-3 py-1.5 text-sm aria-[selected=true]:bg-indigo-600 aria-[selected=true]:text-white hover:bg-slate-100 dark:hover:bg-slate-700"
                    on:click=move |_| shown.set(client)
                >
                    {client.title()}
                </button>
            }
        })
        .collect_view();
    let panels = Client::ALL
        .into_iter()
        .map(|client| {
            let text = snippet(client, &app_url, &fresh.key, &models);
            let note = move || match client {
                Client::Curl => i18n.t().proxy.snippet_note_curl,
                Client::OpenAiPython => i18n.t().proxy.snippet_note_openai,
                Client::AnthropicPython => i18n.t().proxy.snippet_note_anthropic,
                Client::ClaudeCode => i18n.t().proxy.snippet_note_claude,
                Client::Codex => i18n.t().proxy.snippet_note_codex,
            };
            view! {
                <div role="tabpanel" hidden=move || shown.get() != client class="space-y-2">
                    <p class="text-sm">{note}</p>
                    <CopyBlock id=format!("snippet-{}", client.slug()) text />
                </div>
            }
        })
        .collect_view();
    view! {
        <section id="fresh-key" class="max-w-3xl space-y-4">
            <CopyLink id="new-key" label=|t| t.proxy.new_key url=fresh.key.clone() />
            <p id="new-key-note" role="status" class="text-sm font-medium text-amber-700 dark:text-amber-300">
                {move || i18n.t().proxy.key_shown_once}
            </p>
            <div class=format!("space-y-3 {CARD}")>
                <h2 class="text-lg font-semibold">{move || i18n.t().proxy.use_it}</h2>
                <div role="tablist" class="flex flex-wrap gap-1">{tabs}</div>
                {panels}
            </div>
        </section>
    }
    .into_any()
}

/// A block of text to paste somewhere, with a Copy button (`{id}-copy`).
#[component]
fn CopyBlock(id: String, text: String) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(None::<bool>);
    let copy_id = format!("{id}-copy");
    let on_copy = {
        let text = text.clone();
        move |_| crate::components::copy_text(text.clone(), copied)
    };
    view! {
        <div class="relative">
            <pre id=id class="overflow-x-auto rounded-lg bg-slate-900 p-4 text-xs text-slate-100"><code>{text}</code></pre>
            <button id=copy_id type="button" class="absolute right-2 top-2 rounded-md bg-slate-700 px-2 py-1 text-xs text-white hover:bg-slate-600" on:click=on_copy>
                {move || match copied.get() {
                    Some(true) => i18n.t().copied,
                    Some(false) => i18n.t().copy_failed,
                    None => i18n.t().copy,
                }}
            </button>
        </div>
    }
}

/// One key in the list: never the key itself.
#[component]
fn KeyRow(
    group_id: i64,
    key: KeyView,
    admin: bool,
    mine: bool,
    now: i64,
    actions: KeysActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let state = if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    };
    let models = key.models.as_ref().map(|m| m.join(", "));
    let expires = key.expires_at;
    let last_used = key.last_used_at;
    let revoke = (state == "active" && (admin || mine)).then(|| {
        view! {
            <details data-test="revoke-key">
                <summary class=format!("inline-block cursor-pointer {DANGER}")>{move || i18n.t().proxy.revoke_key}</summary>
                <ActionForm action=actions.revoke>
                    <input type="hidden" name="id" value=group_id.to_string() />
                    <input type="hidden" name="key_id" value=key.id.to_string() />
                    <label class="mt-2 flex items-center gap-2 text-sm">
                        <input type="checkbox" name="confirm" value="yes" required />
                        {move || i18n.t().proxy.revoke_key_confirm}
                    </label>
                    <div class="mt-2">
                        <Submit label=|t| t.proxy.revoke_for_good pending=actions.revoke.pending() class=DANGER />
                    </div>
                </ActionForm>
            </details>
        }
    });
    view! {
        <tr data-key-id=key.id.to_string() data-key-name=key.name.clone() data-state=state>
            <td class="px-4 py-2 font-medium">{key.name.clone()}</td>
            <td class="px-4 py-2"><code data-test="key-mask">{format!("{}…{}", key.prefix, key.last4)}</code></td>
            {admin.then(|| view! { <td class="px-4 py-2">{key.user_name.clone()}</td> })}
            <td class="px-4 py-2 text-slate-600 dark:text-slate-300">
                {move || models.clone().unwrap_or_else(|| i18n.t().proxy.any_model.to_owned())}
            </td>
            <td class="px-4 py-2 text-slate-500">{move || expires.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}</td>
            <td class="px-4 py-2 text-slate-500">{format_time(key.created_at)}</td>
            <td class="px-4 py-2 text-slate-500">{move || last_used.map(format_time).unwrap_or_else(|| i18n.t().never.to_owned())}</td>
            <td class="px-4 py-2" data-test="key-state">
                {move || match state {
                    "revoked" => i18n.t().proxy.key_revoked,
                    "expired" => i18n.t().proxy.key_expired,
                    _ => i18n.t().proxy.key_active,
                }}
            </td>
            <td class="px-4 py-2"><div class="flex justify-end">{revoke}</div></td>
        </tr>
    }
    .into_any()
}
