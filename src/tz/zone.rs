//! A resolved group time zone and the bounds of its local days and months in UTC milliseconds.
//! Rules come from the tz database bundled into the binary (jiff's `tzdb-bundle-always`), so
//! every node computes the same windows whatever its `/usr/share/zoneinfo` holds; a day is 23
//! or 25 hours long when the clocks change. The bounds of the current day and month are
//! cached per zone and recomputed only once the clock passes the cached day's end, so the
//! proxy's per-request window lookup costs an uncontended read lock and two comparisons.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};

use crate::timefmt::days_from_civil;

const DAY_MS: i64 = 86_400_000;

/// A group's time zone: an IANA zone with its daylight saving time, or a fixed offset. Cheap
/// to clone (one `Arc`); equal when the names are.
#[derive(Clone)]
pub struct Zone(Arc<Inner>);

struct Inner {
    name: String,
    tz: TimeZone,
    current: RwLock<Current>,
}

/// The day and the month that contain the latest instant asked for, as `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Current {
    day: (i64, i64),
    month: (i64, i64),
}

/// Every zone resolved so far, by canonical name: groups in the same zone share one cache.
static ZONES: LazyLock<Mutex<HashMap<String, Zone>>> = LazyLock::new(Mutex::default);

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn next_month(first: Date) -> Date {
    let (y, m) = if first.month() == 12 {
        (first.year().saturating_add(1), 1)
    } else {
        (first.year(), first.month() + 1)
    };
    Date::new(y, m, 1).unwrap_or(first)
}

impl Zone {
    /// Resolves a zone name: an IANA name (any letter case; the database's spelling is kept)
    /// or `UTC±HH:MM`. `None` for a name the database does not know.
    pub fn resolve(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return None;
        }
        let (canonical, tz) = match super::fixed_offset_minutes(name) {
            Some(minutes) => {
                let (sign, abs) = if minutes < 0 {
                    ('-', -minutes)
                } else {
                    ('+', minutes)
                };
                let canonical = format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60);
                let offset = Offset::from_seconds(minutes * 60).ok()?;
                (canonical, TimeZone::fixed(offset))
            }
            None => {
                let tz = TimeZone::get(name).ok()?;
                (tz.iana_name().unwrap_or(name).to_owned(), tz)
            }
        };
        let mut zones = ZONES.lock().unwrap_or_else(PoisonError::into_inner);
        let zone = zones.entry(canonical.clone()).or_insert_with(|| {
            Zone(Arc::new(Inner {
                name: canonical,
                tz,
                current: RwLock::default(),
            }))
        });
        Some(zone.clone())
    }

    /// The zone of a stored name; the default zone (Asia/Shanghai) if the name is unknown,
    /// which only a database edited by hand can hold.
    pub fn or_default(name: &str) -> Zone {
        Zone::resolve(name)
            .or_else(|| Zone::resolve(super::DEFAULT_TIME_ZONE))
            .unwrap_or_else(|| {
                Zone(Arc::new(Inner {
                    name: "UTC".to_owned(),
                    tz: TimeZone::UTC,
                    current: RwLock::default(),
                }))
            })
    }

    /// The canonical name (`America/New_York`, `UTC+08:00`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The local day containing `now`: `[start, end)` in ms (24 hours, or 23 / 25 when the
    /// clocks change that day).
    pub fn day(&self, now: i64) -> (i64, i64) {
        self.current(now).day
    }

    /// The local calendar month containing `now`: `[start, end)` in ms.
    pub fn month(&self, now: i64) -> (i64, i64) {
        self.current(now).month
    }

    fn current(&self, now: i64) -> Current {
        {
            let cached = self
                .0
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if cached.day.0 <= now && now < cached.day.1 {
                return *cached;
            }
        }
        let fresh = self.windows(now);
        let mut cached = self
            .0
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Only move forward: a late caller with an older `now` must not evict today.
        if now >= cached.day.1 {
            *cached = fresh;
        }
        fresh
    }

    /// The day and month containing `at`, computed from the rules.
    fn windows(&self, at: i64) -> Current {
        let date = self.date_of(at);
        let mut day = (
            self.start_of(date),
            self.start_of(date.tomorrow().unwrap_or(date)),
        );
        if at >= day.1 {
            // A fall-back across midnight repeats the day's last hour after the next day began.
            let after = date.tomorrow().and_then(Date::tomorrow).unwrap_or(date);
            day = (day.1, self.start_of(after).max(day.1 + 1));
        }
        let first = date.first_of_month();
        let month = (
            self.start_of(first).min(day.0),
            self.start_of(next_month(first)).max(day.1),
        );
        Current { day, month }
    }

    /// The local date of an instant.
    fn date_of(&self, at: i64) -> Date {
        self.0.tz.to_datetime(timestamp(at)).date()
    }

    /// The first instant of a local date: its midnight, or the end of the gap when the clocks
    /// skip midnight.
    fn start_of(&self, date: Date) -> i64 {
        self.0
            .tz
            .to_ambiguous_timestamp(DateTime::from(date))
            .compatible()
            .map_or_else(
                |_| {
                    days_from_civil(
                        i64::from(date.year()),
                        i64::from(date.month()),
                        i64::from(date.day()),
                    ) * DAY_MS
                },
                Timestamp::as_millisecond,
            )
    }

    /// The local month of `at` as `YYYY-MM`.
    pub fn month_label(&self, at: i64) -> String {
        let date = self.date_of(at);
        format!("{:04}-{:02}", date.year(), date.month())
    }

    /// The bounds of a `YYYY-MM` month in this zone.
    pub fn parse_month(&self, label: &str) -> Option<(i64, i64)> {
        let (y, m) = label.split_once('-')?;
        let (y, m): (i16, i8) = (y.parse().ok()?, m.parse().ok()?);
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) {
            return None;
        }
        let first = Date::new(y, m, 1).ok()?;
        Some((self.start_of(first), self.start_of(next_month(first))))
    }

    /// The zone's offset from UTC at `at`, in minutes east.
    pub fn offset_minutes_at(&self, at: i64) -> i32 {
        self.0.tz.to_offset(timestamp(at)).seconds() / 60
    }

    /// A local time for people: `2026-11-01 00:00 (America/New_York, UTC-04:00)`.
    pub fn format_local(&self, at: i64) -> String {
        let dt = self.0.tz.to_datetime(timestamp(at));
        let minutes = self.offset_minutes_at(at);
        let (sign, abs) = if minutes < 0 {
            ('-', -minutes)
        } else {
            ('+', minutes)
        };
        let offset = format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60);
        let name = if self.0.name == offset {
            offset
        } else {
            format!("{}, {offset}", self.0.name)
        };
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} ({name})",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute()
        )
    }
}

