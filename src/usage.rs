//! Usage analytics: series and totals per hour or day, by member, model, account, key or group,
//! read from the rollups; the raw records a page at a time; both as CSV. A member sees their own
//! usage, owners and admins their group's, the system admin every group's.

use std::collections::BTreeMap;

use crate::db::rollups::{self, DAILY_OFFSET_MS, DAY_MS, Dimension, HOUR_MS, RollupSums, Source};
use crate::db::usage::{self as records, RecordFilter, UsageRow};
use crate::db::{cost_split, now_ms};
use crate::error::ServiceError;
use crate::groups::access;
use crate::identity::Principal;
use crate::model::{
    GroupRole, UsagePoint, UsageQuery, UsageRecordView, UsageRecordsPage, UsageReport, UsageSeries,
    UsageStats,
};
use crate::money::{micros_f64, micros_text};
use crate::state::AppState;
use crate::timefmt::{format_rfc3339, parse_rfc3339_ms};

/// Most hourly points in one report (a month).
const MAX_HOURS: i64 = 31 * 24;
/// Most daily points in one report (about three years).
const MAX_DAYS: i64 = 1100;
/// Most records in one CSV export.
const MAX_EXPORT: i64 = 200_000;
/// Default records page.
const DEFAULT_PAGE: i64 = 100;

fn bad(text: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(text.into())
}

fn parse_int(name: &str, value: Option<&str>) -> Result<Option<i64>, ServiceError> {
    value
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| bad(format!("{name}: {v:?} is not a whole number")))
        })
        .transpose()
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ServiceError> {
    value
        .map(|v| {
            let v = v.trim();
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                v.parse::<i64>().ok()
            } else {
                parse_rfc3339_ms(v)
            }
            .ok_or_else(|| {
                bad(format!(
                    "{name}: {v:?} is not a time; send RFC 3339 (2026-11-01T00:00:00+08:00) \
                     or milliseconds since 1970"
                ))
            })
        })
        .transpose()
}

/// Whose usage a caller may see, after the permission rules.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// The group, or all the caller may see.
    pub group_id: Option<i64>,
    /// One member only.
    pub user_id: Option<i64>,
    /// UTC offset of days (minutes).
    pub offset_minutes: i32,
}

/// Applies the permission rules to the requested group and member.
pub async fn scope(
    state: &AppState,
    principal: &Principal,
    q: &UsageQuery,
) -> Result<Scope, ServiceError> {
    let group_id = parse_int("group_id", q.group_id.as_deref())?;
    let mut user_id = parse_int("user_id", q.user_id.as_deref())?;
    let me = principal.user.id;
    let mut zone = crate::tz::DEFAULT_TIME_ZONE.to_owned();
    let sees_all = match group_id {
        Some(group_id) => {
            let access = access(state, principal, group_id).await?;
            if let Some(z) = cost_split::time_zone(state.db(), group_id).await? {
                zone = z;
            }
            access.effective >= GroupRole::Admin
        }
        None => principal.is_system_admin(),
    };
    if !sees_all {
        if user_id.is_some_and(|u| u != me) {
            return Err(ServiceError::Forbidden(
                "members see only their own usage; the group's owners and admins see everyone's"
                    .into(),
            ));
        }
        user_id = Some(me);
    }
    let offset_minutes = match parse_int("tz_offset_minutes", q.tz_offset_minutes.as_deref())? {
        Some(m) if (-720..=840).contains(&m) => i32::try_from(m).unwrap_or(0),
        Some(_) => return Err(bad("tz_offset_minutes: must lie between -720 and 840")),
        // A zone with daylight saving time: days at its offset now (see the README).
        None => crate::tz::Zone::or_default(&zone).offset_minutes_at(now_ms()),
    };
    Ok(Scope {
        group_id,
        user_id,
        offset_minutes,
    })
}

fn dimension(by: Option<&str>) -> Result<Dimension, ServiceError> {
    Ok(match by {
        None | Some("" | "total") => Dimension::Total,
        Some("member") => Dimension::Member,
        Some("model") => Dimension::Model,
        Some("account") => Dimension::Account,
        Some("key") => Dimension::Key,
        Some("group") => Dimension::Group,
        Some(other) => {
            return Err(bad(format!(
                "by: {other:?} is not member, model, account, key or group"
            )));
        }
    })
}

/// The statistics of a set of sums.
pub fn stats(s: &RollupSums) -> UsageStats {
    let avg = |sum: i64, n: i64| (n > 0).then(|| (sum as f64 / n as f64 * 10.0).round() / 10.0);
    UsageStats {
        requests: s.requests,
        tokens: s.input_tokens + s.output_tokens + s.cache_read_tokens + s.cache_write_tokens,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cache_read_tokens: s.cache_read_tokens,
        cache_write_tokens: s.cache_write_tokens,
        cost_usd: micros_f64(s.cost_micros),
        cost_micros: s.cost_micros,
        errors: s.errors,
        avg_ttfb_ms: avg(s.ttfb_ms_sum, s.ttfb_ms_count),
        avg_total_ms: avg(s.total_ms_sum, s.requests),
    }
}

