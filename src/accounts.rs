//! Upstream accounts and their bindings to groups, with the rules of who manages them: a
//! system account (no group) is the system admin's; an account dedicated to a group is managed
//! by that group's owners and admins. Keys and proxy URLs are sealed by the vault before they
//! are stored and never leave this module in clear.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::db::accounts::{self, AccountRow, NewAccount};
use crate::db::now_ms;
use crate::error::ServiceError;
use crate::groups::{access, require};
use crate::identity::Principal;
use crate::model::{
    AccountHealthView, AccountInput, AccountPatch, AccountTestView, AccountView, BindingInput,
    BindingView, GroupRole, Provider,
};
use crate::state::AppState;

mod checks;

pub use checks::ACCOUNT_NAME_MAX;
use checks::{
    Checked, cap, check_aliases, check_base_url, check_key, check_models, check_name,
    check_priority, check_proxy, check_weight, last4, rule,
};

/// The view of a stored account.
pub fn view(row: &AccountRow, bound_groups: Vec<i64>) -> AccountView {
    AccountView {
        id: row.id,
        name: row.name.clone(),
        provider: Provider::parse(&row.provider).unwrap_or(Provider::OpenAiCompatible),
        base_url: row.base_url.clone(),
        api_key_hint: format!("…{}", row.api_key_last4),
        models: serde_json::from_str(&row.models).unwrap_or_default(),
        model_aliases: serde_json::from_str(&row.model_aliases).unwrap_or_default(),
        proxy_url: row.proxy_display.clone(),
        weight: u32::try_from(row.weight).unwrap_or(0),
        priority: i32::try_from(row.priority).unwrap_or(0),
        group_id: row.group_id,
        enabled: row.enabled,
        last_error: row.last_error.clone(),
        last_error_at: row.last_error_at,
        last_test_ms: row.last_test_ms,
        max_concurrency: row.max_concurrency.and_then(|v| u32::try_from(v).ok()),
        rpm_limit: row.rpm_limit.and_then(|v| u32::try_from(v).ok()),
        tpm_limit: row.tpm_limit.and_then(|v| u64::try_from(v).ok()),
        health: None,
        bound_groups,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Live health of an account: the shared circuit state and this node's latency and errors.
pub fn health_view(state: &AppState, id: i64) -> AccountHealthView {
    use crate::gateway::health::{Availability, OutReason};
    let now = now_ms();
    let gateway = state.gateway();
    let h = gateway.counters().health(id);
    let (latency_ms, error_rate, attempts) = gateway.account_stats(id);
    let (out_reason, out_until) = match h.availability(now) {
        Availability::Out(OutReason::CircuitOpen { until }) => (
            Some(format!(
                "{} failures in a row: circuit open",
                h.consecutive_failures
            )),
            Some(until),
        ),
        Availability::Out(OutReason::Probing { until }) => (
            Some("a probe request is testing it".to_owned()),
            Some(until),
        ),
        Availability::Out(OutReason::Cooldown { until }) => {
            (Some("rate-limited by its provider".to_owned()), Some(until))
        }
        Availability::Out(OutReason::AuthFailed { .. }) => (
            Some(
                "its provider refused the key: fix the key, then save or test the account"
                    .to_owned(),
            ),
            None,
        ),
        Availability::ProbeDue | Availability::Available => (None, None),
    };
    AccountHealthView {
        circuit: h.circuit(now).to_owned(),
        out_reason,
        out_until,
        latency_ms,
        error_rate,
        attempts,
        consecutive_failures: h.consecutive_failures,
    }
}

/// Refuses unless the caller manages the account.
async fn require_manager(
    state: &AppState,
    principal: &Principal,
    group_id: Option<i64>,
) -> Result<(), ServiceError> {
    match group_id {
        None if principal.is_system_admin() => Ok(()),
        None => Err(ServiceError::Forbidden(
            "only a system administrator can manage shared system accounts; add the account to your group instead (group_id)".to_owned(),
        )),
        Some(group_id) => {
            let access = access(state, principal, group_id).await?;
            require(access, GroupRole::Admin, "manage the group's accounts")
        }
    }
}

/// Loads an account the caller may manage; others get "not found".
async fn managed(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<AccountRow, ServiceError> {
    let row = accounts::find(state.db(), id)
        .await?
        .ok_or(ServiceError::NotFound("account"))?;
    match require_manager(state, principal, row.group_id).await {
        Ok(()) => Ok(row),
        Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => {
            Err(ServiceError::NotFound("account"))
        }
        Err(e) => Err(e),
    }
}

async fn bound_groups(state: &AppState, account_id: i64) -> Result<Vec<i64>, ServiceError> {
    Ok(accounts::list_bindings(state.db())
        .await?
        .into_iter()
        .filter(|b| b.account_id == account_id)
        .map(|b| b.group_id)
        .collect())
}

async fn reload(state: &AppState) {
    if let Err(e) = state.gateway().reload().await {
        tracing::error!("gateway catalog reload failed: {e}");
    }
}

/// The accounts the caller manages: all for a system admin, else those dedicated to groups
/// they own or administer.
pub async fn list(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<AccountView>, ServiceError> {
    let rows = if principal.is_system_admin() {
        accounts::list_all(state.db()).await?
    } else {
        accounts::list_dedicated(state.db(), principal.user.id).await?
    };
    let bindings = accounts::list_bindings(state.db()).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let groups = bindings
                .iter()
                .filter(|b| b.account_id == row.id)
                .map(|b| b.group_id)
                .collect();
            let mut v = view(row, groups);
            v.health = Some(health_view(state, row.id));
            v
        })
        .collect())
}

/// One account.
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<AccountView, ServiceError> {
    let row = managed(state, principal, id).await?;
    let mut v = view(&row, bound_groups(state, id).await?);
    v.health = Some(health_view(state, id));
    Ok(v)
}

/// Adds an account. One dedicated to a group is bound to it at once.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    input: AccountInput,
) -> Result<AccountView, ServiceError> {
    let provider = Provider::parse(input.provider.trim()).ok_or_else(|| {
        rule(
            "provider",
            "must be one of openai, anthropic, gemini, openai_compatible",
        )
    })?;
    require_manager(state, principal, input.group_id).await?;
    let models = check_models(&input.models)?;
    let checked = Checked {
        name: check_name(&input.name)?,
        base_url: check_base_url(provider, &input.base_url)?,
        api_key: Some(check_key(&input.api_key)?),
        aliases: check_aliases(&input.model_aliases, &models)?,
        models,
        proxy_url: input.proxy_url,
        weight: check_weight(input.weight, 1)?,
        priority: check_priority(input.priority, 0)?,
        enabled: input.enabled.unwrap_or(true),
    };
    let proxy = check_proxy(checked.proxy_url.as_deref())?;
    let vault = state.gateway().vault();
    let key = checked.api_key.unwrap_or_default();
    let sealed_key = vault.seal(&key);
    let sealed_proxy = proxy.as_ref().map(|(raw, _)| vault.seal(raw));
    let models_json = serde_json::to_string(&checked.models).unwrap_or_else(|_| "[]".into());
    let aliases_json = serde_json::to_string(&checked.aliases).unwrap_or_else(|_| "{}".into());
    let now = now_ms();
    let id = accounts::create(
        state.db(),
        &NewAccount {
            name: &checked.name,
            provider: provider.as_str(),
            base_url: &checked.base_url,
            api_key_enc: &sealed_key,
            api_key_last4: &last4(&key),
            models: &models_json,
            model_aliases: &aliases_json,
            proxy_url_enc: sealed_proxy.as_deref(),
            proxy_display: proxy.as_ref().map(|(_, shown)| shown.as_str()),
            weight: i64::from(checked.weight),
            priority: i64::from(checked.priority),
            group_id: input.group_id,
            enabled: checked.enabled,
            max_concurrency: cap(input.max_concurrency.map(u64::from)),
            rpm_limit: cap(input.rpm_limit.map(u64::from)),
            tpm_limit: cap(input.tpm_limit),
            created_by: principal.user.id,
        },
        now,
    )
    .await?;
    if let Some(group_id) = input.group_id {
        accounts::bind(state.db(), group_id, id, None, None, now).await?;
    }
    reload(state).await;
    get(state, principal, id).await
}

