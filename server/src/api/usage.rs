//! `/api` handlers of usage analytics and the monthly cost split: series and totals, raw
//! records, statements and their fixed costs, each as JSON or CSV.

use std::collections::BTreeMap;

use aicarpool::error::ServiceError;
use aicarpool::model::{ClosePeriodInput, FixedCostInput, UsageQuery};
use aicarpool::{cost_split, usage};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::session::Auth;
use super::{ApiError, Body, Params};
use crate::ServerState;

type ApiResult = Result<Response, ApiError>;

/// Reads the query string, explaining unknown or repeated parameters with a 400.
fn usage_query(query: Result<Query<UsageQuery>, QueryRejection>) -> Result<UsageQuery, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError(ServiceError::BadRequest(format!(
            "bad query string: {}",
            e.body_text()
        )))
    })
}

fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError(ServiceError::BadRequest(format!(
            "format: {other:?} is not json or csv"
        )))),
    }
}

/// A CSV download.
fn csv(body: String, filename: &str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub async fn report(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult {
    let q = usage_query(query)?;
    let as_csv = wants_csv(q.format.as_deref())?;
    let report = usage::report(&state.app, &principal, &q).await?;
    if as_csv {
        Ok(csv(usage::report_csv(&report), "usage.csv"))
    } else {
        Ok(Json(report).into_response())
    }
}

pub async fn records(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult {
    let q = usage_query(query)?;
    if wants_csv(q.format.as_deref())? {
        let body = usage::records_csv(&state.app, &principal, &q).await?;
        Ok(csv(body, "usage-records.csv"))
    } else {
        Ok(Json(usage::records_page(&state.app, &principal, &q).await?).into_response())
    }
}

fn period_of(query: &BTreeMap<String, String>) -> Option<&str> {
    query.get("period").map(String::as_str)
}

pub async fn statement(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Query(query): Query<BTreeMap<String, String>>,
) -> ApiResult {
    let view = cost_split::statement(&state.app, &principal, group_id, period_of(&query)).await?;
    if wants_csv(query.get("format").map(String::as_str))? {
        let name = format!("cost-split-{group_id}-{}.csv", view.period);
        return Ok(csv(cost_split::statement_csv(&view), &name));
    }
    Ok(Json(view).into_response())
}

pub async fn statement_csv(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Query(query): Query<BTreeMap<String, String>>,
) -> ApiResult {
    let view = cost_split::statement(&state.app, &principal, group_id, period_of(&query)).await?;
    let name = format!("cost-split-{group_id}-{}.csv", view.period);
    Ok(csv(cost_split::statement_csv(&view), &name))
}

pub async fn add_fixed(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<FixedCostInput>,
) -> ApiResult {
    let view = cost_split::add_fixed(&state.app, &principal, group_id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn delete_fixed(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params((group_id, fixed_id)): Params<(i64, i64)>,
) -> ApiResult {
    cost_split::delete_fixed(&state.app, &principal, group_id, fixed_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn close(
    State(state): State<ServerState>,
    Auth(principal): Auth,
    Params(group_id): Params<i64>,
    Body(input): Body<ClosePeriodInput>,
) -> ApiResult {
    let view = cost_split::close(&state.app, &principal, group_id, &input.period).await?;
    Ok(Json(view).into_response())
}
