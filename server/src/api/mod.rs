//! The JSON API under `/api` (the seed's paths): accounts and sessions, groups and members,
//! invitations, upstream accounts and member keys, and the seed's proxy aliases
//! `/api/chat/completions` and `/api/models`. Handlers only translate HTTP to the `aicarpool` services and back.

mod error;
mod gateway;
mod handlers;
pub mod session;
mod settings;
mod usage;

use axum::Router;
use axum::extract::FromRequest;
use axum::routing::{get, post, put};

pub use error::ApiError;

use crate::ServerState;

/// A JSON body whose rejections answer in the API's error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// Path parameters whose rejections answer in the API's error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Params<T>(pub T);

/// The `/api` routes.
pub fn routes() -> Router<ServerState> {
    use handlers::*;
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me).put(update_me))
        .route("/auth/password", post(change_password))
        .route("/groups", get(list_groups).post(create_group))
        .route(
            "/groups/{id}",
            get(get_group).put(update_group).delete(delete_group),
        )
        .route("/groups/{id}/members", get(list_members))
        .route(
            "/groups/{id}/members/{user_id}",
            put(change_role).delete(remove_member),
        )
        .route("/groups/{id}/leave", post(leave_group))
        .route("/groups/{id}/transfer", post(transfer_ownership))
        .route("/groups/{id}/invite", post(invite))
        .route(
            "/groups/{id}/invitations",
            get(list_invitations).post(invite),
        )
        .route(
            "/groups/{id}/invitations/{inv}",
            axum::routing::delete(revoke_invitation),
        )
        .route(
            "/groups/{id}/invitations/{inv}/resend",
            post(resend_invitation),
        )
        .route(
            "/groups/{id}/invite-links",
            get(list_links).post(create_link),
        )
        .route(
            "/groups/{id}/invite-links/{link}",
            axum::routing::delete(revoke_link),
        )
        .route(
            "/accounts",
            get(gateway::list_accounts).post(gateway::create_account),
        )
        .route(
            "/accounts/{id}",
            get(gateway::get_account)
                .put(gateway::update_account)
                .delete(gateway::delete_account),
        )
        .route("/accounts/{id}/test", post(gateway::test_account))
        .route(
            "/groups/{id}/accounts",
            get(gateway::list_bindings).post(gateway::bind_account),
        )
        .route(
            "/groups/{id}/accounts/{account_id}",
            axum::routing::delete(gateway::unbind_account),
        )
        .route(
            "/groups/{id}/limits",
            get(gateway::list_limits).post(gateway::create_limit),
        )
        .route(
            "/groups/{id}/limits/{limit_id}",
            put(gateway::update_limit).delete(gateway::delete_limit),
        )
        .route("/groups/{id}/time-zone", put(gateway::set_time_zone))
        .route("/prices", get(gateway::list_prices).put(gateway::set_price))
        .route(
            "/settings",
            get(settings::get_settings).put(settings::put_settings),
        )
        .route(
            "/prices/{model}",
            axum::routing::delete(gateway::delete_price),
        )
        .route(
            "/groups/{id}/routing",
            get(gateway::get_routing).put(gateway::put_routing),
        )
        .route(
            "/groups/{id}/keys",
            get(gateway::list_keys).post(gateway::create_key),
        )
        .route(
            "/groups/{id}/keys/{key_id}",
            axum::routing::delete(gateway::revoke_key),
        )
        .route("/usage", get(usage::report))
        .route("/usage/records", get(usage::records))
        .route("/groups/{id}/cost-split", get(usage::statement))
        .route("/groups/{id}/cost-split.csv", get(usage::statement_csv))
        .route("/groups/{id}/cost-split/fixed", post(usage::add_fixed))
        .route(
            "/groups/{id}/cost-split/fixed/{fixed_id}",
            axum::routing::delete(usage::delete_fixed),
        )
        .route("/groups/{id}/cost-split/close", post(usage::close))
        .route(
            "/chat/completions",
            crate::proxy::only(
                http::Method::POST,
                post(crate::proxy::chat_completions)
                    .layer(axum::extract::DefaultBodyLimit::disable()),
                aicarpool::gateway::Dialect::OpenAi,
            )
            .layer::<_, std::convert::Infallible>(crate::proxy::cors()),
        )
        .route(
            "/models",
            crate::proxy::only(
                http::Method::GET,
                get(crate::proxy::models),
                aicarpool::gateway::Dialect::OpenAi,
            )
            .layer::<_, std::convert::Infallible>(crate::proxy::cors()),
        )
        .route(
            "/models/{*id}",
            crate::proxy::only(
                http::Method::GET,
                get(crate::proxy::model),
                aicarpool::gateway::Dialect::OpenAi,
            )
            .layer::<_, std::convert::Infallible>(crate::proxy::cors()),
        )
        .route("/invitations/{token}", get(preview_invitation))
        .route("/invitations/{token}/accept", post(accept_invitation))
        .fallback(not_found)
}