/// Changes an account; absent fields stay.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: i64,
    patch: AccountPatch,
) -> Result<AccountView, ServiceError> {
    let row = managed(state, principal, id).await?;
    let provider = Provider::parse(&row.provider).unwrap_or(Provider::OpenAiCompatible);
    let vault = state.gateway().vault();
    let models = match &patch.models {
        Some(models) => check_models(models)?,
        None => serde_json::from_str(&row.models).unwrap_or_default(),
    };
    let aliases = match &patch.model_aliases {
        Some(aliases) => check_aliases(aliases, &models)?,
        None => {
            let current: BTreeMap<String, String> =
                serde_json::from_str(&row.model_aliases).unwrap_or_default();
            check_aliases(&current, &models)?
        }
    };
    let (api_key_enc, api_key_last4) = match patch.api_key.as_deref() {
        Some(key) => {
            let key = check_key(key)?;
            (vault.seal(&key), last4(&key))
        }
        None => (row.api_key_enc.clone(), row.api_key_last4.clone()),
    };
    let (proxy_enc, proxy_display) = match patch.proxy_url.as_deref() {
        Some(p) => match check_proxy(Some(p))? {
            Some((raw, shown)) => (Some(vault.seal(&raw)), Some(shown)),
            None => (None, None),
        },
        None => (row.proxy_url_enc.clone(), row.proxy_display.clone()),
    };
    let name = match &patch.name {
        Some(name) => check_name(name)?,
        None => row.name.clone(),
    };
    let base_url = match &patch.base_url {
        Some(url) => check_base_url(provider, url)?,
        None => row.base_url.clone(),
    };
    let weight = check_weight(patch.weight, u32::try_from(row.weight).unwrap_or(1))?;
    let priority = check_priority(patch.priority, i32::try_from(row.priority).unwrap_or(0))?;
    let models_json = serde_json::to_string(&models).unwrap_or_else(|_| "[]".into());
    let aliases_json = serde_json::to_string(&aliases).unwrap_or_else(|_| "{}".into());
    // Strictly increasing, so other nodes notice the change even within one millisecond.
    let now = now_ms().max(row.updated_at + 1);
    accounts::update(
        state.db(),
        id,
        &NewAccount {
            name: &name,
            provider: provider.as_str(),
            base_url: &base_url,
            api_key_enc: &api_key_enc,
            api_key_last4: &api_key_last4,
            models: &models_json,
            model_aliases: &aliases_json,
            proxy_url_enc: proxy_enc.as_deref(),
            proxy_display: proxy_display.as_deref(),
            weight: i64::from(weight),
            priority: i64::from(priority),
            group_id: row.group_id,
            enabled: patch.enabled.unwrap_or(row.enabled),
            max_concurrency: patch
                .max_concurrency
                .map_or(row.max_concurrency, |v| cap(Some(u64::from(v)))),
            rpm_limit: patch
                .rpm_limit
                .map_or(row.rpm_limit, |v| cap(Some(u64::from(v)))),
            tpm_limit: patch.tpm_limit.map_or(row.tpm_limit, |v| cap(Some(v))),
            created_by: row.created_by,
        },
        now,
    )
    .await?;
    // A changed account gets a fresh start: a fixed key must not stay out.
    state.gateway().counters().clear_health(id).await;
    reload(state).await;
    get(state, principal, id).await
}

