//! Budgets of a group: limits on keys, members, the group and its accounts, with their live
//! usage; the group's time zone; model price overrides (system admin). Owners and admins
//! manage limits; a member sees the limits that apply to them.

use serde::Deserialize;
use serde_json::Value;

use crate::db::limit_alerts;
use crate::db::limits::{self, LimitRow, PriceRow};
use crate::db::{accounts, groups as group_db, keys, now_ms};
use crate::error::ServiceError;
use crate::gateway::budget::Limit;
use crate::groups::{access, require};
use crate::identity::Principal;
use crate::model::{GroupRole, LimitMetric, LimitScope, LimitView, LimitWindow, PriceView};
use crate::pricing;
use crate::state::AppState;
use crate::tz::Zone;
use crate::validate::FieldError;

/// Most limits one group may have.
const LIMITS_MAX: usize = 500;

fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

/// A new limit, as the API takes it: `cap` in USD for cost (a decimal number or string).
#[derive(Clone, Debug, Deserialize)]
pub struct LimitInput {
    /// `key`, `member`, `group`, `account`.
    pub scope: String,
    /// The key, member (user id) or account; absent for the group.
    #[serde(default)]
    pub target_id: Option<i64>,
    /// `requests`, `tokens`, `cost`.
    pub metric: String,
    /// `minute`, `day`, `month`, `total`.
    pub window: String,
    /// The cap.
    pub cap: Value,
    /// Warning thresholds in percent (default 80 and 100).
    #[serde(default)]
    pub warn_at: Option<Vec<u8>>,
}

/// A change of cap or thresholds.
#[derive(Clone, Debug, Deserialize)]
pub struct LimitPatch {
    /// The new cap.
    #[serde(default)]
    pub cap: Option<Value>,
    /// New thresholds.
    #[serde(default)]
    pub warn_at: Option<Vec<u8>>,
}

/// Parses a decimal amount of USD into micro-USD exactly (`12.5` -> 12 500 000).
pub fn parse_usd(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(frac)
}

fn parse_cap(metric: LimitMetric, cap: &Value) -> Result<i64, ServiceError> {
    let text = match cap {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(rule("cap", "must be a number")),
    };
    let value = match metric {
        LimitMetric::Cost => parse_usd(&text).ok_or_else(|| {
            rule(
                "cap",
                "must be an amount of USD such as 25 or 12.50 (at most 6 decimals)",
            )
        })?,
        _ => text
            .parse::<i64>()
            .map_err(|_| rule("cap", "must be a whole number"))?,
    };
    if value <= 0 {
        return Err(rule("cap", "must be more than 0"));
    }
    Ok(value)
}

fn check_warn(warn: Option<Vec<u8>>) -> Result<String, ServiceError> {
    let mut warn = warn.unwrap_or_else(|| vec![80, 100]);
    if warn.len() > 5 || warn.iter().any(|p| *p == 0 || *p > 100) {
        return Err(rule("warn_at", "up to 5 percentages between 1 and 100"));
    }
    warn.sort_unstable();
    warn.dedup();
    Ok(serde_json::to_string(&warn).unwrap_or_else(|_| "[80,100]".into()))
}

/// A stored limit, ready for enforcement in `zone`; `None` for a row no longer understood.
pub(crate) fn to_limit(row: &LimitRow, zone: &Zone) -> Option<Limit> {
    Some(Limit {
        id: row.id,
        group_id: row.group_id,
        scope: LimitScope::parse(&row.scope)?,
        target_id: row.target_id,
        metric: LimitMetric::parse(&row.metric)?,
        window: LimitWindow::parse(&row.period)?,
        cap: row.cap,
        warn_at: serde_json::from_str(&row.warn_at).unwrap_or_default(),
        zone: zone.clone(),
    })
}

async fn target_name(state: &AppState, limit: &Limit) -> Result<Option<String>, ServiceError> {
    let Some(target) = limit.target_id else {
        return Ok(None);
    };
    Ok(match limit.scope {
        LimitScope::Key => keys::find(state.db(), target)
            .await?
            .map(|k| format!("{} ({})", k.name, k.user_name)),
        LimitScope::Member => group_db::members(state.db(), limit.group_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == target)
            .map(|m| m.name),
        LimitScope::Account => accounts::find(state.db(), target).await?.map(|a| a.name),
        LimitScope::Group => None,
    })
}

