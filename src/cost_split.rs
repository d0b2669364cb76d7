//! The carpool's monthly cost split (成本分摊): each member's metered cost in a calendar month of
//! the group's time zone, plus the fixed costs the owners and admins enter, shared equally, by
//! usage or by agreed weights, in integer micro-USD that sum exactly to the group total. The
//! group's owner paid the providers; everyone else owes them their total. Closing a month
//! freezes its statement.

use std::collections::BTreeMap;

use crate::db::cost_split::{self as store, FixedRow, PeriodRow};
use crate::db::rollups::{self, Dimension, HOUR_MS, RollupSums, Source};
use crate::db::{groups, now_ms};
use crate::error::ServiceError;
use crate::groups::{access, require};
use crate::identity::Principal;
use crate::model::{
    ClosedInfo, CostLine, CostSplitView, Decimal, FixedCostInput, FixedCostView, FixedShare,
    GroupRole, Settlement, SplitRule,
};
use crate::money::{allocate, micros_text, parse_micros};
use crate::state::AppState;
use crate::tz;
use crate::usage::csv_field;
use crate::validate::FieldError;

/// Longest fixed-cost name.
pub const NAME_MAX: usize = 100;

fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

fn closed(period: &str) -> ServiceError {
    ServiceError::Conflict(format!(
        "{period} is closed: its statement is final and can no longer change"
    ))
}

/// Reads an exact decimal into micro-units.
pub fn decimal_micros(field: &'static str, value: &Decimal) -> Result<i64, ServiceError> {
    let text = match value {
        Decimal::Number(n) => n.to_string(),
        Decimal::Text(t) => t.clone(),
    };
    parse_micros(&text).map_err(|e| rule(field, e.to_string()))
}

/// The group's zone and the bounds of `period` in it; `None` picks the current month.
async fn month(
    state: &AppState,
    group_id: i64,
    period: Option<&str>,
) -> Result<(String, String, i64, i64), ServiceError> {
    let zone = store::time_zone(state.db(), group_id)
        .await?
        .unwrap_or_else(|| tz::DEFAULT_TIME_ZONE.to_owned());
    let calendar = tz::Zone::or_default(&zone);
    let period = match period.map(str::trim) {
        None | Some("") => calendar.month_label(now_ms()),
        Some(p) => p.to_owned(),
    };
    let bad =
        || ServiceError::BadRequest(format!("period: {period:?} is not a month such as 2026-11"));
    if period.len() != 7 || period.as_bytes()[4] != b'-' {
        return Err(bad());
    }
    let (from, to) = calendar.parse_month(&period).ok_or_else(bad)?;
    Ok((zone, period, from, to))
}

/// Metered sums per member of a group in `[from, to)`, exact: from the hourly rollups when the
/// bounds fall on UTC hours, else from the records.
async fn metered(
    state: &AppState,
    group_id: i64,
    from: i64,
    to: i64,
) -> Result<BTreeMap<i64, RollupSums>, ServiceError> {
    let source = if from % HOUR_MS == 0 && to % HOUR_MS == 0 {
        Source::Hourly
    } else {
        Source::RecordDays((-from).rem_euclid(rollups::DAY_MS))
    };
    let rows = rollups::report(
        state.db(),
        &rollups::ReportQuery {
            source,
            dimension: Dimension::Member,
            from,
            to,
            group_id: Some(group_id),
            user_id: None,
        },
    )
    .await?;
    let mut out: BTreeMap<i64, RollupSums> = BTreeMap::new();
    for row in rows {
        if let Ok(user_id) = row.series.parse() {
            out.entry(user_id).or_default().add(&row.sums);
        }
    }
    Ok(out)
}

fn fixed_view(row: &FixedRow) -> FixedCostView {
    FixedCostView {
        id: row.id,
        name: row.name.clone(),
        amount_micros: row.amount_micros,
        amount_usd: micros_text(row.amount_micros),
        split: SplitRule::parse(&row.split).unwrap_or(SplitRule::Equal),
        weights: row
            .weights
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok()),
        created_by: row.created_by,
        created_at: row.created_at,
    }
}

