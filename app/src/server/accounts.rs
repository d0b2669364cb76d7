//! Server functions of upstream accounts and their bindings to groups: the accounts page
//! (system admins manage shared accounts, group owners and admins their groups' dedicated
//! ones) and the group page's accounts section. Permissions are the services'
//! (`aicarpool::accounts`); the pages only hide what the caller's role cannot use. API keys
//! go in and never come back out: views carry only their last 4 characters.

use aicarpool::model::{AccountTestView, AccountView, BindingView, Provider};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A group by id and name, for selects and labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChoice {
    /// Group id.
    pub id: i64,
    /// Group name.
    pub name: String,
}

/// Everything the accounts page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountsOverview {
    /// The accounts the caller manages.
    pub accounts: Vec<AccountView>,
    /// The caller is a system administrator (manages shared system accounts).
    pub system_admin: bool,
    /// Groups the caller may dedicate a new account to (those they own or administer).
    pub groups: Vec<GroupChoice>,
    /// Names of the groups the accounts belong or are bound to.
    pub group_names: Vec<GroupChoice>,
}

impl AccountsOverview {
    /// A group's name, or `#id` for one the caller cannot see.
    pub fn group_name(&self, id: i64) -> String {
        self.group_names
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    }
}

/// An account a group's admin may bind to the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChoice {
    /// Account id.
    pub id: i64,
    /// Account name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// A shared system account (rather than one dedicated to the group).
    pub system: bool,
}

/// The outcome of a connection test, with the account it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The account tested.
    pub account_id: i64,
    /// Latency or error, and the models the provider listed.
    pub result: AccountTestView,
}

/// The accounts page; `None` when signed out, "not found" for a user who manages no account
/// (neither a system admin nor an owner or admin of any group).
#[server(prefix = "/rpc", endpoint = "list_accounts")]
pub async fn load_accounts() -> Result<Option<AccountsOverview>, AppError> {
    use super::ssr;
    use aicarpool::error::ServiceError;
    use aicarpool::model::GroupRole;

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    let system_admin = principal.is_system_admin();
    let mine = aicarpool::groups::list(&state, &principal).await?;
    let groups: Vec<GroupChoice> = mine
        .iter()
        .filter(|g| g.role.is_some_and(|r| r >= GroupRole::Admin))
        .map(|g| GroupChoice {
            id: g.id,
            name: g.name.clone(),
        })
        .collect();
    if !system_admin && groups.is_empty() {
        return Err(ServiceError::NotFound("page").into());
    }
    let accounts = aicarpool::accounts::list(&state, &principal).await?;
    let mut group_names: Vec<GroupChoice> = mine
        .into_iter()
        .map(|g| GroupChoice {
            id: g.id,
            name: g.name,
        })
        .collect();
    let wanted = accounts
        .iter()
        .flat_map(|a| a.bound_groups.iter().copied().chain(a.group_id));
    for id in wanted.collect::<std::collections::BTreeSet<_>>() {
        if group_names.iter().any(|g| g.id == id) {
            continue;
        }
        if let Ok(g) = aicarpool::groups::get(&state, &principal, id).await {
            group_names.push(GroupChoice { id, name: g.name });
        }
    }
    Ok(Some(AccountsOverview {
        accounts,
        system_admin,
        groups,
        group_names,
    }))
}

pub use form::{CreateAccount, UpdateAccount, create_account, update_account};

/// The server functions of the add and edit forms, which take one argument per form field.
#[expect(clippy::too_many_arguments, reason = "one argument per form field")]
mod form {
    use aicarpool::model::AccountView;
    use leptos::prelude::*;

    use crate::error::AppError;

    /// Adds an account: a shared system account (system admins) when `group_id` is empty, else
    /// one dedicated to that group (its owners and admins), bound to it at once.
    #[server(prefix = "/rpc", endpoint = "create_account")]
    pub async fn create_account(
        name: String,
        provider: String,
        base_url: String,
        api_key: String,
        models: String,
        model_aliases: String,
        proxy_url: String,
        weight: String,
        priority: String,
        group_id: String,
        max_concurrency: Option<String>,
        rpm_limit: Option<String>,
        tpm_limit: Option<String>,
    ) -> Result<AccountView, AppError> {
        use crate::server::ssr;
        use aicarpool::model::AccountInput;

        let state = ssr::app_state()?;
        let principal = ssr::signed_in_for_change(&state).await?;
        let input = AccountInput {
            name,
            provider,
            base_url,
            api_key,
            models: ssr::split_list(&models),
            model_aliases: ssr::parse_aliases(&model_aliases)?,
            proxy_url: Some(proxy_url).filter(|p| !p.trim().is_empty()),
            weight: ssr::optional_in("weight", &weight)?,
            priority: ssr::optional_in("priority", &priority)?,
            group_id: ssr::optional_number("group_id", &group_id)?,
            enabled: Some(true),
            max_concurrency: cap("max_concurrency", max_concurrency.as_deref())?,
            rpm_limit: cap("rpm_limit", rpm_limit.as_deref())?,
            tpm_limit: cap("tpm_limit", tpm_limit.as_deref())?,
        };
        Ok(aicarpool::accounts::create(&state, &principal, input).await?)
    }

