//! `/groups`: the caller's groups and the form that creates one.

use aicarpool::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::{CARD, ErrorNote, Field, INPUT, SignInPrompt, Submit};
use crate::error::error_from_query;
use crate::i18n::use_i18n;
use crate::server::groups::{CreateGroup, list_groups};

/// Longest group name (the server's rule is `aicarpool::groups::GROUP_NAME_MAX`).
pub const GROUP_NAME_MAX: usize = 100;
/// Longest group description (`aicarpool::groups::GROUP_DESCRIPTION_MAX`).
pub const GROUP_DESCRIPTION_MAX: usize = 1000;

/// The group-name rule, for validation as you type (the server checks again).
pub fn check_group_name(name: &str) -> Result<(), FieldError> {
    let name = name.trim();
    if name.is_empty() {
        Err(FieldError::Required)
    } else if name.chars().count() > GROUP_NAME_MAX {
        Err(FieldError::TooLong {
            max: GROUP_NAME_MAX,
        })
    } else if name.chars().any(char::is_control) {
        Err(FieldError::ControlChars)
    } else {
        Ok(())
    }
}

/// `/groups`.
#[component]
pub fn GroupsPage() -> impl IntoView {
    let i18n = use_i18n();
    let groups = Resource::new_blocking(|| (), |_| list_groups());
    view! {
        <Suspense fallback=move || view! { <p>{move || i18n.t().loading}</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Ok(Some(list)) => {
                        let empty = list.is_empty();
                        view! {
                            <section class="space-y-8">
                                <h1 class="text-3xl font-semibold tracking-tight">{move || i18n.t().groups_title}</h1>
                                <Show when=move || empty>
                                    <p id="no-groups" class="text-slate-600 dark:text-slate-300">{move || i18n.t().groups_empty}</p>
                                </Show>
                                <ul id="group-list" class="grid gap-3 sm:grid-cols-2">
                                    {list
                                        .into_iter()
                                        .map(|g| {
                                            let role = g.role;
                                            let count = g.member_count;
                                            view! {
                                                <li data-group-id=g.id.to_string()>
                                                    <a href=format!("/groups/{}", g.id) class=format!("block hover:border-indigo-400 {CARD}")>
                                                        <span class="block text-lg font-medium">{g.name}</span>
                                                        <span class="mt-1 block text-sm text-slate-600 dark:text-slate-300">
                                                            {move || role.map(|r| i18n.t().role(r)).unwrap_or_default()}
                                                            " · "
                                                            {move || (i18n.t().member_count)(count)}
                                                        </span>
                                                    </a>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                                <CreateGroupForm />
                            </section>
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
    }
    .into_any()
}

/// Creates a group; the server then opens its page.
#[component]
fn CreateGroupForm() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let action = ServerAction::<CreateGroup>::new();
    let name = RwSignal::new(String::new());
    let error = Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e.0),
        Some(Ok(_)) => None,
        None => error_from_query(&query.read()),
    });
    view! {
        <div id="create-group-form" class=format!("max-w-xl {CARD}")>
            <h2 class="text-lg font-semibold">{move || i18n.t().create_group}</h2>
            <ActionForm action>
                <div class="mt-4 space-y-4">
                    <Field
                        label=|t| t.group_name
                        form="create-group-form"
                        name="name"
                        input_type="text"
                        autocomplete="off"
                        value=name
                        check=Signal::derive(move || check_group_name(&name.get()))
                    />
                    <div>
                        <label for="create-group-form-description" class="block text-sm font-medium">
                            {move || i18n.t().group_description}
                        </label>
                        <textarea
                            id="create-group-form-description"
                            name="description"
                            rows="3"
                            maxlength=GROUP_DESCRIPTION_MAX.to_string()
                            class=format!("mt-1 {INPUT}")
                        ></textarea>
                    </div>
                    <ErrorNote id="create-group-form-error" error />
                    <Submit label=|t| t.create_group pending=action.pending() />
                </div>
            </ActionForm>
        </div>
    }
    .into_any()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_limits_are_the_servers() {
        assert_eq!(super::GROUP_NAME_MAX, aicarpool::groups::GROUP_NAME_MAX);
        assert_eq!(
            super::GROUP_DESCRIPTION_MAX,
            aicarpool::groups::GROUP_DESCRIPTION_MAX
        );
    }
}
