//! Budget warnings. A background task on every node compares each limit's usage in its
//! current window with the limit's `warn_at` thresholds (80 % and 100 % by default). It reads
//! usage from the database (records and hourly rollups), not from the counters, so every node
//! sees the same numbers. When usage crosses a threshold it mails the group's owners and
//! admins, and for a key or member limit the member concerned too, in each one's language.
//! Each warning goes out once per limit, window and threshold, whichever node notices first
//! ([`crate::db::limit_alerts::raise`]). Minute windows are not checked: a minute is over
//! before a check every `BUDGET_ALERT_INTERVAL` seconds could warn about it. The proxy's hot
//! path is untouched: no query per request, only this task's few queries per active group.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::db::limit_alerts::{self as store, Crossing, Recipient, TargetSums};
use crate::db::outbox::NewMail;
use crate::db::{DbError, accounts, groups, keys, limits, now_ms};
use crate::gateway::budget::Limit;
use crate::i18n::Locale;
use crate::model::{LimitMetric, LimitScope, LimitWindow};
use crate::state::AppState;
use crate::timefmt::format_rfc3339;
use crate::tz::Zone;

/// How often a node checks, unless `BUDGET_ALERT_INTERVAL` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Every this many checks, every group is checked, not only those with new records: a safety
/// net for records another node committed out of id order.
const FULL_EVERY: u64 = 10;

/// One node's checker: remembers the newest usage record and the limits it has seen, so a
/// check looks only at groups with new usage (or at all of them after a limit changed).
#[derive(Debug, Default)]
pub struct Checker {
    seen_record: Option<i64>,
    seen_limits: Option<[i64; 4]>,
    runs: u64,
}

impl Checker {
    /// Checks the limits at `now`; returns how many warnings this node raised (each one mail
    /// per recipient, queued in the outbox and the sender woken).
    pub async fn check(&mut self, state: &AppState, now: i64) -> Result<usize, DbError> {
        let db = state.db();
        let fingerprint = limits::fingerprint(db).await?;
        let active = match self.seen_record {
            Some(after)
                if !self.runs.is_multiple_of(FULL_EVERY)
                    && self.seen_limits == Some(fingerprint) =>
            {
                Some(store::active_groups(db, after).await?)
            }
            _ => None,
        };
        let newest = match &active {
            Some((_, newest)) => *newest,
            None => store::newest_record(db).await?,
        };
        self.runs += 1;
        let zones: HashMap<i64, String> = limits::time_zones(db).await?.into_iter().collect();
        let mut by_group: BTreeMap<i64, Vec<Limit>> = BTreeMap::new();
        for row in limits::list_all(db).await? {
            if active
                .as_ref()
                .is_some_and(|(groups, _)| !groups.contains(&row.group_id))
            {
                continue;
            }
            let zone = Zone::or_default(zones.get(&row.group_id).map_or("", String::as_str));
            if let Some(limit) = crate::limits::to_limit(&row, &zone) {
                by_group.entry(row.group_id).or_default().push(limit);
            }
        }
        let mut raised = 0;
        let mut failed = None;
        for (group_id, limits) in by_group {
            match check_group(state, group_id, &limits, now).await {
                Ok(n) => raised += n,
                Err(e) => {
                    tracing::warn!(group_id, "budget warnings: check failed: {e}");
                    failed = Some(e);
                }
            }
        }
        if raised > 0 {
            state.mail_wake().notify_one();
        }
        if let Some(e) = failed {
            // Not remembered as seen: the next check looks at these groups again.
            return Err(e);
        }
        self.seen_record = Some(newest);
        self.seen_limits = Some(fingerprint);
        Ok(raised)
    }
}

/// Runs a checker every `every` until the runtime stops.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut checker = Checker::default();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match checker.check(&state, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(warnings = n, "budget warnings queued"),
                Err(e) => tracing::warn!("budget warnings: {e}"),
            }
        }
    })
}

/// The usage a limit counts, from a window's sums.
pub(crate) fn usage_of(limit: &Limit, sums: &[TargetSums]) -> i64 {
    sums.iter()
        .filter(|s| match limit.scope {
            LimitScope::Key => Some(s.key_id) == limit.target_id,
            LimitScope::Member => Some(s.user_id) == limit.target_id,
            LimitScope::Account => Some(s.account_id) == limit.target_id,
            LimitScope::Group => true,
        })
        .map(|s| match limit.metric {
            LimitMetric::Requests if limit.scope == LimitScope::Account => s.account_requests,
            LimitMetric::Requests => s.requests,
            LimitMetric::Tokens => s.tokens,
            LimitMetric::Cost => s.cost_micros,
        })
        .sum()
}

