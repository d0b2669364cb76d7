//! Wire types of budgets: limits on keys, members, groups and accounts, with their live
//! usage; model prices; and how amounts are shown (the display currency and the rate).

use serde::{Deserialize, Serialize};

use crate::money::{Currency, DEFAULT_CNY_PER_USD};

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
    /// Used, in the stored unit (micro-USD for cost), exact.
    #[serde(default)]
    pub used_raw: i64,
    /// Left in the current window.
    pub remaining: f64,
    /// Left, in the stored unit (micro-USD for cost), exact; never below 0.
    #[serde(default)]
    pub remaining_raw: i64,
    /// When the current window ends (ms); `None` for `total`.
    pub resets_at: Option<i64>,
    /// Warning thresholds (percent) crossed in the current window, lowest first; each one was
    /// mailed once. Minute windows are not checked.
    #[serde(default)]
    pub alerts: Vec<u8>,
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
    /// `built_in` or `override` (ignored in a `PUT /api/prices` body, which may leave it out).
    #[serde(default)]
    pub source: String,
}

/// How the signed-in user sees amounts: their currency and the instance's USD->CNY rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyDisplay {
    /// `USD` or `CNY`.
    pub currency: Currency,
    /// Ten-thousandths of CNY per USD (7.2 -> 72 000).
    pub cny_per_usd_e4: i64,
}

impl Default for MoneyDisplay {
    fn default() -> Self {
        MoneyDisplay {
            currency: Currency::Usd,
            cny_per_usd_e4: DEFAULT_CNY_PER_USD,
        }
    }
}

/// `GET /api/settings`: the instance-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    /// Yuan per US dollar for showing amounts in CNY, exact with 4 decimals (`"7.2000"`).
    pub cny_per_usd: String,
    /// The same in ten-thousandths (72 000).
    pub cny_per_usd_e4: i64,
    /// `config` (the `CNY_PER_USD` default) or `admin` (set by a system administrator).
    pub cny_per_usd_source: String,
    /// The `CNY_PER_USD` default, which applies again when the set rate is removed.
    pub cny_per_usd_default: String,
    /// When the rate was last set or removed (ms).
    pub cny_per_usd_updated_at: Option<i64>,
}
