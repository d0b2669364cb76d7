//! Money as integers: micro-USD parsed exactly from decimal text (no float rounding), shown as
//! exact decimal strings, and split into shares that sum exactly to the whole.

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
