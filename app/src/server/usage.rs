//! Server functions of usage analytics: the usage page's report (series by member, model or
//! account over a date range, and latency per account) and the member's own view (the limits
//! that apply to them, their usage this month, their line of the month's cost split). Who sees
//! whose usage is the service's rule: a member their own, owners and admins everyone's.

use aicarpool::model::{CostLine, GroupView, LimitView, UsageReport};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the usage page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageOverview {
    /// The group.
    pub group: GroupView,
    /// The caller sees every member's usage (owner, admin, system admin).
    pub admin: bool,
    /// The series asked for.
    pub report: UsageReport,
    /// The same range by account, for latency.
    pub latency: UsageReport,
    /// The first day shown, `YYYY-MM-DD` in the group's time zone.
    pub from_date: String,
    /// The last day shown.
    pub to_date: String,
    /// The CSV export of the report.
    pub csv_url: String,
}

/// The member's own view of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyOverview {
    /// The group.
    pub group: GroupView,
    /// The limits that apply to the caller, with what is left.
    pub limits: Vec<LimitView>,
    /// The caller's usage this month, by model and day.
    pub month: UsageReport,
    /// This month, `YYYY-MM`.
    pub period: String,
    /// The caller's line of this month's cost split, if they have one.
    pub statement: Option<CostLine>,
    /// Whom the caller pays (the group's payee).
    pub payee: Option<String>,
    /// The month is closed.
    pub closed: bool,
}

/// A day (`YYYY-MM-DD`) as the ms of its start in a zone `offset_minutes` east of UTC.
pub fn day_ms(date: &str, offset_minutes: i32) -> Option<i64> {
    let mut parts = date.trim().splitn(3, '-').map(str::parse::<i64>);
    let (y, m, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(
        aicarpool::timefmt::days_from_civil(y, m, d) * 86_400_000
            - i64::from(offset_minutes) * 60_000,
    )
}

/// The local day of `ms` as `YYYY-MM-DD`.
pub fn date_of(ms: i64, offset_minutes: i32) -> String {
    let day = (ms + i64::from(offset_minutes) * 60_000).div_euclid(86_400_000);
    let (y, m, d) = aicarpool::timefmt::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The usage page of group `id`: `from` and `to` are days (`YYYY-MM-DD`, both included; empty
/// for the last 7 days), `bucket` `hour` or `day`, `by` `member`, `model` or `account`.
#[server(prefix = "/rpc", endpoint = "load_usage")]
pub async fn load_usage(
    id: i64,
    from: String,
    to: String,
    bucket: String,
    by: String,
) -> Result<Option<UsageOverview>, AppError> {
    use super::ssr;
    use aicarpool::model::{GroupRole, UsageQuery};

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let access = aicarpool::groups::access(&state, &principal, id).await?;
    let group = aicarpool::groups::get(&state, &principal, id).await?;
    let admin = access.effective >= GroupRole::Admin;
    let base = UsageQuery {
        group_id: Some(id.to_string()),
        ..UsageQuery::default()
    };
    let offset = aicarpool::usage::scope(&state, &principal, &base)
        .await?
        .offset_minutes;
    let from_ms = match from.trim() {
        "" => None,
        day => Some(day_ms(day, offset).ok_or_else(|| ssr::rule("from", "enter a day"))?),
    };
    let to_ms = match to.trim() {
        "" => None,
        day => {
            Some(day_ms(day, offset).ok_or_else(|| ssr::rule("to", "enter a day"))? + 86_400_000)
        }
    };
    let bucket = if bucket == "hour" { "hour" } else { "day" };
    let by = match by.as_str() {
        "member" | "model" | "account" => by,
        _ if admin => "member".to_owned(),
        _ => "model".to_owned(),
    };
    let query = UsageQuery {
        from: from_ms.map(|ms| ms.to_string()),
        to: to_ms.map(|ms| ms.to_string()),
        bucket: Some(bucket.to_owned()),
        by: Some(by.clone()),
        ..base
    };
    let report = aicarpool::usage::report(&state, &principal, &query).await?;
    let latency = aicarpool::usage::report(
        &state,
        &principal,
        &UsageQuery {
            by: Some("account".into()),
            ..query
        },
    )
    .await?;
    let csv_url = format!(
        "/api/usage?group_id={id}&from={}&to={}&bucket={bucket}&by={by}&format=csv",
        report.from, report.to
    );
    Ok(Some(UsageOverview {
        group,
        admin,
        from_date: date_of(report.from, report.tz_offset_minutes),
        to_date: date_of(report.to - 1, report.tz_offset_minutes),
        report,
        latency,
        csv_url,
    }))
}

/// The caller's own view of group `id`; `None` when signed out, "not found" for a non-member.
#[server(prefix = "/rpc", endpoint = "load_my_budget")]
pub async fn load_my_budget(id: i64) -> Result<Option<MyOverview>, AppError> {
    use super::ssr;
    use aicarpool::model::{LimitScope, UsageQuery};

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let me = principal.user.id;
    let group = aicarpool::groups::get(&state, &principal, id).await?;
    let my_keys: Vec<i64> = aicarpool::member_keys::list(&state, &principal, id)
        .await?
        .into_iter()
        .filter(|k| k.user_id == me)
        .map(|k| k.id)
        .collect();
    // Owners and admins are listed every limit; keep the ones that bind the caller.
    let limits = aicarpool::limits::list(&state, &principal, id)
        .await?
        .into_iter()
        .filter(|l| match l.scope {
            LimitScope::Group => true,
            LimitScope::Member => l.target_id == Some(me),
            LimitScope::Key => l.target_id.is_some_and(|k| my_keys.contains(&k)),
            LimitScope::Account => false,
        })
        .collect();
    let split = aicarpool::cost_split::statement(&state, &principal, id, None).await?;
    let month = aicarpool::usage::report(
        &state,
        &principal,
        &UsageQuery {
            group_id: Some(id.to_string()),
            user_id: Some(me.to_string()),
            from: Some(split.from.to_string()),
            to: Some(split.to.to_string()),
            bucket: Some("day".into()),
            by: Some("model".into()),
            ..UsageQuery::default()
        },
    )
    .await?;
    let payee = split
        .lines
        .iter()
        .find(|l| Some(l.user_id) == split.payee_user_id)
        .map(|l| l.name.clone());
    Ok(Some(MyOverview {
        group,
        limits,
        month,
        period: split.period.clone(),
        statement: split.lines.into_iter().find(|l| l.user_id == me),
        payee,
        closed: split.closed.is_some(),
    }))
}