/// Computes the live statement of a period.
async fn compute(
    state: &AppState,
    group_id: i64,
    period: Option<&str>,
) -> Result<CostSplitView, ServiceError> {
    let (time_zone, period, from, to) = month(state, group_id, period).await?;
    let usage = metered(state, group_id, from, to).await?;
    let members = groups::members(state.db(), group_id).await?;
    let mut lines: BTreeMap<i64, CostLine> = BTreeMap::new();
    for m in &members {
        lines.insert(
            m.user_id,
            line(
                m.user_id,
                m.name.clone(),
                m.email.clone(),
                GroupRole::parse(&m.role),
            ),
        );
    }
    let former: Vec<i64> = usage
        .keys()
        .filter(|u| !lines.contains_key(u))
        .copied()
        .collect();
    for (id, name) in rollups::labels(state.db(), Dimension::Member, &former).await? {
        lines.insert(id, line(id, name, String::new(), None));
    }
    for (user_id, sums) in &usage {
        let l = lines
            .entry(*user_id)
            .or_insert_with(|| line(*user_id, format!("#{user_id}"), String::new(), None));
        l.requests = sums.requests;
        l.metered_micros = sums.cost_micros;
    }
    let fixed: Vec<FixedCostView> = store::fixed_of(state.db(), group_id, &period)
        .await?
        .iter()
        .map(fixed_view)
        .collect();
    let ids: Vec<i64> = lines.keys().copied().collect();
    let equal: Vec<i64> = lines
        .values()
        .map(|l| i64::from(l.role.is_some()))
        .collect();
    for f in &fixed {
        let weights: Vec<i64> = match f.split {
            SplitRule::Equal => equal.clone(),
            SplitRule::Usage => lines.values().map(|l| l.metered_micros.max(0)).collect(),
            SplitRule::Weights => {
                let w = f.weights.clone().unwrap_or_default();
                ids.iter()
                    .map(|id| w.get(id).copied().unwrap_or(0))
                    .collect()
            }
        };
        // Nobody used the group (or no weight applies): share it equally.
        let weights = if weights.iter().all(|w| *w == 0) {
            equal.clone()
        } else {
            weights
        };
        for (l, micros) in lines.values_mut().zip(allocate(f.amount_micros, &weights)) {
            l.fixed_shares.push(FixedShare {
                fixed_id: f.id,
                micros,
            });
            l.fixed_micros += micros;
        }
    }
    let payee = members
        .iter()
        .filter(|m| m.role == GroupRole::Owner.as_str())
        .min_by_key(|m| (m.joined_at, m.user_id))
        .map(|m| (m.user_id, m.name.clone()));
    let mut settlements = Vec::new();
    let mut received = 0;
    for l in lines.values_mut() {
        l.total_micros = l.metered_micros + l.fixed_micros;
        l.total_usd = micros_text(l.total_micros);
        if let Some((payee_id, payee_name)) = &payee
            && *payee_id != l.user_id
        {
            l.owes_micros = l.total_micros;
            received += l.total_micros;
            if l.total_micros != 0 {
                let (from, to) = if l.total_micros > 0 {
                    ((l.user_id, l.name.clone()), (*payee_id, payee_name.clone()))
                } else {
                    ((*payee_id, payee_name.clone()), (l.user_id, l.name.clone()))
                };
                settlements.push(Settlement {
                    from_user_id: from.0,
                    from_name: from.1,
                    to_user_id: to.0,
                    to_name: to.1,
                    amount_micros: l.total_micros.abs(),
                    amount_usd: micros_text(l.total_micros.abs()),
                });
            }
        }
    }
    if let Some(l) = payee.as_ref().and_then(|(id, _)| lines.get_mut(id)) {
        l.receives_micros = received;
    }
    let metered_total_micros = lines.values().map(|l| l.metered_micros).sum();
    let fixed_total_micros = fixed.iter().map(|f| f.amount_micros).sum();
    let total_micros: i64 = lines.values().map(|l| l.total_micros).sum();
    Ok(CostSplitView {
        group_id,
        period,
        time_zone,
        from,
        to,
        closed: None,
        fixed,
        lines: lines.into_values().collect(),
        payee_user_id: payee.map(|(id, _)| id),
        metered_total_micros,
        fixed_total_micros,
        total_micros,
        total_usd: micros_text(total_micros),
        settlements,
    })
}

fn line(user_id: i64, name: String, email: String, role: Option<GroupRole>) -> CostLine {
    CostLine {
        user_id,
        name,
        email,
        role,
        requests: 0,
        metered_micros: 0,
        fixed_shares: Vec::new(),
        fixed_micros: 0,
        total_micros: 0,
        total_usd: micros_text(0),
        owes_micros: 0,
        receives_micros: 0,
    }
}

/// The statement of a period: frozen once closed, live before. Any member may read it.
pub async fn statement(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    period: Option<&str>,
) -> Result<CostSplitView, ServiceError> {
    access(state, principal, group_id).await?;
    let (_, period, _, _) = month(state, group_id, period).await?;
    if let Some(row) = store::period(state.db(), group_id, &period).await? {
        return serde_json::from_str(&row.snapshot)
            .map_err(|e| ServiceError::Internal(format!("cost split snapshot: {e}")));
    }
    compute(state, group_id, Some(&period)).await
}

