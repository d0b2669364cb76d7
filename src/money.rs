//! Money as integers: micro-USD parsed exactly from decimal text (no float rounding), shown as
//! exact decimal strings, and split into shares that sum exactly to the whole; the display
//! currency (USD or CNY) and the exact USD->CNY conversion at a rate with four decimals.

/// Micro-units per unit.
pub const MICROS: i64 = 1_000_000;

/// Why a decimal amount was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain decimal number.
    #[error("must be a decimal number such as 10 or 12.50")]
    NotDecimal,
    /// More than six decimal places.
    #[error("at most 6 decimal places (micro-USD)")]
    TooPrecise,
    /// Beyond the largest amount accepted.
    #[error("must be at most 1000000000")]
    TooLarge,
}

/// Reads a decimal such as `10`, `-3.5`, `0.000001` or `1e2` exactly into micro-units. Rust
/// prints a JSON number in its shortest round-trip form, so a number the client typed as
/// `10.01` arrives here as the text `10.01`, never as `10.009999…`.
pub fn parse_micros(text: &str) -> Result<i64, AmountError> {
    let text = text.trim();
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| AmountError::NotDecimal)?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AmountError::NotDecimal);
    }
    // All digits as one integer, and the power of ten it must be divided by.
    let all: String = whole.chars().chain(fraction.chars()).collect();
    let all = all.trim_start_matches('0');
    let scale =
        i64::try_from(fraction.len()).map_err(|_| AmountError::TooLarge)? - i64::from(exponent);
    // value = all * 10^(6 - scale) micro-units.
    let shift = 6 - scale;
    let mut value: i128 = 0;
    for b in all.bytes() {
        value = value * 10 + i128::from(b - b'0');
        if value > 10i128.pow(30) {
            return Err(AmountError::TooLarge);
        }
    }
    let micros = if shift >= 0 {
        let factor = 10i128
            .checked_pow(u32::try_from(shift).map_err(|_| AmountError::TooLarge)?)
            .ok_or(AmountError::TooLarge)?;
        value.checked_mul(factor).ok_or(AmountError::TooLarge)?
    } else {
        let divisor = 10i128
            .checked_pow(u32::try_from(-shift).map_err(|_| AmountError::TooPrecise)?)
            .ok_or(AmountError::TooPrecise)?;
        if value % divisor != 0 {
            return Err(AmountError::TooPrecise);
        }
        value / divisor
    };
    if micros > i128::from(1_000_000_000 * MICROS) {
        return Err(AmountError::TooLarge);
    }
    let micros = i64::try_from(micros).map_err(|_| AmountError::TooLarge)?;
    Ok(if negative { -micros } else { micros })
}

/// Micro-units as an exact decimal with six places: `12500000` -> `12.500000`.
pub fn micros_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// Micro-units as an amount for people: at least two decimals, and up to six when the amount
/// has them (trailing zeros beyond the cents dropped), after `symbol`: `$12.50`, `¥0.001234`,
/// `-$3.00`. Exact: nothing is rounded.
pub fn amount_text(symbol: &str, micros: i64) -> String {
    let text = micros_text(micros);
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let frac = frac.trim_end_matches('0');
    let frac = format!("{frac:0<2}");
    match whole.strip_prefix('-') {
        Some(whole) => format!("-{symbol}{whole}.{frac}"),
        None => format!("{symbol}{whole}.{frac}"),
    }
}

/// The currency amounts are shown in. Amounts are stored and exchanged in USD; CNY is a view.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Currency {
    /// US dollars, as stored.
    #[default]
    #[serde(rename = "USD")]
    Usd,
    /// Chinese yuan, converted at the instance's rate.
    #[serde(rename = "CNY")]
    Cny,
}

impl Currency {
    /// Every currency, in the order they are offered.
    pub const ALL: [Currency; 2] = [Currency::Usd, Currency::Cny];

    /// The stored value and ISO code: `USD`, `CNY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Cny => "CNY",
        }
    }

    /// Reads a stored or submitted code (any case).
    pub fn parse(value: &str) -> Option<Currency> {
        match value.trim().to_ascii_uppercase().as_str() {
            "USD" => Some(Self::Usd),
            "CNY" | "RMB" => Some(Self::Cny),
            _ => None,
        }
    }

    /// The sign written before amounts: `$`, `¥`.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Usd => "$",
            Self::Cny => "¥",
        }
    }
}

