//! Group time zones for calendar windows (day, month) and statements. Only zones without
//! daylight saving time are offered, so a zone is a fixed UTC offset: the common IANA names
//! of AiCarpool's users, and `UTC+08:00`-style offsets.

use crate::timefmt::{civil_from_days, days_from_civil};

/// The time zone of a group unless its owner chose another.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Named zones without daylight saving time, with their offset in minutes.
pub const NAMED: &[(&str, i32)] = &[
    ("Asia/Shanghai", 480),
    ("Asia/Hong_Kong", 480),
    ("Asia/Taipei", 480),
    ("Asia/Singapore", 480),
    ("Asia/Tokyo", 540),
    ("Asia/Seoul", 540),
    ("Asia/Kolkata", 330),
    ("Asia/Dubai", 240),
    ("UTC", 0),
];

/// The offset of a zone in minutes east of UTC, or `None` for an unknown zone.
pub fn offset_minutes(zone: &str) -> Option<i32> {
    if let Some((_, offset)) = NAMED.iter().find(|(name, _)| *name == zone) {
        return Some(*offset);
    }
    let rest = zone.strip_prefix("UTC")?;
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let (h, m) = rest[1..].split_once(':').unwrap_or((&rest[1..], "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn offset_ms(offset_minutes: i32) -> i64 {
    i64::from(offset_minutes) * 60_000
}

/// The start (ms, UTC) of the local day containing `now`.
pub fn day_start(now: i64, offset_minutes: i32) -> i64 {
    let local = now + offset_ms(offset_minutes);
    local.div_euclid(86_400_000) * 86_400_000 - offset_ms(offset_minutes)
}

/// The start (ms, UTC) of the local calendar month containing `now`, and of the next one.
pub fn month_bounds(now: i64, offset_minutes: i32) -> (i64, i64) {
    let local_day = (now + offset_ms(offset_minutes)).div_euclid(86_400_000);
    let (y, m, _) = civil_from_days(local_day);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let start = days_from_civil(y, m, 1) * 86_400_000 - offset_ms(offset_minutes);
    let next = days_from_civil(ny, nm, 1) * 86_400_000 - offset_ms(offset_minutes);
    (start, next)
}

/// The local month of `now` as `YYYY-MM`.
pub fn month_label(now: i64, offset_minutes: i32) -> String {
    let local_day = (now + offset_ms(offset_minutes)).div_euclid(86_400_000);
    let (y, m, _) = civil_from_days(local_day);
    format!("{y:04}-{m:02}")
}

/// The bounds of a `YYYY-MM` month in a zone.
pub fn parse_month(label: &str, offset_minutes: i32) -> Option<(i64, i64)> {
    let (y, m) = label.split_once('-')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    Some(month_bounds(
        days_from_civil(y, m, 15) * 86_400_000 - offset_ms(offset_minutes),
        offset_minutes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_rfc3339_ms;

    #[test]
    fn shanghai_days_and_months_start_at_local_midnight() {
        let off = offset_minutes("Asia/Shanghai").unwrap();
        // 2026-11-30T17:00Z is already 2026-12-01 01:00 in Shanghai.
        let now = parse_rfc3339_ms("2026-11-30T17:00:00Z").unwrap();
        assert_eq!(
            day_start(now, off),
            parse_rfc3339_ms("2026-12-01T00:00:00+08:00").unwrap()
        );
        let (start, next) = month_bounds(now, off);
        assert_eq!(
            start,
            parse_rfc3339_ms("2026-12-01T00:00:00+08:00").unwrap()
        );
        assert_eq!(next, parse_rfc3339_ms("2027-01-01T00:00:00+08:00").unwrap());
        assert_eq!(month_label(now, off), "2026-12");
        assert_eq!(month_label(now, 0), "2026-11");
        assert_eq!(parse_month("2026-12", off), Some((start, next)));
        assert_eq!(offset_minutes("UTC-05:30"), Some(-330));
        assert_eq!(offset_minutes("Europe/Berlin"), None);
    }
}