/// Deletes an account and its bindings.
pub async fn delete(state: &AppState, principal: &Principal, id: i64) -> Result<(), ServiceError> {
    managed(state, principal, id).await?;
    accounts::delete(state.db(), id).await?;
    reload(state).await;
    Ok(())
}

/// Makes a minimal real call (listing the provider's models, which costs no tokens) and
/// reports the latency or the error; the outcome is kept on the account.
pub async fn test(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<AccountTestView, ServiceError> {
    managed(state, principal, id).await?;
    let catalog = state.gateway().catalog().await?;
    let account = catalog.account(id).cloned().ok_or_else(|| {
        ServiceError::Conflict(
            "the account cannot be used: its stored key does not decrypt with this MASTER_KEY"
                .to_owned(),
        )
    })?;
    let started = Instant::now();
    let outcome = match crate::gateway::upstream::models_request(&account) {
        Ok(request) => account.client.send(request, TEST_TIMEOUT).await,
        Err(e) => Err(e),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let view = match outcome {
        Err(e) => AccountTestView {
            ok: false,
            latency_ms,
            status: None,
            error: Some(describe_transport(&e)),
            models: Vec::new(),
        },
        Ok(response) => {
            let status = response.status().as_u16();
            // A models list is small; a provider's list past 8 MiB is not read.
            let body: Value = response
                .bytes(8 << 20)
                .await
                .ok()
                .flatten()
                .and_then(|raw| serde_json::from_slice(&raw).ok())
                .unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                let models = body
                    .get("data")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                AccountTestView {
                    ok: true,
                    latency_ms,
                    status: Some(status),
                    error: None,
                    models,
                }
            } else {
                let detail = body
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(|m| crate::gateway::error::scrub(m, account.api_key.expose()))
                    .unwrap_or_default();
                AccountTestView {
                    ok: false,
                    latency_ms,
                    status: Some(status),
                    error: Some(format!(
                        "the provider answered HTTP {status}{}{detail}",
                        if detail.is_empty() { "" } else { ": " }
                    )),
                    models: Vec::new(),
                }
            }
        }
    };
    if view.ok {
        state.gateway().counters().clear_health(id).await;
    }
    accounts::record_health(
        state.db(),
        id,
        view.error.as_deref(),
        Some(i64::try_from(latency_ms).unwrap_or(i64::MAX)),
        now_ms(),
    )
    .await?;
    Ok(view)
}

/// How long the connection test waits for the provider.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

fn describe_transport(e: &crate::gateway::client::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", TEST_TIMEOUT.as_secs())
    } else {
        // The client's messages name what failed: connecting, the proxy, TLS or the request.
        e.to_string()
    }
}

