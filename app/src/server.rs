//! Server functions: the browser's calls into the server. Each one reads the [`AppState`]
//! from the Leptos context and goes through the `aicarpool` services, never SQL of its own.
//! The instance status and first-run setup live here; the user's account, groups, invitations,
//! upstream accounts, member keys, routing, limits, usage, the cost split and prices in the
//! submodules.
//!
//! [`AppState`]: aicarpool::state::AppState

pub mod account;
pub mod accounts;
pub mod budget;
pub mod cost_split;
pub mod groups;
pub mod invites;
pub mod keys;
pub mod prices;
#[cfg(feature = "ssr")]
mod ssr;
pub mod usage;

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