    /// Changes an account. An empty API key or proxy keeps the current one; `remove_proxy`
    /// removes the proxy.
    #[server(prefix = "/rpc", endpoint = "update_account")]
    pub async fn update_account(
        id: i64,
        name: String,
        base_url: String,
        api_key: String,
        models: String,
        model_aliases: String,
        proxy_url: String,
        remove_proxy: Option<String>,
        weight: String,
        priority: String,
        max_concurrency: Option<String>,
        rpm_limit: Option<String>,
        tpm_limit: Option<String>,
    ) -> Result<AccountView, AppError> {
        use crate::server::ssr;
        use aicarpool::model::AccountPatch;

        let state = ssr::app_state()?;
        let principal = ssr::signed_in_for_change(&state).await?;
        let proxy_url = if remove_proxy.is_some() {
            Some(String::new())
        } else {
            Some(proxy_url).filter(|p| !p.trim().is_empty())
        };
        let patch = AccountPatch {
            name: Some(name),
            base_url: Some(base_url),
            api_key: Some(api_key).filter(|k| !k.trim().is_empty()),
            models: Some(ssr::split_list(&models)),
            model_aliases: Some(ssr::parse_aliases(&model_aliases)?),
            proxy_url,
            weight: ssr::optional_in("weight", &weight)?,
            priority: ssr::optional_in("priority", &priority)?,
            // The edit form shows the current caps: a field emptied there (which arrives as
            // absent) means "no cap".
            max_concurrency: cap("max_concurrency", Some(or_zero(max_concurrency.as_deref())))?,
            rpm_limit: cap("rpm_limit", Some(or_zero(rpm_limit.as_deref())))?,
            tpm_limit: cap("tpm_limit", Some(or_zero(tpm_limit.as_deref())))?,
            ..AccountPatch::default()
        };
        Ok(aicarpool::accounts::update(&state, &principal, id, patch).await?)
    }

    /// A cap field: absent (an older form) or empty leaves it unset; 0 means no cap.
    #[cfg(feature = "ssr")]
    fn cap<T: TryFrom<i64>>(
        field: &'static str,
        value: Option<&str>,
    ) -> Result<Option<T>, aicarpool::error::ServiceError> {
        crate::server::ssr::optional_in(field, value.unwrap_or(""))
    }

    /// An emptied field of the edit form: no cap.
    #[cfg(feature = "ssr")]
    fn or_zero(value: Option<&str>) -> &str {
        match value {
            Some(v) if !v.trim().is_empty() => v,
            _ => "0",
        }
    }
}

/// Turns an account on (`enabled` = `true`) or off.
#[server(prefix = "/rpc", endpoint = "set_account_enabled")]
pub async fn set_account_enabled(id: i64, enabled: String) -> Result<AccountView, AppError> {
    use super::ssr;
    use aicarpool::model::AccountPatch;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let patch = AccountPatch {
        enabled: Some(enabled == "true"),
        ..AccountPatch::default()
    };
    Ok(aicarpool::accounts::update(&state, &principal, id, patch).await?)
}

/// Deletes an account and its bindings.
#[server(prefix = "/rpc", endpoint = "delete_account")]
pub async fn delete_account(id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::accounts::delete(&state, &principal, id).await?)
}

/// Calls the provider once (listing its models, which costs no tokens) and reports back.
#[server(prefix = "/rpc", endpoint = "test_account")]
pub async fn test_account(id: i64) -> Result<TestOutcome, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let result = aicarpool::accounts::test(&state, &principal, id).await?;
    Ok(TestOutcome {
        account_id: id,
        result,
    })
}

/// Binds an account to group `id`, or changes the binding's priority and weight (empty: the
/// account's own).
#[server(prefix = "/rpc", endpoint = "bind_account")]
pub async fn bind_account(
    id: i64,
    account_id: i64,
    priority: String,
    weight: String,
) -> Result<BindingView, AppError> {
    use super::ssr;
    use aicarpool::model::BindingInput;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    let input = BindingInput {
        account_id,
        priority: ssr::optional_in("priority", &priority)?,
        weight: ssr::optional_in("weight", &weight)?,
    };
    Ok(aicarpool::accounts::bind(&state, &principal, id, input).await?)
}

/// Removes an account from group `id`.
#[server(prefix = "/rpc", endpoint = "unbind_account")]
pub async fn unbind_account(id: i64, account_id: i64) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::accounts::unbind(&state, &principal, id, account_id).await?)
}

/// The accounts bound to a group, and for its admins the accounts they could bind to it.
#[cfg(feature = "ssr")]
pub async fn group_accounts(
    state: &aicarpool::state::AppState,
    principal: &aicarpool::identity::Principal,
    group_id: i64,
    admin: bool,
) -> Result<(Vec<BindingView>, Vec<AccountChoice>), AppError> {
    let bound = aicarpool::accounts::bindings(state, principal, group_id).await?;
    if !admin {
        return Ok((bound, Vec::new()));
    }
    let system_admin = principal.is_system_admin();
    let bindable = aicarpool::accounts::list(state, principal)
        .await?
        .into_iter()
        .filter(|a| match a.group_id {
            None => system_admin,
            Some(g) => g == group_id,
        })
        .filter(|a| !bound.iter().any(|b| b.account_id == a.id))
        .map(|a| AccountChoice {
            id: a.id,
            name: a.name,
            provider: a.provider,
            system: a.group_id.is_none(),
        })
        .collect();
    Ok((bound, bindable))
}
