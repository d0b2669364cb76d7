//! Server functions of the monthly cost split: the statement of a month (every member sees
//! it), and the changes owners and admins make: fixed costs in and out, closing the month.

use aicarpool::model::{CostSplitView, GroupView, MemberView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the cost-split page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSplitOverview {
    /// The group.
    pub group: GroupView,
    /// The caller may enter fixed costs and close the month.
    pub admin: bool,
    /// The caller's user id.
    pub my_id: i64,
    /// The statement.
    pub split: CostSplitView,
    /// The members (for the weights of a fixed cost).
    pub members: Vec<MemberView>,
    /// The month before, `YYYY-MM`.
    pub previous: String,
    /// The month after.
    pub next: String,
}

/// The month `delta` months from `period` (`YYYY-MM`), or `period` itself if unreadable.
pub fn shift_month(period: &str, delta: i64) -> String {
    let parsed = period
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
    match parsed {
        Some((y, m)) => {
            let n = y * 12 + (m - 1) + delta;
            format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
        }
        None => period.to_owned(),
    }
}

/// The cost split of group `id` for `period` (`YYYY-MM`; empty: this month); `None` when
/// signed out, "not found" for a non-member.
#[server(prefix = "/rpc", endpoint = "load_cost_split")]
pub async fn load_cost_split(
    id: i64,
    period: String,
) -> Result<Option<CostSplitOverview>, AppError> {
    use super::ssr;
    use aicarpool::model::GroupRole;

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let access = aicarpool::groups::access(&state, &principal, id).await?;
    let group = aicarpool::groups::get(&state, &principal, id).await?;
    let period = Some(period.trim()).filter(|p| !p.is_empty());
    let split = aicarpool::cost_split::statement(&state, &principal, id, period).await?;
    let members = aicarpool::groups::members(&state, &principal, id).await?;
    Ok(Some(CostSplitOverview {
        group,
        admin: access.effective >= GroupRole::Admin,
        my_id: principal.user.id,
        previous: shift_month(&split.period, -1),
        next: shift_month(&split.period, 1),
        split,
        members,
    }))
}

/// Adds a fixed cost to `period` of group `id` (owners and admins). `amount` is USD; `split`
/// `equal`, `usage` or `weights`; `weights` one `email = weight` per line (for `weights`).
#[server(prefix = "/rpc", endpoint = "add_fixed_cost")]
pub async fn add_fixed_cost(
    id: i64,
    period: String,
    name: String,
    amount: String,
    split: String,
    weights: Option<String>,
) -> Result<CostSplitView, AppError> {
    use super::ssr;
    use aicarpool::model::{Decimal, FixedCostInput, SplitRule};

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let split = SplitRule::parse(&split)
        .ok_or_else(|| ssr::rule("split", "choose equally, by usage or by weights"))?;
    let weights = if split == SplitRule::Weights {
        let members = aicarpool::groups::members(&state, &principal, id).await?;
        let mut out = std::collections::BTreeMap::new();
        for line in weights.as_deref().unwrap_or("").lines().map(str::trim) {
            if line.is_empty() {
                continue;
            }
            let (who, weight) = line.split_once('=').ok_or_else(|| {
                ssr::rule("weights", format!("write email = weight (not {line:?})"))
            })?;
            let who = who.trim();
            let member = members
                .iter()
                .find(|m| m.email.eq_ignore_ascii_case(who) || m.user_id.to_string() == who)
                .ok_or_else(|| ssr::rule("weights", format!("{who} is not a member")))?;
            out.insert(
                member.user_id.to_string(),
                Decimal::Text(weight.trim().to_owned()),
            );
        }
        Some(out)
    } else {
        None
    };
    let input = FixedCostInput {
        period,
        name,
        amount_usd: Decimal::Text(amount.trim().to_owned()),
        split,
        weights,
    };
    Ok(aicarpool::cost_split::add_fixed(&state, &principal, id, input).await?)
}

/// Deletes a fixed cost of group `id` (owners and admins; not once its month is closed).
#[server(prefix = "/rpc", endpoint = "delete_fixed_cost")]
pub async fn delete_fixed_cost(id: i64, fixed_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::cost_split::delete_fixed(&state, &principal, id, fixed_id).await?)
}

/// Closes `period` of group `id` (owners and admins): its statement is frozen.
#[server(prefix = "/rpc", endpoint = "close_period")]
pub async fn close_period(id: i64, period: String) -> Result<CostSplitView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::cost_split::close(&state, &principal, id, &period).await?)
}

#[cfg(test)]
mod tests {
    use super::shift_month;

    #[test]
    fn months_roll_over_years() {
        assert_eq!(shift_month("2026-01", -1), "2025-12");
        assert_eq!(shift_month("2026-12", 1), "2027-01");
        assert_eq!(shift_month("junk", 1), "junk");
    }
}
