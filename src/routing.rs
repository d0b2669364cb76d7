//! A group's routing settings: its strategy and its model fallback chains. Members may read
//! them; owners and admins change them.

use std::collections::BTreeMap;

use crate::db::{now_ms, routing};
use crate::error::ServiceError;
use crate::groups::{access, require};
use crate::identity::Principal;
use crate::model::{GroupRole, RoutingStrategy, RoutingView};
use crate::state::AppState;
use crate::validate::FieldError;

/// Most models in one fallback chain.
const CHAIN_MAX: usize = 10;
/// Most chains per group.
const ROUTES_MAX: usize = 200;

fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

/// The group's routing.
pub async fn get(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<RoutingView, ServiceError> {
    access(state, principal, group_id).await?;
    let strategy = routing::strategy(state.db(), group_id)
        .await?
        .and_then(|s| RoutingStrategy::parse(&s))
        .unwrap_or_default();
    let routes = routing::routes_of_group(state.db(), group_id)
        .await?
        .into_iter()
        .map(|r| (r.alias, serde_json::from_str(&r.models).unwrap_or_default()))
        .collect();
    Ok(RoutingView { strategy, routes })
}

/// Replaces the group's strategy and fallback chains.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    input: RoutingView,
) -> Result<RoutingView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "change the group's routing")?;
    if input.routes.len() > ROUTES_MAX {
        return Err(rule(
            "routes",
            format!("at most {ROUTES_MAX} fallback chains"),
        ));
    }
    let mut routes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (alias, models) in &input.routes {
        let alias = alias.trim();
        if alias.is_empty() || alias.chars().count() > 200 || alias.chars().any(char::is_control) {
            return Err(rule(
                "routes",
                "each alias must be 1 to 200 printable characters",
            ));
        }
        if models.is_empty() || models.len() > CHAIN_MAX {
            return Err(rule(
                "routes",
                format!("the chain {alias} must list 1 to {CHAIN_MAX} models"),
            ));
        }
        let mut chain: Vec<String> = Vec::new();
        for m in models {
            let m = m.trim();
            if m.is_empty() || m.chars().count() > 200 {
                return Err(rule(
                    "routes",
                    format!("the chain {alias} has an empty or overlong model name"),
                ));
            }
            if m == alias {
                return Err(rule(
                    "routes",
                    format!("the chain {alias} cannot name itself"),
                ));
            }
            if !chain.iter().any(|c| c == m) {
                chain.push(m.to_owned());
            }
        }
        routes.insert(alias.to_owned(), chain);
    }
    let now = now_ms();
    routing::set_strategy(state.db(), group_id, input.strategy.as_str(), now).await?;
    let existing = routing::routes_of_group(state.db(), group_id).await?;
    for old in existing.iter().filter(|r| !routes.contains_key(&r.alias)) {
        routing::delete_route(state.db(), group_id, &old.alias).await?;
    }
    for (alias, chain) in &routes {
        let json = serde_json::to_string(chain).unwrap_or_else(|_| "[]".into());
        routing::set_route(state.db(), group_id, alias, &json, now).await?;
    }
    if let Err(e) = state.gateway().reload().await {
        tracing::error!("gateway catalog reload failed: {e}");
    }
    get(state, principal, group_id).await
}