/// The thresholds `used` has reached, highest first.
pub fn crossed(limit: &Limit, used: i64) -> Vec<i64> {
    let mut out: Vec<i64> = limit
        .warn_at
        .iter()
        .filter(|t| i128::from(used) * 100 >= i128::from(**t) * i128::from(limit.cap))
        .map(|t| i64::from(*t))
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

async fn check_group(
    state: &AppState,
    group_id: i64,
    limits: &[Limit],
    now: i64,
) -> Result<usize, DbError> {
    let db = state.db();
    let watched: Vec<(&Limit, i64, Option<i64>)> = limits
        .iter()
        .filter(|l| l.window != LimitWindow::Minute && !l.warn_at.is_empty() && l.cap > 0)
        .map(|l| {
            let (start, end) = l.window_bounds(now);
            (l, start, end)
        })
        .collect();
    // Window start -> whether a requests limit needs counting there.
    let mut windows: BTreeMap<i64, bool> = BTreeMap::new();
    for (l, start, _) in &watched {
        *windows.entry(*start).or_default() |= l.metric == LimitMetric::Requests;
    }
    let starts: Vec<i64> = windows.keys().copied().collect();
    let recorded: BTreeSet<(i64, i64, i64)> = store::in_windows(db, group_id, &starts)
        .await?
        .into_iter()
        .map(|a| (a.limit_id, a.window_start, a.threshold))
        .collect();
    let mut sums: BTreeMap<i64, Vec<TargetSums>> = BTreeMap::new();
    for (start, requests) in windows {
        sums.insert(
            start,
            store::sums(db, group_id, start, now.saturating_add(1), requests).await?,
        );
    }
    let mut members: Option<Vec<Recipient>> = None;
    let mut raised = 0;
    for (limit, start, end) in watched {
        let used = usage_of(limit, sums.get(&start).map_or(&[], Vec::as_slice));
        let thresholds = crossed(limit, used);
        let Some(highest) = thresholds.first().copied() else {
            continue;
        };
        if recorded.contains(&(limit.id, start, highest)) {
            continue;
        }
        if members.is_none() {
            members = Some(store::members(db, group_id).await?);
        }
        let members = members.as_deref().unwrap_or_default();
        let facts = facts(state, limit, members, used, highest, end).await?;
        let mails = recipients(db, limit, members)
            .await?
            .into_iter()
            .map(|(r, admin)| warning_mail(&facts, r, admin, &state.config().app_url))
            .collect::<Vec<_>>();
        let crossing = Crossing {
            limit_id: limit.id,
            group_id,
            window_start: start,
            thresholds,
            used,
            cap: limit.cap,
        };
        if store::raise(db, &crossing, &mails, now_ms()).await? {
            tracing::info!(
                limit_id = limit.id,
                group_id,
                threshold = highest,
                used,
                cap = limit.cap,
                recipients = mails.len(),
                "budget warning raised"
            );
            raised += 1;
        }
    }
    Ok(raised)
}

/// Who gets a limit's warning: the group's owners and admins (`true`), and the member a key
/// or member limit concerns (`false` unless they are an admin too).
async fn recipients<'m>(
    db: &crate::db::Db,
    limit: &Limit,
    members: &'m [Recipient],
) -> Result<Vec<(&'m Recipient, bool)>, DbError> {
    let concerned = match (limit.scope, limit.target_id) {
        (LimitScope::Member, Some(user)) => Some(user),
        (LimitScope::Key, Some(key)) => store::key_owner(db, key).await?,
        _ => None,
    };
    Ok(members
        .iter()
        .filter_map(|m| {
            let admin = m.role == "owner" || m.role == "admin";
            (admin || Some(m.user_id) == concerned).then_some((m, admin))
        })
        .collect())
}

/// What a limit applies to, for the mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A key: its name and its member's.
    Key(String, String),
    /// A member.
    Member(String),
    /// The whole group.
    Group,
    /// An account.
    Account(String),
}

