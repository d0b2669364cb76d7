//! Group time zones for calendar windows (day, month) and statements: any zone of the IANA tz
//! database, with its daylight saving time (`America/New_York`, `Europe/Berlin`,
//! `Australia/Sydney`, …), or a fixed offset written `UTC+08:00`. This part is wasm-safe: the
//! default, the zones the browser offers, and the offset syntax. Resolving a zone and the
//! bounds of its days and months is server-side, in [`Zone`] (behind `ssr`: the tz database
//! stays out of the wasm bundle).

#[cfg(feature = "ssr")]
mod zone;
#[cfg(feature = "ssr")]
pub use zone::Zone;

/// The time zone of a group unless its owner chose another.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The zones offered in the group settings, by UTC offset from east to west (any other IANA
/// name or a `UTC+HH:MM` offset is accepted too).
pub const COMMON: &[&str] = &[
    "Pacific/Auckland",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/Moscow",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/London",
    "UTC",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
];

/// The offset of a `UTC+08:00`-style zone (also `UTC-5`, `UTC+5:30`) in minutes east of UTC;
/// `None` for anything else.
pub fn fixed_offset_minutes(zone: &str) -> Option<i32> {
    let rest = zone.strip_prefix("UTC")?;
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let (h, m) = rest[1..].split_once(':').unwrap_or((&rest[1..], "0"));
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offsets_parse_in_the_utc_syntax_only() {
        assert_eq!(fixed_offset_minutes("UTC+08:00"), Some(480));
        assert_eq!(fixed_offset_minutes("UTC-05:30"), Some(-330));
        assert_eq!(fixed_offset_minutes("UTC+8"), Some(480));
        assert_eq!(fixed_offset_minutes("UTC+15:00"), None);
        assert_eq!(fixed_offset_minutes("UTC+"), None);
        assert_eq!(fixed_offset_minutes("Europe/Berlin"), None);
        assert!(COMMON.contains(&DEFAULT_TIME_ZONE));
    }
}