/// Adds a fixed cost (owners and admins; 409 once the period is closed); returns the statement.
pub async fn add_fixed(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    input: FixedCostInput,
) -> Result<CostSplitView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "enter fixed costs")?;
    let (_, period, _, _) = month(state, group_id, Some(&input.period)).await?;
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name")(FieldError::Required));
    }
    if name.chars().count() > NAME_MAX {
        return Err(ServiceError::invalid("name")(FieldError::TooLong {
            max: NAME_MAX,
        }));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("name")(FieldError::ControlChars));
    }
    let amount_micros = decimal_micros("amount_usd", &input.amount_usd)?;
    if amount_micros == 0 {
        return Err(rule("amount_usd", "must not be zero"));
    }
    let weights = match (input.split, input.weights) {
        (SplitRule::Weights, Some(given)) if !given.is_empty() => {
            let members: Vec<i64> = groups::members(state.db(), group_id)
                .await?
                .iter()
                .map(|m| m.user_id)
                .collect();
            let mut out: BTreeMap<i64, i64> = BTreeMap::new();
            for (user, weight) in &given {
                let id = user
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|id| members.contains(id))
                    .ok_or_else(|| {
                        rule("weights", format!("{user:?} is not a member's user id"))
                    })?;
                let w = decimal_micros("weights", weight)?;
                if w < 0 {
                    return Err(rule("weights", "weights must not be negative"));
                }
                out.insert(id, w);
            }
            if out.values().all(|w| *w == 0) {
                return Err(rule("weights", "at least one weight must be above zero"));
            }
            serde_json::to_string(&out).ok()
        }
        (SplitRule::Weights, _) => {
            return Err(rule(
                "weights",
                "give each member's weight, e.g. {\"12\": 2, \"15\": 1}",
            ));
        }
        _ => None,
    };
    let row = FixedRow {
        id: 0,
        group_id,
        period: period.clone(),
        name: name.to_owned(),
        amount_micros,
        split: input.split.as_str().to_owned(),
        weights,
        created_by: principal.user.id,
        created_at: now_ms(),
    };
    if store::add_fixed(state.db(), &row).await?.is_none() {
        return Err(closed(&period));
    }
    compute(state, group_id, Some(&period)).await
}

/// Deletes a fixed cost (owners and admins; 409 once its period is closed).
pub async fn delete_fixed(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    fixed_id: i64,
) -> Result<(), ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "remove fixed costs")?;
    let row = store::find_fixed(state.db(), group_id, fixed_id)
        .await?
        .ok_or(ServiceError::NotFound("fixed cost"))?;
    if !store::delete_fixed(state.db(), group_id, fixed_id).await? {
        return Err(closed(&row.period));
    }
    Ok(())
}

/// Closes a period (owners and admins): its statement is computed once more and frozen.
pub async fn close(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    period: &str,
) -> Result<CostSplitView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "close a period")?;
    let (_, period, _, _) = month(state, group_id, Some(period)).await?;
    if store::period(state.db(), group_id, &period)
        .await?
        .is_some()
    {
        return Err(closed(&period));
    }
    let mut view = compute(state, group_id, Some(&period)).await?;
    let closed_at = now_ms();
    view.closed = Some(ClosedInfo {
        closed_at,
        closed_by: principal.user.id,
    });
    let snapshot = serde_json::to_string(&view)
        .map_err(|e| ServiceError::Internal(format!("cost split snapshot: {e}")))?;
    let row = PeriodRow {
        closed_at,
        closed_by: principal.user.id,
        snapshot,
    };
    match store::close(state.db(), group_id, &period, &row).await {
        Err(crate::db::DbError::Conflict(_)) => Err(closed(&period)),
        other => other.map(|()| view).map_err(ServiceError::from),
    }
}

/// The statement as CSV: one row per member, a column per fixed cost, then the group total.
pub fn statement_csv(view: &CostSplitView) -> String {
    let mut header = vec![
        "user_id".to_owned(),
        "name".into(),
        "email".into(),
        "role".into(),
        "requests".into(),
        "metered_usd".into(),
    ];
    header.extend(
        view.fixed
            .iter()
            .map(|f| csv_field(&format!("fixed:{}", f.name))),
    );
    header.extend(["fixed_usd", "total_usd", "owes_usd", "receives_usd"].map(String::from));
    let mut out = header.join(",") + "\n";
    for l in &view.lines {
        let mut row = vec![
            l.user_id.to_string(),
            csv_field(&l.name),
            csv_field(&l.email),
            l.role
                .map(|r| r.as_str())
                .unwrap_or("former member")
                .to_owned(),
            l.requests.to_string(),
            micros_text(l.metered_micros),
        ];
        row.extend(view.fixed.iter().map(|f| {
            let share = l.fixed_shares.iter().find(|s| s.fixed_id == f.id);
            micros_text(share.map_or(0, |s| s.micros))
        }));
        row.extend(
            [
                l.fixed_micros,
                l.total_micros,
                l.owes_micros,
                l.receives_micros,
            ]
            .map(micros_text),
        );
        out.push_str(&row.join(","));
        out.push('\n');
    }
    let mut total = vec![String::new(), "total".into(), String::new(), String::new()];
    total.push(
        view.lines
            .iter()
            .map(|l| l.requests)
            .sum::<i64>()
            .to_string(),
    );
    total.push(micros_text(view.metered_total_micros));
    total.extend(view.fixed.iter().map(|f| micros_text(f.amount_micros)));
    total.extend([
        micros_text(view.fixed_total_micros),
        micros_text(view.total_micros),
    ]);
    total.extend([String::new(), String::new()]);
    out.push_str(&total.join(","));
    out.push('\n');
    out
}
