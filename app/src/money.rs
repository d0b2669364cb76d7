//! Amounts as the reader sees them: in US dollars, or in yuan at the instance's rate, as the
//! signed-in user chose on their profile. Amounts arrive as integer micro-USD and are converted
//! exactly (rounded once, half up, to the micro-yuan) before they are written out. Also the
//! checks of amounts typed into forms, in the reader's language, shared by the browser (as you
//! type) and the server functions (on submit).

use aicarpool::model::{LimitMetric, MeView, MoneyDisplay};
use aicarpool::money::{self, AmountError, Currency, MICROS};

use crate::charts::compact;
use crate::i18n::Texts;
use crate::session::Session;

/// How amounts are shown on this page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Money(pub MoneyDisplay);

/// The largest price accepted: a million US dollars per million tokens (in micro-USD).
pub const PRICE_MAX: i64 = 1_000_000 * MICROS;

impl Money {
    /// In US dollars (signed out, or the default).
    pub const USD: Money = Money(MoneyDisplay {
        currency: Currency::Usd,
        cny_per_usd_e4: money::DEFAULT_CNY_PER_USD,
    });

    /// How the signed-in user wants amounts shown; US dollars when signed out.
    pub fn of(me: Option<&MeView>) -> Money {
        me.map(|me| Money(me.display)).unwrap_or(Money::USD)
    }

    /// The currency shown.
    pub fn currency(self) -> Currency {
        self.0.currency
    }

    /// Micro-USD in micro-units of the shown currency.
    pub fn micros(self, usd_micros: i64) -> i64 {
        match self.0.currency {
            Currency::Usd => usd_micros,
            Currency::Cny => money::usd_to_cny(usd_micros, self.0.cny_per_usd_e4),
        }
    }

    /// Micro-USD as text in the shown currency: `$12.50`, `¥90.00`.
    pub fn text(self, usd_micros: i64) -> String {
        money::amount_text(self.0.currency.symbol(), self.micros(usd_micros))
    }

    /// Micro-USD as a chart value in the shown currency (floats for drawing only).
    pub fn chart(self, usd_micros: i64) -> f64 {
        money::micros_f64(self.micros(usd_micros))
    }

    /// How a chart writes values of this currency.
    pub fn axis(self) -> fn(f64) -> String {
        match self.0.currency {
            Currency::Usd => dollars,
            Currency::Cny => yuan,
        }
    }

    /// The caption of a cost chart in this currency.
    pub fn cost_chart_title(self) -> fn(&Texts) -> &'static str {
        match self.0.currency {
            Currency::Usd => |t| t.reports.chart_cost,
            Currency::Cny => |t| t.money.chart_cost_cny,
        }
    }

    /// An amount of a limit's metric in its stored unit: money for cost, whole numbers
    /// otherwise.
    pub fn limit_amount(self, metric: LimitMetric, raw: i64) -> String {
        match metric {
            LimitMetric::Cost => self.text(raw),
            _ => raw.to_string(),
        }
    }
}

/// Dollars for a chart's axis and tooltips.
pub fn dollars(v: f64) -> String {
    format!("${}", compact(v))
}

/// Yuan for a chart's axis and tooltips.
pub fn yuan(v: f64) -> String {
    format!("¥{}", compact(v))
}

/// How the signed-in user of `session` wants amounts shown (waits for the session to load).
pub async fn current(session: Session) -> Money {
    match session.user.await {
        Ok(me) => Money::of(me.as_ref()),
        Err(_) => Money::USD,
    }
}

/// Micro-USD as the exact decimal a form shows for editing: `2500000` -> `2.5`, `0` -> `0`.
pub fn usd_input(micros: i64) -> String {
    let text = money::micros_text(micros);
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_owned()
}

/// A price typed in US dollars per million tokens: 0 or more, at most 6 decimals, at most
/// [`PRICE_MAX`]; micro-USD per million tokens.
pub fn check_price(t: &Texts, text: &str) -> Result<i64, String> {
    match money::parse_micros(text) {
        Ok(v) if v < 0 => Err(t.money.err_price.to_owned()),
        Ok(v) if v > PRICE_MAX => Err(t.money.err_price_large.to_owned()),
        Ok(v) => Ok(v),
        Err(AmountError::TooLarge) => Err(t.money.err_price_large.to_owned()),
        Err(_) => Err(t.money.err_price.to_owned()),
    }
}

/// A model name for a price: 1 to 200 characters, no control characters.
pub fn check_model(t: &Texts, text: &str) -> Result<String, String> {
    let model = text.trim().to_ascii_lowercase();
    let n = model.chars().count();
    if n == 0 || n > 200 || model.chars().any(char::is_control) {
        return Err(t.money.err_model.to_owned());
    }
    Ok(model)
}