impl Default for Zone {
    /// The default zone of a group, Asia/Shanghai.
    fn default() -> Zone {
        Zone::or_default(super::DEFAULT_TIME_ZONE)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Zone {}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Zone({})", self.0.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_rfc3339_ms;

    fn t(text: &str) -> i64 {
        parse_rfc3339_ms(text).unwrap()
    }

    fn zone(name: &str) -> Zone {
        Zone::resolve(name).unwrap()
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn shanghai_days_and_months_start_at_local_midnight() {
        let z = zone("Asia/Shanghai");
        // 2026-11-30T17:00Z is already 2026-12-01 01:00 in Shanghai.
        let now = t("2026-11-30T17:00:00Z");
        assert_eq!(
            z.day(now),
            (
                t("2026-12-01T00:00:00+08:00"),
                t("2026-12-02T00:00:00+08:00")
            )
        );
        let (start, next) = z.month(now);
        assert_eq!(start, t("2026-12-01T00:00:00+08:00"));
        assert_eq!(next, t("2027-01-01T00:00:00+08:00"));
        assert_eq!(z.month_label(now), "2026-12");
        assert_eq!(zone("UTC").month_label(now), "2026-11");
        assert_eq!(z.parse_month("2026-12"), Some((start, next)));
        assert_eq!(z.parse_month("2026-13"), None);
        assert_eq!(z.offset_minutes_at(now), 480);
    }

    #[test]
    fn new_york_has_a_23_hour_spring_day_and_a_25_hour_fall_day() {
        let z = zone("America/New_York");
        // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT.
        let (start, end) = z.day(t("2026-03-08T12:00:00-04:00"));
        assert_eq!(start, t("2026-03-08T00:00:00-05:00"));
        assert_eq!(end, t("2026-03-09T00:00:00-04:00"));
        assert_eq!(end - start, 23 * HOUR);
        // 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST; both 01:30s are that day.
        for at in ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"] {
            let (start, end) = z.day(t(at));
            assert_eq!(start, t("2026-11-01T00:00:00-04:00"), "{at}");
            assert_eq!(end, t("2026-11-02T00:00:00-05:00"), "{at}");
            assert_eq!(end - start, 25 * HOUR);
        }
        // November starts in daylight time and ends in standard time.
        assert_eq!(
            z.month(t("2026-11-15T12:00:00-05:00")),
            (
                t("2026-11-01T00:00:00-04:00"),
                t("2026-12-01T00:00:00-05:00")
            )
        );
        assert_eq!(z.offset_minutes_at(t("2026-07-01T00:00:00Z")), -240);
        assert_eq!(z.offset_minutes_at(t("2026-12-01T00:00:00Z")), -300);
    }

    #[test]
    fn berlin_days_and_months_follow_central_european_summer_time() {
        let z = zone("Europe/Berlin");
        // 2026-03-29: 02:00 CET -> 03:00 CEST.
        let (start, end) = z.day(t("2026-03-29T10:00:00+02:00"));
        assert_eq!(
            (start, end),
            (
                t("2026-03-29T00:00:00+01:00"),
                t("2026-03-30T00:00:00+02:00")
            )
        );
        assert_eq!(end - start, 23 * HOUR);
        // 2026-10-25: 03:00 CEST -> 02:00 CET.
        let (start, end) = z.day(t("2026-10-25T02:30:00+01:00"));
        assert_eq!(
            (start, end),
            (
                t("2026-10-25T00:00:00+02:00"),
                t("2026-10-26T00:00:00+01:00")
            )
        );
        assert_eq!(end - start, 25 * HOUR);
        // March is an hour short, October an hour long; statements use the same bounds.
        let march = z.parse_month("2026-03").unwrap();
        assert_eq!(
            march,
            (
                t("2026-03-01T00:00:00+01:00"),
                t("2026-04-01T00:00:00+02:00")
            )
        );
        assert_eq!(march.1 - march.0, 31 * 24 * HOUR - HOUR);
        let october = z.parse_month("2026-10").unwrap();
        assert_eq!(october.1 - october.0, 31 * 24 * HOUR + HOUR);
        assert_eq!(z.month(t("2026-03-31T23:30:00+02:00")), march);
        assert_eq!(z.month_label(t("2026-03-31T22:30:00Z")), "2026-04");
    }

    #[test]
    fn sydney_summer_is_in_the_southern_hemisphere() {
        let z = zone("Australia/Sydney");
        // 2026-04-05: daylight time ends, 03:00 AEDT -> 02:00 AEST: a 25-hour day.
        let (start, end) = z.day(t("2026-04-05T12:00:00+10:00"));
        assert_eq!(
            (start, end),
            (
                t("2026-04-05T00:00:00+11:00"),
                t("2026-04-06T00:00:00+10:00")
            )
        );
        assert_eq!(end - start, 25 * HOUR);
        // 2026-10-04: daylight time starts, 02:00 AEST -> 03:00 AEDT: a 23-hour day.
        let (start, end) = z.day(t("2026-10-04T12:00:00+11:00"));
        assert_eq!(
            (start, end),
            (
                t("2026-10-04T00:00:00+10:00"),
                t("2026-10-05T00:00:00+11:00")
            )
        );
        assert_eq!(end - start, 23 * HOUR);
        // January is summer: the month starts at 13:00 UTC on New Year's Eve.
        assert_eq!(
            z.month(t("2027-01-10T00:00:00Z")),
            (t("2026-12-31T13:00:00Z"), t("2027-01-31T13:00:00Z"))
        );
        assert_eq!(z.month_label(t("2026-12-31T13:00:00Z")), "2027-01");
    }

    #[test]
    fn cached_windows_roll_over_and_older_instants_stay_exact() {
        let z = zone("Europe/London");
        let first = z.day(t("2026-10-25T00:30:00+01:00"));
        assert_eq!(first.1 - first.0, 25 * HOUR);
        // The cache moves to the next day once the clock passes the end ...
        let next = z.day(first.1);
        assert_eq!(next, (first.1, t("2026-10-27T00:00:00Z")));
        // ... and a late caller with an instant of the day before still gets that day.
        assert_eq!(z.day(first.1 - 1), first);
        assert_eq!(z.day(first.1 + 1), next);
        // The last millisecond of a month and the first of the next.
        let (_, end) = z.month(first.0);
        assert_eq!(z.month(end - 1).1, end);
        assert_eq!(z.month(end).0, end);
    }

    #[test]
    fn fixed_offsets_and_names_resolve_or_are_refused() {
        let z = zone("UTC+5:30");
        assert_eq!(z.name(), "UTC+05:30");
        assert_eq!(
            z.day(t("2026-06-01T20:00:00Z")),
            (
                t("2026-06-02T00:00:00+05:30"),
                t("2026-06-03T00:00:00+05:30")
            )
        );
        assert_eq!(zone("UTC-05:00").name(), "UTC-05:00");
        assert_eq!(zone("america/new_york").name(), "America/New_York");
        assert_eq!(zone("Asia/Kolkata"), zone("Asia/Kolkata"));
        assert!(Zone::resolve("Mars/Olympus_Mons").is_none());
        assert!(Zone::resolve("").is_none());
        assert_eq!(
            Zone::or_default("Mars/Olympus_Mons").name(),
            "Asia/Shanghai"
        );
        assert_eq!(
            zone("Europe/Berlin").format_local(t("2026-10-26T00:00:00+01:00")),
            "2026-10-26 00:00 (Europe/Berlin, UTC+01:00)"
        );
        assert_eq!(
            zone("UTC+08:00").format_local(t("2026-10-26T00:00:00+08:00")),
            "2026-10-26 00:00 (UTC+08:00)"
        );
        for name in crate::tz::COMMON {
            assert_eq!(zone(name).name(), *name, "offered zones are canonical");
        }
    }
}
