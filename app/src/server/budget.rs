//! Server functions of a group's routing (its strategy and model fallback chains) and of its
//! limits. Reading both goes with the group page's load; owners and admins change them here.

use aicarpool::model::{LimitView, RoutingView};
use leptos::prelude::*;

use crate::error::AppError;

/// Saves group `id`'s strategy and fallback chains (owners and admins). `routes` is the
/// textarea: one chain per line, `alias -> model1, model2`.
#[server(prefix = "/rpc", endpoint = "update_routing")]
pub async fn update_routing(
    id: i64,
    strategy: String,
    routes: String,
) -> Result<RoutingView, AppError> {
    use super::ssr;
    use aicarpool::model::RoutingStrategy;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let strategy = RoutingStrategy::parse(&strategy)
        .ok_or_else(|| ssr::rule("strategy", format!("{strategy:?} is not a strategy")))?;
    let routes = parse_routes(&routes)?;
    Ok(
        aicarpool::routing::update(&state, &principal, id, RoutingView { strategy, routes })
            .await?,
    )
}

/// Adds a limit to group `id` (owners and admins). `target` is `group`, `key:ID`,
/// `member:ID` or `account:ID`; `cap` is a number (USD for cost); `warn_at` percents, comma
/// separated (empty: the default 80, 100).
#[server(prefix = "/rpc", endpoint = "create_limit")]
pub async fn create_limit(
    id: i64,
    target: String,
    metric: String,
    window: String,
    cap: String,
    warn_at: String,
) -> Result<LimitView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let (scope, target_id) = match target.split_once(':') {
        None => (target.clone(), None),
        Some((scope, id)) => (scope.to_owned(), id.trim().parse::<i64>().ok()),
    };
    let warn_at = ssr::split_list(&warn_at)
        .iter()
        .map(|p| p.trim_end_matches('%').trim().parse::<u8>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ssr::rule("warn_at", "enter whole percents, e.g. 80, 100"))?;
    let input = aicarpool::limits::LimitInput {
        scope,
        target_id,
        metric,
        window,
        cap: serde_json::Value::String(cap.trim().to_owned()),
        warn_at: (!warn_at.is_empty()).then_some(warn_at),
    };
    Ok(aicarpool::limits::create(&state, &principal, id, input).await?)
}

/// Changes the cap and warning thresholds of a limit of group `id` (owners and admins); what
/// it has used so far counts on. `cap` in USD for cost; `warn_at` percents, comma separated
/// (empty: the default 80, 100). A wrong field is named, with the rule in the reader's
/// language.
#[server(prefix = "/rpc", endpoint = "update_limit")]
pub async fn update_limit(
    id: i64,
    limit_id: i64,
    cap: String,
    warn_at: String,
) -> Result<LimitView, AppError> {
    use super::ssr;
    use aicarpool::error::ServiceError;
    use aicarpool::model::GroupRole;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    // Who may change it first: a member learns nothing from a check of their input.
    let access = aicarpool::groups::access(&state, &principal, id).await?;
    aicarpool::groups::require(access, GroupRole::Admin, "change the group's limits")?;
    let metric = aicarpool::limits::list(&state, &principal, id)
        .await?
        .into_iter()
        .find(|l| l.id == limit_id)
        .map(|l| l.metric)
        .ok_or(ServiceError::NotFound("limit"))?;
    let t = crate::i18n::texts(crate::i18n::initial_locale());
    crate::money::check_cap(t, metric, &cap).map_err(|e| ssr::rule("cap", e))?;
    let warn_at = crate::money::check_warn_at(t, &warn_at).map_err(|e| ssr::rule("warn_at", e))?;
    let patch = aicarpool::limits::LimitPatch {
        cap: Some(serde_json::Value::String(cap.trim().to_owned())),
        warn_at: Some(if warn_at.is_empty() {
            vec![80, 100]
        } else {
            warn_at
        }),
    };
    Ok(aicarpool::limits::update(&state, &principal, id, limit_id, patch).await?)
}

/// Deletes a limit of group `id` (owners and admins).
#[server(prefix = "/rpc", endpoint = "delete_limit")]
pub async fn delete_limit(id: i64, limit_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::limits::delete(&state, &principal, id, limit_id).await?)
}

/// Sets group `id`'s time zone (owners and admins): where its days and months, and so its
/// day and month limits and statements, begin.
#[server(prefix = "/rpc", endpoint = "set_time_zone")]
pub async fn set_time_zone(id: i64, time_zone: String) -> Result<String, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::limits::set_time_zone(&state, &principal, id, time_zone.trim()).await?)
}

/// Reads the chains textarea: one `alias -> model1, model2` per line (`→` and `=` work too);
/// blank lines are skipped.
#[cfg(feature = "ssr")]
pub fn parse_routes(
    text: &str,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, aicarpool::error::ServiceError> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let split = ["->", "→", "="].iter().find_map(|sep| line.split_once(sep));
        let Some((alias, models)) = split else {
            return Err(super::ssr::rule(
                "routes",
                format!("write each chain as alias -> model1, model2 (not {line:?})"),
            ));
        };
        out.insert(alias.trim().to_owned(), super::ssr::split_list(models));
    }
    Ok(out)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::parse_routes;

    #[test]
    fn chains_are_read_one_per_line() {
        let routes = parse_routes("smart -> claude-sonnet-4-5, gpt-4o\n\ncheap → deepseek-chat\n")
            .unwrap_or_default();
        assert_eq!(routes["smart"], ["claude-sonnet-4-5", "gpt-4o"]);
        assert_eq!(routes["cheap"], ["deepseek-chat"]);
        assert!(parse_routes("no arrow here").is_err());
    }
}