/// Everything a warning mail says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The group.
    pub group_id: i64,
    /// Its name.
    pub group_name: String,
    /// What the limit applies to.
    pub target: Target,
    /// What it counts.
    pub metric: LimitMetric,
    /// Its window.
    pub window: LimitWindow,
    /// The cap (micro-USD for cost).
    pub cap: i64,
    /// The usage.
    pub used: i64,
    /// The threshold crossed (percent).
    pub threshold: i64,
    /// When the window resets, in the group's zone and in UTC; `None` for `total`.
    pub resets: Option<(String, String)>,
    /// The owners' and admins' names.
    pub raisers: Vec<String>,
}

async fn facts(
    state: &AppState,
    limit: &Limit,
    members: &[Recipient],
    used: i64,
    threshold: i64,
    end: Option<i64>,
) -> Result<Warning, DbError> {
    let db = state.db();
    let target = match (limit.scope, limit.target_id) {
        (LimitScope::Key, Some(id)) => match keys::find(db, id).await? {
            Some(k) => Target::Key(k.name, k.user_name),
            None => Target::Key(format!("#{id}"), String::new()),
        },
        (LimitScope::Member, Some(id)) => Target::Member(
            members
                .iter()
                .find(|m| m.user_id == id)
                .map_or_else(|| format!("#{id}"), |m| m.name.clone()),
        ),
        (LimitScope::Account, Some(id)) => Target::Account(
            accounts::find(db, id)
                .await?
                .map_or_else(|| format!("#{id}"), |a| a.name),
        ),
        _ => Target::Group,
    };
    Ok(Warning {
        group_id: limit.group_id,
        group_name: groups::find(db, limit.group_id)
            .await?
            .map(|g| g.name)
            .unwrap_or_default(),
        target,
        metric: limit.metric,
        window: limit.window,
        cap: limit.cap,
        used,
        threshold,
        resets: end.map(|at| (limit.zone.format_local(at), format_rfc3339(at))),
        raisers: members
            .iter()
            .filter(|m| m.role == "owner" || m.role == "admin")
            .map(|m| m.name.clone())
            .collect(),
    })
}

