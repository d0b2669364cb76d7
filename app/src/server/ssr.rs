//! Server-side support of the server functions: the state, the caller's session, cookies,
//! redirects; and the first-run setup, which predates the services.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use aicarpool::api::{ApiError, SetupField};
use aicarpool::auth;
use aicarpool::db::users::{self, NewUser, SystemRole};
use aicarpool::error::ServiceError;
use aicarpool::i18n::Locale;
use aicarpool::identity::{self, Principal};
use aicarpool::model::GroupRole;
use aicarpool::state::AppState;
use aicarpool::validate;
use aicarpool::web::{self, same_site, session_token};
use axum::extract::ConnectInfo;
use http::request::Parts;
use http::{HeaderValue, header};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::error::AppError;
use crate::error::respond::{fail, service};
use crate::i18n::initial_locale;

/// The state the server put in the Leptos context.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        fail(ApiError::Internal)
    })
}

fn invalid(field: SetupField) -> impl Fn(validate::FieldError) -> AppError {
    move |error| fail(ApiError::InvalidField { field, error })
}

/// The first-run setup: see [`crate::server::create_first_admin`].
pub async fn create_first_admin(
    token: String,
    email: String,
    name: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    let state = app_state()?;
    // The token is checked before anything else, so a stranger learns nothing, not even
    // whether their email would have been accepted.
    if !state.setup().check(&token) {
        let done = users::setup_completed(state.db()).await.unwrap_or(false);
        return Err(fail(if done || !state.setup().is_open() {
            ApiError::SetupAlreadyDone
        } else {
            ApiError::SetupTokenInvalid
        }));
    }
    let email = validate::email(&email).map_err(invalid(SetupField::Email))?;
    let name = validate::display_name(&name).map_err(invalid(SetupField::Name))?;
    validate::password(&password).map_err(invalid(SetupField::Password))?;
    validate::password_confirm(&password, &password_confirm)
        .map_err(invalid(SetupField::PasswordConfirm))?;

    let password_hash = auth::hash_password(password).await.map_err(|e| {
        tracing::error!(error = %e, "hashing the first admin's password failed");
        fail(ApiError::Internal)
    })?;
    let user = NewUser {
        email,
        name,
        password_hash,
        role: SystemRole::Admin,
        locale: initial_locale().code().to_owned(),
    };
    match users::create_first_admin(state.db(), &user).await {
        Ok(Some(id)) => {
            state.setup().close();
            tracing::info!(user_id = id, email = %user.email, "first-run setup complete: administrator created");
            Ok(())
        }
        Ok(None) => {
            state.setup().close();
            Err(fail(ApiError::SetupAlreadyDone))
        }
        Err(e) => {
            tracing::error!(error = %e, "creating the first admin failed");
            Err(fail(ApiError::Unavailable))
        }
    }
}

/// The request being served.
fn parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from the Leptos context");
        fail(ApiError::Internal)
    })
}

/// The caller, if signed in. A missing, expired or revoked session is "signed out", not an
/// error; a stale cookie is cleared on the way.
pub async fn caller(state: &AppState) -> Result<Option<Principal>, AppError> {
    let Some((token, by_cookie)) = session_token(&parts()?.headers) else {
        return Ok(None);
    };
    match identity::authenticate(state, &token).await {
        Ok(principal) => Ok(Some(principal)),
        Err(ServiceError::Unauthenticated) => {
            if by_cookie {
                clear_session_cookie();
            }
            Ok(None)
        }
        Err(e) => Err(service(e)),
    }
}

/// The caller of a read; "sign in first" when signed out.
pub async fn signed_in(state: &AppState) -> Result<Principal, AppError> {
    caller(state)
        .await?
        .ok_or_else(|| service(ServiceError::Unauthenticated))
}

/// The caller of a change. A change carried by the session cookie must come from this site.
pub async fn signed_in_for_change(state: &AppState) -> Result<Principal, AppError> {
    let by_cookie = session_token(&parts()?.headers).is_some_and(|(_, by_cookie)| by_cookie);
    if by_cookie {
        require_same_site(state)?;
    }
    signed_in(state).await
}

/// Refuses a post that comes from another site (checked by Origin, then Referer).
pub fn require_same_site(state: &AppState) -> Result<(), AppError> {
    if same_site(&parts()?.headers, &state.config().app_url) {
        Ok(())
    } else {
        Err(service(ServiceError::Forbidden(
            "cross-site request refused: send the form from this site".into(),
        )))
    }
}

/// Adds a `Set-Cookie` header to the response.
fn set_cookie(value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(header::SET_COOKIE, value);
    }
}

/// Sets the session cookie for a new session.
pub fn set_session_cookie(state: &AppState, token: &str) {
    match web::session_cookie(&state.config().app_url, token) {
        Some(value) => set_cookie(value),
        None => tracing::error!("the session token does not fit in a cookie"),
    }
}

/// Removes the session cookie.
pub fn clear_session_cookie() {
    set_cookie(web::clear_session_cookie());
}

/// Remembers a language in the same cookie the language switch sets.
pub fn set_locale_cookie(locale: Locale) {
    let value = format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        aicarpool::i18n::LOCALE_COOKIE,
        locale.code()
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        set_cookie(value);
    }
}

/// The caller's `User-Agent`, stored with a new session.
pub fn user_agent() -> Option<String> {
    parts()
        .ok()?
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The client's IP address for login throttling (`unknown` when the server was not started with
/// connection info, as in router tests).
pub fn client_address() -> String {
    parts()
        .ok()
        .and_then(|p| {
            p.extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Sends the browser to a path of this site once the server function is done: a real redirect
/// for a plain form post, a client-side navigation once hydrated.
pub fn redirect(path: &str) {
    if HeaderValue::from_str(path).is_ok() {
        leptos_axum::redirect(path);
    } else {
        tracing::warn!(path, "not redirecting to a path that is not a header value");
    }
}

/// A role from a form.
pub fn parse_role(value: &str) -> Result<GroupRole, ServiceError> {
    GroupRole::parse(value).ok_or_else(|| {
        ServiceError::BadInput(format!("role: {value:?} is not member, admin or owner"))
    })
}

/// An optional whole number from a form: empty means `None`.
pub fn optional_number(field: &str, value: &str) -> Result<Option<i64>, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        ServiceError::BadInput(format!("{field}: enter a whole number or leave it empty"))
    })
}

/// A list typed into a textarea: comma or newline separated, blanks dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Model aliases typed one per line as `alias=model`; blank lines are skipped.
pub fn parse_aliases(value: &str) -> Result<BTreeMap<String, String>, ServiceError> {
    let mut out = BTreeMap::new();
    for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((alias, model)) = line.split_once('=') else {
            return Err(ServiceError::Invalid {
                field: "model_aliases",
                error: validate::FieldError::Rule(format!(
                    "write each alias as alias=model (not {line:?})"
                )),
            });
        };
        out.insert(alias.trim().to_owned(), model.trim().to_owned());
    }
    Ok(out)
}

/// An optional number from a form that must fit `T`: empty means `None`.
pub fn optional_in<T: TryFrom<i64>>(
    field: &'static str,
    value: &str,
) -> Result<Option<T>, ServiceError> {
    optional_number(field, value)?
        .map(|n| {
            T::try_from(n).map_err(|_| ServiceError::Invalid {
                field,
                error: validate::FieldError::Rule("is out of range".to_owned()),
            })
        })
        .transpose()
}

/// A refusal of one form field, with the rule it broke.
pub fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: validate::FieldError::Rule(text.into()),
    }
}