async fn view(
    state: &AppState,
    limit: &Limit,
    now: i64,
    alerts: Vec<u8>,
) -> Result<LimitView, ServiceError> {
    let (key, resets_at) = limit.window_at(now);
    // A window not counted on this node yet starts from the usage records.
    state
        .gateway()
        .seed_limits(std::slice::from_ref(limit), now)
        .await;
    let used = state
        .gateway()
        .counters()
        .peek(&[key])
        .await
        .first()
        .copied()
        .unwrap_or(0);
    let scale = if limit.metric == LimitMetric::Cost {
        1_000_000.0
    } else {
        1.0
    };
    Ok(LimitView {
        id: limit.id,
        group_id: limit.group_id,
        scope: limit.scope,
        target_id: limit.target_id,
        target_name: target_name(state, limit).await?,
        metric: limit.metric,
        window: limit.window,
        cap: limit.cap as f64 / scale,
        cap_raw: limit.cap,
        warn_at: limit.warn_at.clone(),
        used: used as f64 / scale,
        used_raw: used,
        remaining: (limit.cap - used).max(0) as f64 / scale,
        remaining_raw: (limit.cap - used).max(0),
        resets_at,
        alerts,
    })
}

async fn reload(state: &AppState) {
    if let Err(e) = state.gateway().reload().await {
        tracing::error!("gateway catalog reload failed: {e}");
    }
}

/// The group's limits: all for owners and admins; for a member, those that apply to them.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Vec<LimitView>, ServiceError> {
    let access = access(state, principal, group_id).await?;
    let mine: Vec<i64> = keys::list(state.db(), group_id, Some(principal.user.id))
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect();
    let zone = state
        .gateway()
        .catalog()
        .await?
        .group(group_id)
        .map(|g| g.zone.clone())
        .unwrap_or_default();
    let now = now_ms();
    let mut visible = Vec::new();
    for row in limits::list(state.db(), group_id).await? {
        let Some(limit) = to_limit(&row, &zone) else {
            continue;
        };
        let shown = access.effective >= GroupRole::Admin
            || match limit.scope {
                LimitScope::Group => true,
                LimitScope::Member => limit.target_id == Some(principal.user.id),
                LimitScope::Key => limit.target_id.is_some_and(|k| mine.contains(&k)),
                LimitScope::Account => false,
            };
        if shown {
            let start = limit.window_bounds(now).0;
            visible.push((limit, start));
        }
    }
    // The warnings of each limit's current window, in one query.
    let mut starts: Vec<i64> = visible.iter().map(|(_, start)| *start).collect();
    starts.sort_unstable();
    starts.dedup();
    let alerts = limit_alerts::in_windows(state.db(), group_id, &starts).await?;
    let mut out = Vec::new();
    for (limit, start) in visible {
        let crossed = alerts
            .iter()
            .filter(|a| a.limit_id == limit.id && a.window_start == start)
            .filter_map(|a| u8::try_from(a.threshold).ok())
            .collect();
        out.push(view(state, &limit, now, crossed).await?);
    }
    Ok(out)
}

/// Adds a limit.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    input: LimitInput,
) -> Result<LimitView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "set the group's limits")?;
    let scope = LimitScope::parse(input.scope.trim())
        .ok_or_else(|| rule("scope", "must be key, member, group or account"))?;
    let metric = LimitMetric::parse(input.metric.trim())
        .ok_or_else(|| rule("metric", "must be requests, tokens or cost"))?;
    let window = LimitWindow::parse(input.window.trim())
        .ok_or_else(|| rule("window", "must be minute, day, month or total"))?;
    let cap = parse_cap(metric, &input.cap)?;
    let warn_at = check_warn(input.warn_at)?;
    let target_id = match scope {
        LimitScope::Group => None,
        _ => Some(
            input
                .target_id
                .ok_or_else(|| rule("target_id", "is required for this scope"))?,
        ),
    };
    if let Some(target) = target_id {
        let found = match scope {
            LimitScope::Key => keys::find(state.db(), target)
                .await?
                .is_some_and(|k| k.group_id == group_id),
            LimitScope::Member => group_db::members(state.db(), group_id)
                .await?
                .iter()
                .any(|m| m.user_id == target),
            LimitScope::Account => accounts::bindings_of_group(state.db(), group_id)
                .await?
                .iter()
                .any(|b| b.account_id == target),
            LimitScope::Group => true,
        };
        if !found {
            return Err(rule(
                "target_id",
                format!("no such {} in this group", scope.as_str()),
            ));
        }
    }
    if limits::list(state.db(), group_id).await?.len() >= LIMITS_MAX {
        return Err(ServiceError::Conflict(format!(
            "a group may have at most {LIMITS_MAX} limits"
        )));
    }
    let row = LimitRow {
        id: 0,
        group_id,
        scope: scope.as_str().to_owned(),
        target_id,
        metric: metric.as_str().to_owned(),
        period: window.as_str().to_owned(),
        cap,
        warn_at,
        updated_at: 0,
    };
    let id = limits::create(state.db(), &row, principal.user.id, now_ms()).await?;
    reload(state).await;
    get(state, principal, group_id, id).await
}

async fn get(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<LimitView, ServiceError> {
    list(state, principal, group_id)
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or(ServiceError::NotFound("limit"))
}

async fn owned(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<LimitRow, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "change the group's limits")?;
    limits::find(state.db(), id)
        .await?
        .filter(|l| l.group_id == group_id)
        .ok_or(ServiceError::NotFound("limit"))
}

