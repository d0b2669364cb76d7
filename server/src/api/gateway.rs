//! `/api` handlers of the chat proxy's configuration: upstream accounts, their bindings to
//! groups, member keys.

use aicarpool::limits::{LimitInput, LimitPatch};
use aicarpool::model::PriceView;
use aicarpool::model::{AccountInput, AccountPatch, BindingInput, KeyInput, RoutingView};
use aicarpool::{accounts, limits, member_keys, routing};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::session::Auth;
use super::{ApiError, Body, Params};
use crate::ServerState;

type ApiResult = Result<Response, ApiError>;

fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

fn created<T: serde::Serialize>(value: T) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

pub async fn list_accounts(State(state): State<ServerState>, Auth(principal): Auth) -> ApiResult {
    ok(accounts::list(&state.app, &principal).await?)
}

pub async fn create_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Body(input): Body<AccountInput>,
) -> ApiResult {
    created(accounts::create(&state.app, &principal, input).await?)
}

pub async fn get_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(accounts::get(&state.app, &principal, id).await?)
}

pub async fn update_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
    Body(patch): Body<AccountPatch>,
) -> ApiResult {
    ok(accounts::update(&state.app, &principal, id, patch).await?)
}

pub async fn delete_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    accounts::delete(&state.app, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn test_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(accounts::test(&state.app, &principal, id).await?)
}

pub async fn list_bindings(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
) -> ApiResult {
    ok(accounts::bindings(&state.app, &principal, group_id).await?)
}

pub async fn bind_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<BindingInput>,
) -> ApiResult {
    created(accounts::bind(&state.app, &principal, group_id, input).await?)
}

pub async fn unbind_account(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((group_id, account_id)): Params<(i64, i64)>,
) -> ApiResult {
    accounts::unbind(&state.app, &principal, group_id, account_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_keys(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
) -> ApiResult {
    ok(member_keys::list(&state.app, &principal, group_id).await?)
}

pub async fn create_key(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<KeyInput>,
) -> ApiResult {
    created(member_keys::create(&state.app, &principal, group_id, input).await?)
}

pub async fn revoke_key(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((group_id, key_id)): Params<(i64, i64)>,
) -> ApiResult {
    ok(member_keys::revoke(&state.app, &principal, group_id, key_id).await?)
}

pub async fn get_routing(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
) -> ApiResult {
    ok(routing::get(&state.app, &principal, group_id).await?)
}

pub async fn put_routing(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<RoutingView>,
) -> ApiResult {
    ok(routing::update(&state.app, &principal, group_id, input).await?)
}

pub async fn list_limits(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
) -> ApiResult {
    ok(limits::list(&state.app, &principal, group_id).await?)
}

pub async fn create_limit(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<LimitInput>,
) -> ApiResult {
    created(limits::create(&state.app, &principal, group_id, input).await?)
}

pub async fn update_limit(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((group_id, id)): Params<(i64, i64)>,
    Body(patch): Body<LimitPatch>,
) -> ApiResult {
    ok(limits::update(&state.app, &principal, group_id, id, patch).await?)
}

pub async fn delete_limit(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((group_id, id)): Params<(i64, i64)>,
) -> ApiResult {
    limits::delete(&state.app, &principal, group_id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{time_zone}`.
#[derive(Debug, serde::Deserialize)]
pub struct TimeZoneBody {
    time_zone: String,
}

pub async fn set_time_zone(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(body): Body<TimeZoneBody>,
) -> ApiResult {
    let zone =
        limits::set_time_zone(&state.app, &principal, group_id, body.time_zone.trim()).await?;
    ok(serde_json::json!({ "time_zone": zone }))
}

pub async fn list_prices(State(state): State<ServerState>, Auth(_principal): Auth) -> ApiResult {
    ok(limits::prices(&state.app).await?)
}

pub async fn set_price(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Body(price): Body<PriceView>,
) -> ApiResult {
    ok(limits::set_price(&state.app, &principal, price).await?)
}

pub async fn delete_price(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(model): Params<String>,
) -> ApiResult {
    limits::delete_price(&state.app, &principal, &model).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
