//! The display currency: each user's choice of USD or CNY for amounts in the browser, and the
//! instance-wide USD->CNY rate the system administrator sets (the `CNY_PER_USD` setting until
//! then). Amounts stay integer micro-USD everywhere; this only decides how they are shown.

use crate::db::{now_ms, settings, users};
use crate::error::ServiceError;
use crate::identity::{Principal, user_view};
use crate::model::{MoneyDisplay, SettingsView, UserView};
use crate::money::{self, Currency};
use crate::state::AppState;
use crate::validate::FieldError;

fn rule(field: &'static str, text: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        error: FieldError::Rule(text.into()),
    }
}

/// Reads a submitted currency code (`USD` or `CNY`).
pub fn parse_currency(value: &str) -> Result<Currency, ServiceError> {
    Currency::parse(value).ok_or_else(|| rule("currency", "must be USD or CNY"))
}

/// The rate in force: the one the administrator set, else the configured default.
pub async fn rate(state: &AppState) -> Result<i64, ServiceError> {
    Ok(settings::rate(state.db())
        .await?
        .cny_per_usd_e4
        .filter(|r| *r > 0)
        .unwrap_or(state.config().cny_per_usd))
}

/// How `user` sees amounts.
pub async fn display(
    state: &AppState,
    user: &users::UserRow,
) -> Result<MoneyDisplay, ServiceError> {
    Ok(MoneyDisplay {
        currency: Currency::parse(&user.currency).unwrap_or_default(),
        cny_per_usd_e4: rate(state).await?,
    })
}

/// `GET /api/settings`: the instance-wide settings (any signed-in user may read them).
pub async fn settings(state: &AppState) -> Result<SettingsView, ServiceError> {
    let row = settings::rate(state.db()).await?;
    let default = state.config().cny_per_usd;
    let set = row.cny_per_usd_e4.filter(|r| *r > 0);
    let rate = set.unwrap_or(default);
    Ok(SettingsView {
        cny_per_usd: money::rate_text(rate),
        cny_per_usd_e4: rate,
        cny_per_usd_source: if set.is_some() { "admin" } else { "config" }.to_owned(),
        cny_per_usd_default: money::rate_text(default),
        cny_per_usd_updated_at: row.cny_per_usd_updated_at,
    })
}

/// Sets the USD->CNY rate (system administrator): a decimal such as `7.2` or `7.1234`; `None`
/// goes back to the `CNY_PER_USD` default.
pub async fn set_rate(
    state: &AppState,
    principal: &Principal,
    rate: Option<&str>,
) -> Result<SettingsView, ServiceError> {
    if !principal.is_system_admin() {
        return Err(ServiceError::Forbidden(
            "only a system administrator can change the exchange rate".into(),
        ));
    }
    let rate = rate
        .map(|text| {
            money::parse_rate(text)
                .map_err(|e| rule("cny_per_usd", format!("{e} (yuan per US dollar)")))
        })
        .transpose()?;
    settings::set_rate(state.db(), rate, principal.user.id, now_ms()).await?;
    settings(state).await
}

/// Sets the caller's display currency.
pub async fn set_currency(
    state: &AppState,
    principal: &Principal,
    currency: &str,
) -> Result<UserView, ServiceError> {
    let currency = parse_currency(currency)?;
    users::set_currency(state.db(), principal.user.id, currency.as_str()).await?;
    let user = users::find_by_id(state.db(), principal.user.id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(user_view(&user))
}
