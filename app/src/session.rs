//! The signed-in user as every part of the UI sees it, and where a sign-in may send the browser
//! next.

use aicarpool::model::MeView;
use leptos::prelude::*;

use crate::error::AppError;
use crate::server::account::current_user;

/// The signed-in user, loaded once per page and again after anything that signs in or out.
#[derive(Clone, Copy)]
pub struct Session {
    /// The user and their groups; `Ok(None)` when signed out.
    pub user: Resource<Result<Option<MeView>, AppError>>,
    changed: RwSignal<u64>,
}

impl Session {
    /// Provides the session context for the app.
    pub fn provide() -> Session {
        let changed = RwSignal::new(0);
        // Blocking: the header and the pages render the right user before any HTML is sent,
        // which also makes them work without JavaScript.
        let user = Resource::new_blocking(move || changed.get(), |_| current_user());
        let session = Session { user, changed };
        provide_context(session);
        session
    }

    /// Loads the user again (after a sign-in, sign-out or profile change).
    pub fn refresh(&self) {
        self.changed.update(|n| *n += 1);
    }
}

/// The session context.
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(Session::provide)
}

/// Runs `f` with the value of each successful run of a server action (in the browser).
pub fn on_success<S, T>(action: ServerAction<S>, f: impl Fn(&T) + 'static)
where
    S: leptos::server_fn::ServerFn<Output = T> + Clone + Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    Effect::new(move |_| {
        action.value().with(|value| {
            if let Some(Ok(value)) = value {
                f(value);
            }
        });
    });
}

/// Runs `f` with the error of each failed run of a server action (in the browser).
pub fn on_error<S>(action: ServerAction<S>, f: impl Fn(&AppError) + 'static)
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Effect::new(move |_| {
        action.value().with(|value| {
            if let Some(Err(e)) = value {
                f(e);
            }
        });
    });
}

/// Where to go after signing in: `next` when it is a path of this site, else `fallback`. Only
/// plain paths pass (`/groups/3`), never `//host`, `/\host` or a full URL.
pub fn safe_next(next: &str, fallback: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok {
        next.to_owned()
    } else {
        fallback.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        assert_eq!(safe_next("/invite/abc", "/groups"), "/invite/abc");
        assert_eq!(safe_next("/groups?x=1", "/"), "/groups?x=1");
        for evil in [
            "",
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "groups",
            "/a b",
            "/é",
        ] {
            assert_eq!(safe_next(evil, "/groups"), "/groups", "{evil:?}");
        }
    }
}
