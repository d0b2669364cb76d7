//! Server functions: the browser's calls into the server. Each one reads the [`AppState`]
//! from the Leptos context and goes through the `aicarpool` store, never SQL of its own.
//!
//! [`AppState`]: aicarpool::state::AppState

use aicarpool::api::InstanceStatus;
use leptos::prelude::*;

use crate::error::AppError;

/// The running instance's status, and whether the first-run setup is still open.
#[server(prefix = "/rpc", endpoint = "instance_status")]
pub async fn get_instance_status() -> Result<InstanceStatus, AppError> {
    use crate::error::respond::fail;
    use aicarpool::api::ApiError;

    let state = ssr::app_state()?;
    state.status().await.map_err(|e| {
        tracing::error!(error = %e, "reading the instance status failed");
        fail(ApiError::Unavailable)
    })
}

/// Creates the first system administrator. Needs the setup token from the server log; of two
/// racing submissions exactly one succeeds, and afterwards the form is gone for good.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn create_first_admin(
    token: String,
    email: String,
    name: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    ssr::create_first_admin(token, email, name, password, password_confirm).await
}

#[cfg(feature = "ssr")]
mod ssr {
    use aicarpool::api::{ApiError, SetupField};
    use aicarpool::auth;
    use aicarpool::db::users::{self, NewUser, SystemRole};
    use aicarpool::state::AppState;
    use aicarpool::validate;
    use leptos::prelude::use_context;

    use crate::error::AppError;
    use crate::error::respond::fail;
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
}