/// An amount of a metric: `$12.50` (exact, at least cents), `1200 tokens`, `60 requests`.
fn amount(locale: Locale, metric: LimitMetric, value: i64) -> String {
    match (metric, locale) {
        (LimitMetric::Cost, _) => {
            let text = crate::money::micros_text(value);
            let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
            format!("${whole}.{:0<2}", frac.trim_end_matches('0'))
        }
        (LimitMetric::Tokens, Locale::En) => format!("{value} tokens"),
        (LimitMetric::Tokens, Locale::ZhCn) => format!("{value} 个 token"),
        (LimitMetric::Requests, Locale::En) => format!("{value} requests"),
        (LimitMetric::Requests, Locale::ZhCn) => format!("{value} 次请求"),
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The warning mail to one recipient, in their language, with a plain-text and an HTML part.
/// Admins get the link to the group's limits, a member the link to their budget page.
pub fn warning_mail(w: &Warning, to: &Recipient, admin: bool, app_url: &str) -> NewMail {
    let locale = Locale::from_tag(&to.locale).unwrap_or(Locale::En);
    let percent = if w.cap > 0 {
        i128::from(w.used) * 100 / i128::from(w.cap)
    } else {
        100
    };
    let link = if admin {
        format!("{app_url}/groups/{}#group-limits", w.group_id)
    } else {
        format!("{app_url}/groups/{}/me", w.group_id)
    };
    let (cap, used) = (
        amount(locale, w.metric, w.cap),
        amount(locale, w.metric, w.used),
    );
    let reached = w.threshold >= 100;
    let raisers = w.raisers.join(", ");
    let lines: Vec<(String, String)>;
    let (subject, intro, outro, open);
    match locale {
        Locale::En => {
            let target = match &w.target {
                Target::Key(k, m) if m.is_empty() => format!("key “{k}”"),
                Target::Key(k, m) => format!("key “{k}” ({m})"),
                Target::Member(m) => format!("member {m}"),
                Target::Group => "the whole group".to_owned(),
                Target::Account(a) => format!("account “{a}”"),
            };
            let metric = match w.metric {
                LimitMetric::Cost => "cost",
                LimitMetric::Tokens => "tokens",
                LimitMetric::Requests => "requests",
            };
            let window = match w.window {
                LimitWindow::Minute => "per minute",
                LimitWindow::Day => "per day",
                LimitWindow::Month => "per month",
                LimitWindow::Total => "in total",
            };
            let what = format!("{target}: {metric} {window}");
            subject = format!(
                "[AiCarpool] {} {}% of a budget in {}: {what}",
                if reached { "Reached" } else { "Used" },
                w.threshold,
                w.group_name
            );
            intro = format!(
                "The limit on {what} in the group “{}” has reached {percent}% of its cap (warning at {}%).",
                w.group_name, w.threshold
            );
            outro = if reached {
                "Requests that would go past the cap are refused until the window resets or the cap is raised.".to_owned()
            } else {
                "Requests are still served; at 100% those that would go past the cap are refused."
                    .to_owned()
            };
            lines = vec![
                ("Limit".into(), what.clone()),
                ("Cap".into(), cap),
                ("Used".into(), format!("{used} ({percent}%)")),
                (
                    "Resets".into(),
                    w.resets.as_ref().map_or_else(
                        || "never (a total limit)".to_owned(),
                        |(local, utc)| format!("{local}, {utc}"),
                    ),
                ),
                (
                    "Who can raise it".into(),
                    format!("the group's owners and admins ({raisers}), on the group page"),
                ),
            ];
            open = if admin {
                "Open the group's limits:"
            } else {
                "Open your budget:"
            };
        }
        Locale::ZhCn => {
            let target = match &w.target {
                Target::Key(k, m) if m.is_empty() => format!("密钥「{k}」"),
                Target::Key(k, m) => format!("密钥「{k}」（{m}）"),
                Target::Member(m) => format!("成员 {m}"),
                Target::Group => "整个组".to_owned(),
                Target::Account(a) => format!("账号「{a}」"),
            };
            let window = match w.window {
                LimitWindow::Minute => "每分钟",
                LimitWindow::Day => "每日",
                LimitWindow::Month => "每月",
                LimitWindow::Total => "累计",
            };
            let metric = match w.metric {
                LimitMetric::Cost => "费用",
                LimitMetric::Tokens => "token 数",
                LimitMetric::Requests => "请求数",
            };
            let what = format!("{target}：{window}{metric}");
            subject = format!(
                "[AiCarpool] 预算{}：「{}」{what} 已用 {}%",
                if reached { "已用完" } else { "预警" },
                w.group_name,
                w.threshold
            );
            intro = format!(
                "拼车组「{}」中 {what} 的限额已用到上限的 {percent}%（预警线 {}%）。",
                w.group_name, w.threshold
            );
            outro = if reached {
                "超出上限的请求将被拒绝，直到窗口重置或上限被提高。".to_owned()
            } else {
                "请求仍会照常处理；用到 100% 后，超出上限的请求将被拒绝。".to_owned()
            };
            lines = vec![
                ("限额".into(), what.clone()),
                ("上限".into(), cap),
                ("已用".into(), format!("{used}（{percent}%）")),
                (
                    "重置时间".into(),
                    w.resets.as_ref().map_or_else(
                        || "不重置（累计限额）".to_owned(),
                        |(local, utc)| format!("{local}，{utc}"),
                    ),
                ),
                (
                    "谁可以提高".into(),
                    format!("组的所有者和管理员（{raisers}），在组页面上修改"),
                ),
            ];
            open = if admin {
                "打开组的限额："
            } else {
                "打开我的预算："
            };
        }
    }
    let mut text = format!("{intro}\n\n");
    for (label, value) in &lines {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!("\n{outro}\n\n{open}\n{link}\n"));
    let rows: String = lines
        .iter()
        .map(|(label, value)| {
            format!(
                "<tr><th style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>",
                escape_html(label),
                escape_html(value)
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><body style=\"font-family:sans-serif\"><p>{intro}</p>\
         <table>{rows}</table><p>{outro}</p><p>{open} <a href=\"{link}\">{link}</a></p></body></html>",
        lang = locale.code(),
        intro = escape_html(&intro),
        outro = escape_html(&outro),
        open = escape_html(open),
        link = escape_html(&link),
    );
    NewMail {
        to: to.email.clone(),
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests;