/// A limit's cap as typed: US dollars above 0 for cost (micro-USD), else a whole number above 0.
pub fn check_cap(t: &Texts, metric: LimitMetric, text: &str) -> Result<i64, String> {
    match metric {
        LimitMetric::Cost => match money::parse_micros(text) {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(t.money.err_cap_cost.to_owned()),
        },
        _ => match text.trim().parse::<i64>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(t.money.err_cap_whole.to_owned()),
        },
    }
}

/// Warning thresholds as typed: up to 5 whole percentages from 1 to 100, comma separated (a
/// `%` after each is fine); empty means the default 80, 100.
pub fn check_warn_at(t: &Texts, text: &str) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = text
        .split(',')
        .map(|p| p.trim().trim_end_matches('%').trim())
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = Vec::new();
    for part in &parts {
        match part.parse::<u8>() {
            Ok(p) if (1..=100).contains(&p) => out.push(p),
            _ => return Err(t.money.err_warn_at.to_owned()),
        }
    }
    if out.len() > 5 {
        return Err(t.money.err_warn_at.to_owned());
    }
    Ok(out)
}

/// A USD->CNY rate as typed (ten-thousandths of CNY per USD).
pub fn check_rate(t: &Texts, text: &str) -> Result<i64, String> {
    money::parse_rate(text).map_err(|_| t.money.err_rate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{EN, ZH_CN};

    fn cny(rate: i64) -> Money {
        Money(MoneyDisplay {
            currency: Currency::Cny,
            cny_per_usd_e4: rate,
        })
    }

    #[test]
    fn amounts_follow_the_chosen_currency_exactly() {
        assert_eq!(Money::USD.text(25_500_000), "$25.50");
        assert_eq!(cny(72_000).text(25_500_000), "¥183.60");
        assert_eq!(cny(72_000).text(1_234), "¥0.008885");
        // 0.5 micro-yuan rounds up, once.
        assert_eq!(cny(71_000).text(5), "¥0.000036");
        assert_eq!(cny(71_234).micros(123_457), 879_434);
        assert_eq!(cny(72_000).chart(1_000_000), 7.2);
        assert_eq!(
            Money::USD.limit_amount(LimitMetric::Cost, 5_000_000),
            "$5.00"
        );
        assert_eq!(cny(72_000).limit_amount(LimitMetric::Tokens, 1_500), "1500");
        assert_eq!((cny(72_000).axis())(7.2), "¥7.20");
        assert_eq!((Money::USD.axis())(0.5), "$0.5000");
    }

    #[test]
    fn typed_amounts_are_checked_in_the_readers_language() {
        assert_eq!(check_price(&EN, "2.5"), Ok(2_500_000));
        assert_eq!(check_price(&EN, "0"), Ok(0));
        assert_eq!(check_price(&EN, "0.075"), Ok(75_000));
        assert!(check_price(&EN, "-1").is_err());
        assert!(check_price(&EN, "1.0000001").is_err());
        assert_eq!(
            check_price(&EN, "1000001"),
            Err(EN.money.err_price_large.to_owned())
        );
        assert_eq!(
            check_price(&ZH_CN, "abc"),
            Err(ZH_CN.money.err_price.to_owned())
        );
        assert_eq!(check_model(&EN, " GPT-4o "), Ok("gpt-4o".to_owned()));
        assert!(check_model(&EN, "  ").is_err());
        assert_eq!(check_cap(&EN, LimitMetric::Cost, "12.5"), Ok(12_500_000));
        assert!(check_cap(&EN, LimitMetric::Cost, "0").is_err());
        assert!(check_cap(&EN, LimitMetric::Requests, "1.5").is_err());
        assert_eq!(check_cap(&EN, LimitMetric::Tokens, "100"), Ok(100));
        assert_eq!(check_warn_at(&EN, "50%, 90, 100"), Ok(vec![50, 90, 100]));
        assert_eq!(check_warn_at(&EN, ""), Ok(vec![]));
        assert!(check_warn_at(&EN, "0").is_err());
        assert!(check_warn_at(&EN, "101").is_err());
        assert!(check_warn_at(&EN, "1,2,3,4,5,6").is_err());
        assert_eq!(check_rate(&EN, "7.2"), Ok(72_000));
        assert!(check_rate(&ZH_CN, "7.12345").is_err());
        assert_eq!(usd_input(2_500_000), "2.5");
        assert_eq!(usd_input(75_000), "0.075");
        assert_eq!(usd_input(0), "0");
        assert_eq!(usd_input(10_000_000), "10");
    }
}