/// The accounts bound to a group (any member may see them).
pub async fn bindings(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
) -> Result<Vec<BindingView>, ServiceError> {
    access(state, principal, group_id).await?;
    let rows = accounts::bindings_of_group(state.db(), group_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for b in rows {
        let Some(account) = accounts::find(state.db(), b.account_id).await? else {
            continue;
        };
        let v = view(&account, Vec::new());
        let mut models = v.models.clone();
        models.extend(v.model_aliases.keys().cloned());
        out.push(BindingView {
            account_id: v.id,
            name: v.name,
            provider: v.provider,
            models,
            priority: b
                .priority
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(v.priority),
            weight: b
                .weight
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(v.weight),
            enabled: v.enabled,
            dedicated: v.group_id == Some(group_id),
            last_error: v.last_error,
        });
    }
    Ok(out)
}

/// Binds an account to a group (or changes the binding's priority and weight). The group's
/// owners and admins bind the group's own accounts; shared system accounts are bound by a
/// system admin.
pub async fn bind(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    input: BindingInput,
) -> Result<BindingView, ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "bind accounts to the group")?;
    let account = accounts::find(state.db(), input.account_id)
        .await?
        .ok_or(ServiceError::NotFound("account"))?;
    match account.group_id {
        Some(owner) if owner != group_id => {
            return Err(ServiceError::Conflict(
                "this account is dedicated to another group".to_owned(),
            ));
        }
        None if !principal.is_system_admin() => {
            return Err(ServiceError::Forbidden(
                "only a system administrator can share a system account with a group".to_owned(),
            ));
        }
        _ => {}
    }
    let weight = input.weight.map(|w| check_weight(Some(w), 1)).transpose()?;
    let priority = input
        .priority
        .map(|p| check_priority(Some(p), 0))
        .transpose()?;
    accounts::bind(
        state.db(),
        group_id,
        account.id,
        priority.map(i64::from),
        weight.map(i64::from),
        now_ms(),
    )
    .await?;
    reload(state).await;
    bindings(state, principal, group_id)
        .await?
        .into_iter()
        .find(|b| b.account_id == account.id)
        .ok_or(ServiceError::NotFound("account"))
}

/// Removes a binding.
pub async fn unbind(
    state: &AppState,
    principal: &Principal,
    group_id: i64,
    account_id: i64,
) -> Result<(), ServiceError> {
    let access = access(state, principal, group_id).await?;
    require(access, GroupRole::Admin, "unbind accounts from the group")?;
    if !accounts::unbind(state.db(), group_id, account_id).await? {
        return Err(ServiceError::NotFound("binding"));
    }
    reload(state).await;
    Ok(())
}