/// Changes a limit's cap or thresholds (its usage so far counts on).
pub async fn update(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
    patch: LimitPatch,
) -> Result<LimitView, ServiceError> {
    let row = owned(state, principal, group_id, id).await?;
    let metric = LimitMetric::parse(&row.metric).unwrap_or(LimitMetric::Requests);
    let cap = match &patch.cap {
        Some(cap) => parse_cap(metric, cap)?,
        None => row.cap,
    };
    let warn_at = match patch.warn_at {
        Some(w) => check_warn(Some(w))?,
        None => row.warn_at.clone(),
    };
    limits::update(
        state.db(),
        id,
        cap,
        &warn_at,
        now_ms().max(row.updated_at + 1),
    )
    .await?;
    reload(state).await;
    get(state, principal, group_id, id).await
}

/// Deletes a limit.
pub async fn delete(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    id: i64,
) -> Result<(), ServiceError> {
    owned(state, principal, group_id, id).await?;
    limits::delete(state.db(), id).await?;
    reload(state).await;
    Ok(())
}

/// Sets the group's time zone (owner or admin); returns its name as stored (the tz
/// database's spelling, `UTC±HH:MM` for an offset).
pub async fn set_time_zone(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    zone: &str,
) -> Result<String, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "change the group's time zone")?;
    let Some(zone) = Zone::resolve(zone) else {
        return Err(rule(
            "time_zone",
            format!(
                "use a zone of the IANA tz database such as {} or a fixed offset such as UTC+08:00",
                crate::tz::COMMON.join(", ")
            ),
        ));
    };
    limits::set_time_zone(state.db(), group_id, zone.name(), now_ms()).await?;
    reload(state).await;
    Ok(zone.name().to_owned())
}

/// Every price: built-in, with admin overrides on top.
pub async fn prices(state: &AppState) -> Result<Vec<PriceView>, ServiceError> {
    let overrides = limits::prices(state.db()).await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut out: Vec<PriceView> = overrides
        .iter()
        .map(|p| PriceView {
            model: p.model.clone(),
            input: n(p.input),
            output: n(p.output),
            cache_read: n(p.cache_read),
            cache_write: n(p.cache_write),
            source: "override".into(),
        })
        .collect();
    for (model, p) in pricing::BUILT_IN {
        if !overrides.iter().any(|o| o.model == *model) {
            out.push(PriceView {
                model: (*model).to_owned(),
                input: p.input,
                output: p.output,
                cache_read: p.cache_read,
                cache_write: p.cache_write,
                source: "built_in".into(),
            });
        }
    }
    out.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(out)
}

/// Sets a price override (system admin), in micro-USD per million tokens.
pub async fn set_price(
    state: &AppState,
    principal: &Principal,
    price: PriceView,
) -> Result<Vec<PriceView>, ServiceError> {
    if !principal.is_system_admin() {
        return Err(ServiceError::Forbidden(
            "only a system administrator can change prices".into(),
        ));
    }
    let model = price.model.trim().to_ascii_lowercase();
    if model.is_empty() || model.chars().count() > 200 {
        return Err(rule("model", "must be 1 to 200 characters"));
    }
    let cap = 1_000_000_000_000u64;
    if [
        price.input,
        price.output,
        price.cache_read,
        price.cache_write,
    ]
    .iter()
    .any(|v| *v > cap)
    {
        return Err(rule(
            "input",
            "prices are micro-USD per million tokens, at most 10^12",
        ));
    }
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let row = PriceRow {
        model,
        input: i(price.input),
        output: i(price.output),
        cache_read: i(price.cache_read),
        cache_write: i(price.cache_write),
    };
    limits::set_price(state.db(), &row, principal.user.id, now_ms()).await?;
    reload(state).await;
    prices(state).await
}

/// Removes a price override (the built-in price applies again).
pub async fn delete_price(
    state: &AppState,
    principal: &Principal,
    model: &str,
) -> Result<(), ServiceError> {
    if !principal.is_system_admin() {
        return Err(ServiceError::Forbidden(
            "only a system administrator can change prices".into(),
        ));
    }
    if !limits::delete_price(state.db(), &model.to_ascii_lowercase()).await? {
        return Err(ServiceError::NotFound("price override"));
    }
    reload(state).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_amounts_parse_exactly() {
        assert_eq!(parse_usd("12.5"), Some(12_500_000));
        assert_eq!(parse_usd("0.1"), Some(100_000));
        assert_eq!(parse_usd("10"), Some(10_000_000));
        assert_eq!(parse_usd(".000001"), Some(1));
        assert_eq!(parse_usd("1.0000001"), None);
        assert_eq!(parse_usd("-1"), None);
        assert_eq!(parse_usd("1e3"), None);
        assert_eq!(
            parse_cap(LimitMetric::Cost, &serde_json::json!(0.1)).unwrap(),
            100_000
        );
        assert!(parse_cap(LimitMetric::Requests, &serde_json::json!(1.5)).is_err());
    }
}