/// A USD->CNY rate is stored as an integer of ten-thousandths (`7.2` -> 72 000).
pub const RATE_SCALE: i64 = 10_000;
/// The rate used when none is configured: 7.2 CNY per USD.
pub const DEFAULT_CNY_PER_USD: i64 = 72_000;
/// The largest rate accepted (1000 CNY per USD), far beyond any real one.
pub const RATE_MAX: i64 = 1_000 * RATE_SCALE;

/// Why a rate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a plain decimal number.
    #[error("must be a decimal number such as 7.2 or 7.1234")]
    NotDecimal,
    /// More than four decimal places.
    #[error("at most 4 decimal places")]
    TooPrecise,
    /// Zero, negative, or above [`RATE_MAX`].
    #[error("must be more than 0 and at most 1000")]
    OutOfRange,
}

/// Reads a USD->CNY rate such as `7.2` or `7.1234` exactly into ten-thousandths.
pub fn parse_rate(text: &str) -> Result<i64, RateError> {
    let micros = parse_micros(text).map_err(|e| match e {
        AmountError::NotDecimal => RateError::NotDecimal,
        AmountError::TooPrecise => RateError::TooPrecise,
        AmountError::TooLarge => RateError::OutOfRange,
    })?;
    // Six decimals parsed; a rate keeps four.
    if micros % 100 != 0 {
        return Err(RateError::TooPrecise);
    }
    let rate = micros / 100;
    if rate <= 0 || rate > RATE_MAX {
        return Err(RateError::OutOfRange);
    }
    Ok(rate)
}

/// A rate as an exact decimal with four places: `72000` -> `7.2000`.
pub fn rate_text(rate: i64) -> String {
    let abs = rate.unsigned_abs();
    let sign = if rate < 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}