/// `GET /api/usage`.
pub async fn report(
    state: &AppState,
    principal: &Principal,
    q: &UsageQuery,
) -> Result<UsageReport, ServiceError> {
    let scope = scope(state, principal, q).await?;
    let dimension = dimension(q.by.as_deref())?;
    let hourly = match q.bucket.as_deref() {
        None | Some("day") => false,
        Some("hour") => true,
        Some(other) => return Err(bad(format!("bucket: {other:?} is not hour or day"))),
    };
    let to = parse_time("to", q.to.as_deref())?.unwrap_or_else(now_ms);
    let from = parse_time("from", q.from.as_deref())?.unwrap_or(to - 7 * DAY_MS);
    if from >= to {
        return Err(bad("from must be before to"));
    }
    let offset = i64::from(scope.offset_minutes) * 60_000;
    let (step, from, to) = if hourly {
        (
            HOUR_MS,
            rollups::hour_of(from),
            rollups::hour_of(to - 1) + HOUR_MS,
        )
    } else {
        let day = |t| rollups::day_of(t, offset);
        (DAY_MS, day(from), day(to - 1) + DAY_MS)
    };
    let points = (to - from) / step;
    if hourly && points > MAX_HOURS {
        return Err(bad(
            "at most 31 days of hourly buckets; use bucket=day for longer ranges",
        ));
    }
    if points > MAX_DAYS {
        return Err(bad("at most 1100 days in one report"));
    }
    let source = if hourly || (offset != DAILY_OFFSET_MS && offset % HOUR_MS == 0) {
        Source::Hourly
    } else if offset == DAILY_OFFSET_MS {
        Source::Daily
    } else {
        Source::RecordDays(offset)
    };
    let rows = rollups::report(
        state.db(),
        &rollups::ReportQuery {
            source,
            dimension,
            from,
            to,
            group_id: scope.group_id,
            user_id: scope.user_id,
        },
    )
    .await?;
    let mut by_series: BTreeMap<String, BTreeMap<i64, RollupSums>> = BTreeMap::new();
    for row in rows {
        // Hours fold into the day they start in.
        let t = if hourly {
            row.bucket_start
        } else {
            rollups::day_of(row.bucket_start, offset)
        };
        by_series
            .entry(row.series)
            .or_default()
            .entry(t)
            .or_default()
            .add(&row.sums);
    }
    let labels = series_labels(state, dimension, by_series.keys()).await?;
    let mut all = RollupSums::default();
    let mut series: Vec<(RollupSums, UsageSeries)> = by_series
        .into_iter()
        .map(|(key, buckets)| {
            let mut sum = RollupSums::default();
            let points = (0..points)
                .map(|i| {
                    let t = from + i * step;
                    let s = buckets.get(&t).copied().unwrap_or_default();
                    sum.add(&s);
                    UsagePoint {
                        t,
                        stats: stats(&s),
                    }
                })
                .collect();
            all.add(&sum);
            let label = labels.get(&key).cloned().unwrap_or_else(|| key.clone());
            (
                sum,
                UsageSeries {
                    key,
                    label,
                    points,
                    totals: stats(&sum),
                },
            )
        })
        .collect();
    series.sort_by(|(a, x), (b, y)| {
        (b.cost_micros, b.requests)
            .cmp(&(a.cost_micros, a.requests))
            .then_with(|| x.key.cmp(&y.key))
    });
    Ok(UsageReport {
        from,
        to,
        bucket: if hourly { "hour" } else { "day" }.to_owned(),
        by: (dimension != Dimension::Total).then(|| q.by.clone().unwrap_or_default()),
        tz_offset_minutes: scope.offset_minutes,
        group_id: scope.group_id,
        user_id: scope.user_id,
        series: series.into_iter().map(|(_, s)| s).collect(),
        totals: stats(&all),
    })
}

async fn series_labels(
    state: &AppState,
    dimension: Dimension,
    keys: impl Iterator<Item = &String>,
) -> Result<BTreeMap<String, String>, ServiceError> {
    let ids: Vec<i64> = keys.filter_map(|k| k.parse().ok()).collect();
    let mut labels: BTreeMap<String, String> = rollups::labels(state.db(), dimension, &ids)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    match dimension {
        Dimension::Total => {
            labels.insert("all".into(), "All".into());
        }
        Dimension::Account => {
            labels.insert("0".into(), "no account".into());
        }
        _ => {}
    }
    Ok(labels)
}

