//! Server functions of accounts: who is signed in, registering, signing in and out, the
//! profile and the password. Signing in sets the HttpOnly session cookie; every post must come
//! from this site.

use aicarpool::model::{MeView, UserView};
use leptos::prelude::*;

use crate::error::AppError;

/// The signed-in user and their groups; `None` when signed out (that is not an error).
#[server(prefix = "/rpc", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<MeView>, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    match ssr::caller(&state).await? {
        Some(principal) => Ok(Some(aicarpool::identity::me(&state, &principal).await?)),
        None => Ok(None),
    }
}

/// Creates an account in the reader's language, signs it in and goes to `next` (a path of this
/// site; `/groups` otherwise).
#[server(prefix = "/rpc", endpoint = "register")]
pub async fn register(
    email: String,
    name: String,
    password: String,
    password_confirm: String,
    next: String,
) -> Result<(), AppError> {
    use super::ssr;
    use aicarpool::error::ServiceError;
    use aicarpool::validate;

    let state = ssr::app_state()?;
    ssr::require_same_site(&state)?;
    // The shared rules first, in the order of the form, so the first wrong field is named.
    validate::email(&email).map_err(ServiceError::invalid("email"))?;
    validate::display_name(&name).map_err(ServiceError::invalid("name"))?;
    validate::password(&password).map_err(ServiceError::invalid("password"))?;
    validate::password_confirm(&password, &password_confirm)
        .map_err(ServiceError::invalid("password_confirm"))?;
    let auth = aicarpool::identity::register(
        &state,
        &email,
        &password,
        &name,
        crate::i18n::initial_locale(),
        ssr::user_agent().as_deref(),
    )
    .await?;
    ssr::set_session_cookie(&state, &auth.token);
    ssr::redirect(&crate::session::safe_next(&next, "/groups"));
    Ok(())
}

/// Signs in and goes to `next` (a path of this site; `/groups` otherwise). Failures are
/// throttled per account and per client address.
#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    ssr::require_same_site(&state)?;
    let auth = aicarpool::identity::login(
        &state,
        &email,
        &password,
        &ssr::client_address(),
        ssr::user_agent().as_deref(),
    )
    .await?;
    ssr::set_session_cookie(&state, &auth.token);
    ssr::redirect(&crate::session::safe_next(&next, "/groups"));
    Ok(())
}

/// Ends the session (it stops working at once), clears the cookie and goes to `next` (`/`
/// unless it is a path of this site).
#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout(next: String) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    ssr::require_same_site(&state)?;
    if let Some(principal) = ssr::caller(&state).await? {
        aicarpool::identity::logout(&state, &principal).await?;
    }
    ssr::clear_session_cookie();
    ssr::redirect(&crate::session::safe_next(&next, "/"));
    Ok(())
}

/// Saves the display name, the language and (when given) the currency amounts are shown in;
/// the language is also remembered for this browser.
#[server(prefix = "/rpc", endpoint = "update_profile")]
pub async fn update_profile(
    name: String,
    locale: String,
    #[server(default)] currency: Option<String>,
) -> Result<UserView, AppError> {
    use super::ssr;
    use aicarpool::i18n::Locale;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    // Checked first, so a bad currency changes nothing.
    if let Some(currency) = currency.as_deref() {
        aicarpool::currency::parse_currency(currency)?;
    }
    let mut user =
        aicarpool::identity::update_profile(&state, &principal, Some(&name), Some(&locale)).await?;
    if let Some(currency) = currency.as_deref() {
        user = aicarpool::currency::set_currency(&state, &principal, currency).await?;
    }
    if let Some(locale) = Locale::from_tag(&user.locale) {
        ssr::set_locale_cookie(locale);
    }
    Ok(user)
}

/// Changes the password. Every session of the account ends, other devices included; this
/// browser gets a fresh one and comes back to `/profile?password=changed`.
#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    use super::ssr;
    use aicarpool::error::ServiceError;
    use aicarpool::validate;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    validate::password(&new_password).map_err(ServiceError::invalid("new_password"))?;
    validate::password_confirm(&new_password, &new_password_confirm)
        .map_err(ServiceError::invalid("new_password_confirm"))?;
    let auth = aicarpool::identity::change_password(
        &state,
        &principal,
        &current_password,
        &new_password,
        ssr::user_agent().as_deref(),
    )
    .await?;
    ssr::set_session_cookie(&state, &auth.token);
    ssr::redirect(PASSWORD_CHANGED_PATH);
    Ok(())
}

/// Where a password change comes back to; the profile page says what happened.
pub const PASSWORD_CHANGED_PATH: &str = "/profile?password=changed";