/// Micro-USD as micro-CNY at `rate` (ten-thousandths of CNY per USD): the exact product,
/// rounded once to the micro-unit, half away from zero (half up for amounts of 0 or more).
pub fn usd_to_cny(micros: i64, rate: i64) -> i64 {
    let product = i128::from(micros) * i128::from(rate);
    let scale = i128::from(RATE_SCALE);
    let half = scale / 2;
    let rounded = if product >= 0 {
        (product + half) / scale
    } else {
        -((-product + half) / scale)
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

/// Micro-units as a float, for charts only.
pub fn micros_f64(micros: i64) -> f64 {
    // Exact in micro-units below 2^53 micro-USD (9 billion USD).
    micros as f64 / 1_000_000.0
}

/// Splits `amount` into shares proportional to `weights` (non-negative), exactly: each share is
/// rounded down, and the micro-units left over go one each to the largest remainders, ties to
/// the earlier entry. The shares always sum to `amount`. All-zero weights split equally.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let all_zero = weights.iter().all(|w| *w <= 0);
    let weights: Vec<i128> = weights
        .iter()
        .map(|w| if all_zero { 1 } else { i128::from((*w).max(0)) })
        .collect();
    let total: i128 = weights.iter().sum();
    let amount = i128::from(amount);
    let mut shares: Vec<i128> = weights
        .iter()
        .map(|w| (amount * w).div_euclid(total))
        .collect();
    let mut left = amount - shares.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; the sort is stable, so ties keep the given order.
    order.sort_by_key(|&i| std::cmp::Reverse((amount * weights[i]).rem_euclid(total)));
    for &i in order.iter().cycle() {
        if left <= 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_micros("10"), Ok(10_000_000));
        assert_eq!(parse_micros("10.01"), Ok(10_010_000));
        assert_eq!(parse_micros(&0.1_f64.to_string()), Ok(100_000));
        assert_eq!(parse_micros(&19.99_f64.to_string()), Ok(19_990_000));
        assert_eq!(parse_micros("0.000001"), Ok(1));
        assert_eq!(parse_micros("1.5e2"), Ok(150_000_000));
        assert_eq!(parse_micros("-2.50"), Ok(-2_500_000));
        assert_eq!(parse_micros("1.0000000"), Ok(1_000_000));
        assert_eq!(parse_micros("0.0000001"), Err(AmountError::TooPrecise));
        assert_eq!(parse_micros("1e40"), Err(AmountError::TooLarge));
        for bad in ["", ".", "abc", "1.2.3", "1,5", "$5", "NaN"] {
            assert_eq!(parse_micros(bad), Err(AmountError::NotDecimal), "{bad}");
        }
        assert_eq!(micros_text(10_000_000), "10.000000");
        assert_eq!(micros_text(-1), "-0.000001");
    }

    #[test]
    fn amounts_for_people_keep_every_digit_and_at_least_cents() {
        assert_eq!(amount_text("$", 12_500_000), "$12.50");
        assert_eq!(amount_text("$", 1_234), "$0.001234");
        assert_eq!(amount_text("¥", 0), "¥0.00");
        assert_eq!(amount_text("$", -3_000_000), "-$3.00");
        assert_eq!(amount_text("¥", 7_200_000), "¥7.20");
    }

    #[test]
    fn currencies_read_their_codes() {
        assert_eq!(Currency::parse("cny"), Some(Currency::Cny));
        assert_eq!(Currency::parse(" USD "), Some(Currency::Usd));
        assert_eq!(Currency::parse("EUR"), None);
        assert_eq!(Currency::Cny.symbol(), "¥");
        assert_eq!(Currency::Usd.as_str(), "USD");
    }

    #[test]
    fn rates_parse_exactly_to_four_decimals() {
        assert_eq!(parse_rate("7.2"), Ok(72_000));
        assert_eq!(parse_rate("7.1234"), Ok(71_234));
        assert_eq!(parse_rate(" 7 "), Ok(70_000));
        assert_eq!(parse_rate("0.0001"), Ok(1));
        assert_eq!(parse_rate("1000"), Ok(RATE_MAX));
        assert_eq!(parse_rate("7.12345"), Err(RateError::TooPrecise));
        assert_eq!(parse_rate("7.1234000"), Ok(71_234));
        assert_eq!(parse_rate("0"), Err(RateError::OutOfRange));
        assert_eq!(parse_rate("-7"), Err(RateError::OutOfRange));
        assert_eq!(parse_rate("1000.0001"), Err(RateError::OutOfRange));
        assert_eq!(parse_rate("1e40"), Err(RateError::OutOfRange));
        assert_eq!(parse_rate("seven"), Err(RateError::NotDecimal));
        assert_eq!(parse_rate(""), Err(RateError::NotDecimal));
        assert_eq!(rate_text(72_000), "7.2000");
        assert_eq!(rate_text(1), "0.0001");
        assert_eq!(parse_rate(&rate_text(71_234)), Ok(71_234));
    }

    #[test]
    fn yuan_are_the_exact_product_rounded_once_half_up() {
        // $1 at 7.2 is exactly ¥7.2.
        assert_eq!(usd_to_cny(1_000_000, 72_000), 7_200_000);
        // 1 micro-USD at 7.2 = 7.2 micro-CNY -> 7.
        assert_eq!(usd_to_cny(1, 72_000), 7);
        // 5 micro-USD at 7.1 = 35.5 -> 36 (a tie goes up).
        assert_eq!(usd_to_cny(5, 71_000), 36);
        // 1 micro-USD at 7.4999 = 7.4999 -> 7; at 7.5 = 7.5 -> 8.
        assert_eq!(usd_to_cny(1, 74_999), 7);
        assert_eq!(usd_to_cny(1, 75_000), 8);
        // Rounded once, not per step: $0.123457 at 7.1234 = ¥0.8794335938 -> 879 434 micro-CNY.
        assert_eq!(usd_to_cny(123_457, 71_234), 879_434);
        assert_eq!(usd_to_cny(0, 72_000), 0);
        // Negative amounts mirror positive ones.
        assert_eq!(usd_to_cny(-5, 71_000), -36);
        // Large amounts do not overflow: a billion dollars at the largest rate.
        assert_eq!(
            usd_to_cny(1_000_000_000 * MICROS, RATE_MAX),
            1_000_000_000_000 * MICROS
        );
        assert_eq!(
            amount_text(Currency::Cny.symbol(), usd_to_cny(25_500_000, 72_000)),
            "¥183.60"
        );
    }

    #[test]
    fn shares_sum_exactly() {
        assert_eq!(
            allocate(10_000_000, &[1, 1, 1]),
            [3_333_334, 3_333_333, 3_333_333]
        );
        assert_eq!(allocate(100, &[0, 0]), [50, 50]);
        assert_eq!(allocate(7, &[1, 2, 0]), [2, 5, 0]);
        let shares = allocate(1_000_001, &[3, 7, 11, 13]);
        assert_eq!(shares.iter().sum::<i64>(), 1_000_001);
        assert_eq!(allocate(5, &[]), Vec::<i64>::new());
    }
}
