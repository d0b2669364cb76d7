//! RFC 3339 timestamps to and from milliseconds since the Unix epoch, without a date library:
//! key expiry times from clients, and the rate-limit reset times providers send.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses `2026-12-31T23:59:59Z`, with optional fractional seconds and a `±HH:MM` offset
/// (a space may replace the `T`); a bare date `2026-12-31` means its midnight UTC.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year = number(parts.next()?)?;
    let month = number(parts.next()?)?;
    let day = number(parts.next()?)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(1970..=9999).contains(&year) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if civil_from_days(days_from_civil(year, month, day)) != (year, month, day) {
        return None;
    }
    let Some(time) = time else { return Some(ms) };
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(i);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':')?;
        let (h, m) = (number(h)?, number(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        (clock, sign * (h * 3_600_000 + m * 60_000))
    };
    let (clock, fraction) = match clock.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (clock, None),
    };
    let mut hms = clock.splitn(3, ':');
    let h = number(hms.next()?)?;
    let m = number(hms.next()?)?;
    let s = number(hms.next()?)?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    ms += (h * 3600 + m * 60 + s) * 1000;
    if let Some(fraction) = fraction {
        let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
        ms += number(&digits)?;
    }
    Some(ms - offset_ms)
}

/// Formats milliseconds since the epoch as `2026-12-31T23:59:59Z` (UTC, whole seconds).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_parse_exactly() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T07:05:19Z"),
            Some(1_795_676_719_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T15:05:19.250+08:00"),
            Some(1_795_676_719_250)
        );
        assert_eq!(parse_rfc3339_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(format_rfc3339(1_795_676_719_999), "2026-11-26T07:05:19Z");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2026-02-30",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00",
            "2026-01-01T10:00:00+0800",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
