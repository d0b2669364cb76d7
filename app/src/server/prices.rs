//! Server functions of the prices page (system administrators only): the price table with
//! overrides marked, setting and removing an override, and the instance's USD->CNY display
//! rate. Prices are typed in US dollars per
//! million tokens and read exactly into micro-USD; a wrong field is named with the rule in the
//! reader's language.

use aicarpool::model::{MoneyDisplay, PriceView, SettingsView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One model's line of the price table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    /// The price in force (`source` says whether it is built in or an override).
    pub price: PriceView,
    /// The built-in price of exactly this model, when it has one (shown under an override,
    /// and what resetting the override brings back).
    pub built_in: Option<PriceView>,
}

/// Everything the prices page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesOverview {
    /// Every model with a price, by name.
    pub lines: Vec<PriceLine>,
    /// The instance's settings (the USD->CNY rate).
    pub settings: SettingsView,
    /// How the caller sees amounts.
    pub display: MoneyDisplay,
}

/// Refuses anyone but a system administrator (the page is theirs alone).
#[cfg(feature = "ssr")]
fn require_system_admin(
    principal: &aicarpool::identity::Principal,
) -> Result<(), aicarpool::error::ServiceError> {
    if principal.is_system_admin() {
        Ok(())
    } else {
        Err(aicarpool::error::ServiceError::Forbidden(
            "only a system administrator can see and change prices".into(),
        ))
    }
}

/// The prices page: `None` when signed out; 403 for anyone but a system administrator.
#[server(prefix = "/rpc", endpoint = "load_prices")]
pub async fn load_prices() -> Result<Option<PricesOverview>, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let Some(principal) = ssr::caller(&state).await? else {
        return Ok(None);
    };
    require_system_admin(&principal)?;
    let built_in = |model: &str| {
        aicarpool::pricing::BUILT_IN
            .iter()
            .find(|(name, _)| *name == model)
            .map(|(name, p)| PriceView {
                model: (*name).to_owned(),
                input: p.input,
                output: p.output,
                cache_read: p.cache_read,
                cache_write: p.cache_write,
                source: "built_in".into(),
            })
    };
    let lines = aicarpool::limits::prices(&state)
        .await?
        .into_iter()
        .map(|price| PriceLine {
            built_in: built_in(&price.model),
            price,
        })
        .collect();
    Ok(Some(PricesOverview {
        lines,
        settings: aicarpool::currency::settings(&state).await?,
        display: aicarpool::currency::display(&state, &principal.user).await?,
    }))
}

/// Sets the price override of `model` (system administrator): each price in US dollars per
/// million tokens, such as `2.5` or `0.075`, at most 6 decimals.
#[server(prefix = "/rpc", endpoint = "set_price")]
pub async fn set_price(
    model: String,
    input: String,
    output: String,
    cache_read: String,
    cache_write: String,
) -> Result<Vec<PriceView>, AppError> {
    use super::ssr;
    use crate::money::{check_model, check_price};

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    require_system_admin(&principal)?;
    let t = crate::i18n::texts(crate::i18n::initial_locale());
    let model = check_model(t, &model).map_err(|e| ssr::rule("model", e))?;
    let price = |field: &'static str, text: &str| {
        check_price(t, text)
            .map(|v| u64::try_from(v).unwrap_or(0))
            .map_err(|e| ssr::rule(field, e))
    };
    let view = PriceView {
        model,
        input: price("input", &input)?,
        output: price("output", &output)?,
        cache_read: price("cache_read", &cache_read)?,
        cache_write: price("cache_write", &cache_write)?,
        source: "override".into(),
    };
    Ok(aicarpool::limits::set_price(&state, &principal, view).await?)
}

/// Removes the price override of `model` (system administrator): its built-in price applies
/// again, or none for a model without one.
#[server(prefix = "/rpc", endpoint = "reset_price")]
pub async fn reset_price(model: String) -> Result<(), AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::limits::delete_price(&state, &principal, model.trim()).await?)
}

/// Sets the USD->CNY rate amounts are shown at (system administrator): yuan per US dollar,
/// such as `7.2`, at most 4 decimals.
#[server(prefix = "/rpc", endpoint = "set_cny_rate")]
pub async fn set_cny_rate(cny_per_usd: String) -> Result<SettingsView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    require_system_admin(&principal)?;
    let t = crate::i18n::texts(crate::i18n::initial_locale());
    crate::money::check_rate(t, &cny_per_usd).map_err(|e| ssr::rule("cny_per_usd", e))?;
    Ok(aicarpool::currency::set_rate(&state, &principal, Some(&cny_per_usd)).await?)
}

/// Goes back to the `CNY_PER_USD` default rate (system administrator).
#[server(prefix = "/rpc", endpoint = "reset_cny_rate")]
pub async fn reset_cny_rate() -> Result<SettingsView, AppError> {
    use super::ssr;

    let state = ssr::app_state()?;
    let principal = ssr::signed_in_for_change(&state).await?;
    Ok(aicarpool::currency::set_rate(&state, &principal, None).await?)
}
