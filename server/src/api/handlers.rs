//! The `/api` handlers.

use aicarpool::error::ServiceError;
use aicarpool::i18n::Locale;
use aicarpool::model::{AuthView, GroupRole};
use aicarpool::{groups, identity, invites};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::session::{Auth, clear_session_cookie, client_address, session_cookie};
use super::{ApiError, Body, Params};
use crate::ServerState;

type ApiResult = Result<Response, ApiError>;

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn with_session(state: &ServerState, status: StatusCode, auth: AuthView) -> Response {
    let cookie = session_cookie(&state.app, &auth.token);
    let mut response = (status, Json(auth)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

fn created<T: serde::Serialize>(value: T) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{email, password, name}`.
#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    email: String,
    password: String,
    name: String,
    locale: Option<String>,
}

pub async fn register(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Body(body): Body<RegisterBody>,
) -> ApiResult {
    let locale = body
        .locale
        .as_deref()
        .and_then(Locale::from_tag)
        .unwrap_or_else(|| {
            let header = |n| headers.get(n).and_then(|v| v.to_str().ok());
            Locale::for_request(header(header::COOKIE), header(header::ACCEPT_LANGUAGE))
        });
    let auth = identity::register(
        &state.app,
        &body.email,
        &body.password,
        &body.name,
        locale,
        user_agent(&headers),
    )
    .await?;
    Ok(with_session(&state, StatusCode::CREATED, auth))
}

/// `{email, password}`.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
}

pub async fn login(
    State(state): State<ServerState>,
    request: http::Request<axum::body::Body>,
) -> ApiResult {
    let (parts, body) = request.into_parts();
    let client = client_address(&parts.extensions);
    let request = http::Request::from_parts(parts, body);
    let headers = request.headers().clone();
    let Body(body) =
        <Body<LoginBody> as axum::extract::FromRequest<ServerState>>::from_request(request, &state)
            .await?;
    let auth = identity::login(
        &state.app,
        &body.email,
        &body.password,
        &client,
        user_agent(&headers),
    )
    .await?;
    Ok(with_session(&state, StatusCode::OK, auth))
}

pub async fn logout(State(state): State<ServerState>, Auth(principal): Auth) -> ApiResult {
    identity::logout(&state.app, &principal).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

pub async fn me(State(state): State<ServerState>, Auth(principal): Auth) -> ApiResult {
    ok(identity::me(&state.app, &principal).await?)
}

/// `{name?, locale?, currency?}`.
#[derive(Debug, Deserialize)]
pub struct ProfileBody {
    name: Option<String>,
    locale: Option<String>,
    currency: Option<String>,
}

pub async fn update_me(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Body(body): Body<ProfileBody>,
) -> ApiResult {
    // Checked first, so a bad currency changes nothing.
    if let Some(currency) = body.currency.as_deref() {
        aicarpool::currency::parse_currency(currency)?;
    }
    let user = identity::update_profile(
        &state.app,
        &principal,
        body.name.as_deref(),
        body.locale.as_deref(),
    )
    .await?;
    match body.currency.as_deref() {
        Some(currency) => {
            ok(aicarpool::currency::set_currency(&state.app, &principal, currency).await?)
        }
        None => ok(user),
    }
}

/// `{current_password, new_password}`.
#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Auth(principal): Auth,
    Body(body): Body<PasswordBody>,
) -> ApiResult {
    let auth = identity::change_password(
        &state.app,
        &principal,
        &body.current_password,
        &body.new_password,
        user_agent(&headers),
    )
    .await?;
    Ok(with_session(&state, StatusCode::OK, auth))
}

pub async fn list_groups(State(state): State<ServerState>, Auth(principal): Auth) -> ApiResult {
    ok(groups::list(&state.app, &principal).await?)
}

/// `{name, description?}`.
#[derive(Debug, Deserialize)]
pub struct GroupBody {
    name: Option<String>,
    description: Option<String>,
}

pub async fn create_group(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Body(body): Body<GroupBody>,
) -> ApiResult {
    let name = body.name.ok_or(ServiceError::Invalid {
        field: "name",
        error: aicarpool::validate::FieldError::Required,
    })?;
    created(groups::create(&state.app, &principal, &name, body.description.as_deref()).await?)
}

pub async fn get_group(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(groups::get(&state.app, &principal, id).await?)
}

pub async fn update_group(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
    Body(body): Body<GroupBody>,
) -> ApiResult {
    ok(groups::update(
        &state.app,
        &principal,
        id,
        body.name.as_deref(),
        body.description.as_deref(),
    )
    .await?)
}

pub async fn delete_group(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    groups::delete(&state.app, &principal, id).await?;
    no_content()
}

pub async fn list_members(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(groups::members(&state.app, &principal, id).await?)
}

/// `{role}`.
#[derive(Debug, Deserialize)]
pub struct RoleBody {
    role: GroupRole,
}

pub async fn change_role(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((id, user_id)): Params<(i64, i64)>,
    Body(body): Body<RoleBody>,
) -> ApiResult {
    ok(groups::change_role(&state.app, &principal, id, user_id, body.role).await?)
}

pub async fn remove_member(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((id, user_id)): Params<(i64, i64)>,
) -> ApiResult {
    groups::remove_member(&state.app, &principal, id, user_id).await?;
    no_content()
}

pub async fn leave_group(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    groups::leave(&state.app, &principal, id).await?;
    no_content()
}

/// `{user_id}`.
#[derive(Debug, Deserialize)]
pub struct TransferBody {
    user_id: i64,
}

pub async fn transfer_ownership(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
    Body(body): Body<TransferBody>,
) -> ApiResult {
    ok(groups::transfer(&state.app, &principal, id, body.user_id).await?)
}

/// `{email, role?}`.
#[derive(Debug, Deserialize)]
pub struct InviteBody {
    email: String,
    role: Option<GroupRole>,
}

pub async fn invite(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
    Body(body): Body<InviteBody>,
) -> ApiResult {
    created(
        invites::invite(
            &state.app,
            &principal,
            id,
            &body.email,
            body.role.unwrap_or(GroupRole::Member),
        )
        .await?,
    )
}

pub async fn list_invitations(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(invites::list_invitations(&state.app, &principal, id).await?)
}

pub async fn revoke_invitation(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((id, inv)): Params<(i64, i64)>,
) -> ApiResult {
    invites::revoke_invitation(&state.app, &principal, id, inv).await?;
    no_content()
}

pub async fn resend_invitation(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((id, inv)): Params<(i64, i64)>,
) -> ApiResult {
    ok(invites::resend_invitation(&state.app, &principal, id, inv).await?)
}

/// `{role?, max_uses?, expires_in_hours?}`.
#[derive(Debug, Deserialize)]
pub struct LinkBody {
    role: Option<GroupRole>,
    max_uses: Option<i64>,
    expires_in_hours: Option<i64>,
}

pub async fn create_link(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
    Body(body): Body<LinkBody>,
) -> ApiResult {
    created(
        invites::create_link(
            &state.app,
            &principal,
            id,
            body.role.unwrap_or(GroupRole::Member),
            body.max_uses,
            body.expires_in_hours,
        )
        .await?,
    )
}

pub async fn list_links(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(id): Params<i64>,
) -> ApiResult {
    ok(invites::list_links(&state.app, &principal, id).await?)
}

pub async fn revoke_link(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((id, link)): Params<(i64, i64)>,
) -> ApiResult {
    invites::revoke_link(&state.app, &principal, id, link).await?;
    no_content()
}

pub async fn preview_invitation(
    State(state): State<ServerState>,
    Params(token): Params<String>,
) -> ApiResult {
    ok(invites::preview(&state.app, &token).await?)
}

pub async fn accept_invitation(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(token): Params<String>,
) -> ApiResult {
    ok(invites::accept(&state.app, &principal, &token).await?)
}

pub async fn not_found(
    State(state): State<ServerState>,
    method: http::Method,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    headers: http::HeaderMap,
) -> Response {
    // `/api/v1/chat/completions`: a chat client with the base URL set wrong, answered in its
    // dialect with the base URL to use.
    let app_url = &state.app.config().app_url;
    if let Some(answer) = crate::proxy::wrong_base_url(&method, &headers, uri.path(), app_url) {
        return answer;
    }
    let message = format!(
        "{method} {} is not an endpoint of this API (the chat proxy is under /v1: POST /v1/chat/completions, /v1/messages, /v1/responses, GET /v1/models)",
        uri.path()
    );
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": { "code": "not_found", "type": "not_found_error", "message": message } })),
    )
        .into_response()
}