/// One CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` is defused so a
/// spreadsheet never runs a member's name as a formula.
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV: a header, then one row per series point.
pub fn report_csv(report: &UsageReport) -> String {
    let mut out = String::from(
        "series,label,t,time,requests,tokens,input_tokens,output_tokens,cache_read_tokens,\
         cache_write_tokens,cost_usd,cost_micros,errors,avg_ttfb_ms,avg_total_ms\n",
    );
    for s in &report.series {
        for p in &s.points {
            let st = &p.stats;
            let row = [
                csv_field(&s.key),
                csv_field(&s.label),
                p.t.to_string(),
                format_rfc3339(p.t),
                st.requests.to_string(),
                st.tokens.to_string(),
                st.input_tokens.to_string(),
                st.output_tokens.to_string(),
                st.cache_read_tokens.to_string(),
                st.cache_write_tokens.to_string(),
                micros_text(st.cost_micros),
                st.cost_micros.to_string(),
                st.errors.to_string(),
                opt(st.avg_ttfb_ms),
                opt(st.avg_total_ms),
            ];
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

fn record_view(r: UsageRow) -> UsageRecordView {
    UsageRecordView {
        created_at: r.created_at,
        request_id: r.request_id,
        group_id: r.group_id,
        user_id: r.user_id,
        key_id: r.key_id,
        account_id: r.account_id,
        provider: r.provider,
        endpoint: r.endpoint,
        model_requested: r.model_requested,
        model_served: r.model_served,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        cache_read_tokens: r.cache_read_tokens,
        cache_write_tokens: r.cache_write_tokens,
        cost_micros: r.cost_micros,
        status: r.status,
        error_class: r.error_class,
        streamed: r.streamed,
        attempts: r.attempts,
        ttfb_ms: r.ttfb_ms,
        total_ms: r.total_ms,
    }
}

async fn record_filter(
    state: &AppState,
    principal: &Principal,
    q: &UsageQuery,
) -> Result<RecordFilter, ServiceError> {
    let scope = scope(state, principal, q).await?;
    let to = parse_time("to", q.to.as_deref())?.unwrap_or_else(now_ms);
    let from = parse_time("from", q.from.as_deref())?.unwrap_or(to - 7 * DAY_MS);
    if from >= to {
        return Err(bad("from must be before to"));
    }
    Ok(RecordFilter {
        group_id: scope.group_id,
        user_id: scope.user_id,
        from,
        to,
    })
}

/// `GET /api/usage/records`: one page of raw records, oldest first.
pub async fn records_page(
    state: &AppState,
    principal: &Principal,
    q: &UsageQuery,
) -> Result<UsageRecordsPage, ServiceError> {
    let filter = record_filter(state, principal, q).await?;
    let limit = parse_int("limit", q.limit.as_deref())?.unwrap_or(DEFAULT_PAGE);
    let offset = parse_int("offset", q.offset.as_deref())?.unwrap_or(0);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit: must lie between 1 and 1000"));
    }
    if offset < 0 {
        return Err(bad("offset: must not be negative"));
    }
    let total = records::count_matching(state.db(), &filter).await?;
    let rows = records::list(state.db(), &filter, limit, offset).await?;
    Ok(UsageRecordsPage {
        records: rows.into_iter().map(record_view).collect(),
        total,
        limit,
        offset,
    })
}

/// `GET /api/usage/records?format=csv`: every matching record, one row each.
pub async fn records_csv(
    state: &AppState,
    principal: &Principal,
    q: &UsageQuery,
) -> Result<String, ServiceError> {
    let filter = record_filter(state, principal, q).await?;
    if records::count_matching(state.db(), &filter).await? > MAX_EXPORT {
        return Err(bad(format!(
            "more than {MAX_EXPORT} records in this range; export a shorter range"
        )));
    }
    let mut out = String::from(
        "time,created_at,request_id,group_id,user_id,key_id,account_id,provider,endpoint,\
         model_requested,model_served,input_tokens,output_tokens,cache_read_tokens,\
         cache_write_tokens,cost_usd,cost_micros,status,error_class,streamed,attempts,ttfb_ms,\
         total_ms\n",
    );
    let mut offset = 0;
    loop {
        let page = records::list(state.db(), &filter, 5000, offset).await?;
        offset += 5000;
        let done = page.len() < 5000;
        for r in page {
            let row = [
                format_rfc3339(r.created_at),
                r.created_at.to_string(),
                csv_field(&r.request_id),
                r.group_id.to_string(),
                r.user_id.to_string(),
                r.key_id.to_string(),
                opt(r.account_id),
                csv_field(&r.provider.unwrap_or_default()),
                csv_field(&r.endpoint),
                csv_field(&r.model_requested),
                csv_field(&r.model_served.unwrap_or_default()),
                r.input_tokens.to_string(),
                r.output_tokens.to_string(),
                r.cache_read_tokens.to_string(),
                r.cache_write_tokens.to_string(),
                micros_text(r.cost_micros),
                r.cost_micros.to_string(),
                r.status.to_string(),
                csv_field(&r.error_class.unwrap_or_default()),
                r.streamed.to_string(),
                r.attempts.to_string(),
                opt(r.ttfb_ms),
                r.total_ms.to_string(),
            ];
            out.push_str(&row.join(","));
            out.push('\n');
        }
        if done {
            return Ok(out);
        }
    }
}
