//! Wire types of budgets: limits on keys, members, groups and accounts, with their live
//! usage; and model prices.

use serde::{Deserialize, Serialize};

/// What a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// One member key.
    Key,
    /// One member in the group (all their keys).
    Member,
    /// The whole group.
    Group,
    /// One upstream account's use by this group.
    Account,
}

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMetric {
    /// Requests.
    Requests,
    /// Tokens (input, output and cache).
    Tokens,
    /// Cost in USD (stored as micro-USD).
    Cost,
}

/// Over which period a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitWindow {
    /// The current minute.
    Minute,
    /// The current calendar day in the group's time zone.
    Day,
    /// The current calendar month in the group's time zone.
    Month,
    /// Forever.
    Total,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The stored value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Reads a stored or submitted value.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}

str_enum!(LimitScope { Key => "key", Member => "member", Group => "group", Account => "account" });
str_enum!(LimitMetric { Requests => "requests", Tokens => "tokens", Cost => "cost" });
str_enum!(LimitWindow { Minute => "minute", Day => "day", Month => "month", Total => "total" });

/// A limit with its live usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitView {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Scope.
    pub scope: LimitScope,
    /// The key, member or account; `None` for the group.
    pub target_id: Option<i64>,
    /// What the target is called (key name, member name, account name).
    pub target_name: Option<String>,
    /// Metric.
    pub metric: LimitMetric,
    /// Window.
    pub window: LimitWindow,
    /// The cap: requests, tokens, or USD.
    pub cap: f64,
    /// The cap in its stored unit (micro-USD for cost).
    pub cap_raw: i64,
    /// Warning thresholds in percent.
    pub warn_at: Vec<u8>,
    /// Used in the current window (same unit as `cap`), reservations in flight included.
    pub used: f64,
    /// Left in the current window.
    pub remaining: f64,
    /// When the current window ends (ms); `None` for `total`.
    pub resets_at: Option<i64>,
}

/// A model's price, micro-USD per million tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceView {
    /// Model name (a dated variant matches its family).
    pub model: String,
    /// Uncached input.
    pub input: u64,
    /// Output.
    pub output: u64,
    /// Cache read.
    pub cache_read: u64,
    /// Cache write.
    pub cache_write: u64,
    /// `built_in` or `override`.
    pub source: String,
}
