//! Wire types of usage analytics (`/api/usage`, `/api/usage/records`) and of the monthly cost
//! split (`/api/groups/{id}/cost-split`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The query string of `GET /api/usage` and `GET /api/usage/records`. Every field is text so a
/// bad value gets an explanation rather than a generic parse failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Group id; optional for the system admin (all groups) and for a member's own usage
    /// across their groups.
    pub group_id: Option<String>,
    /// Member id (members may only ask for themselves).
    pub user_id: Option<String>,
    /// Start: RFC 3339 or ms since the epoch; default `to` minus 7 days.
    pub from: Option<String>,
    /// End (exclusive): RFC 3339 or ms; default now.
    pub to: Option<String>,
    /// `hour` or `day` (default).
    pub bucket: Option<String>,
    /// `member`, `model`, `account`, `key` or `group`; one series for everything when absent.
    pub by: Option<String>,
    /// Minutes east of UTC for day buckets; default the group's time zone (Asia/Shanghai).
    pub tz_offset_minutes: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Records page size (`/api/usage/records`, default 100, at most 1000).
    pub limit: Option<String>,
    /// Records page offset.
    pub offset: Option<String>,
}

/// Sums over a set of requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageStats {
    /// Requests.
    pub requests: i64,
    /// All tokens: input, output, cache read and cache write.
    pub tokens: i64,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: i64,
    /// Cost in USD (for display; `cost_micros` is exact).
    pub cost_usd: f64,
    /// Cost in micro-USD.
    pub cost_micros: i64,
    /// Requests answered with status 400 or more (499: the client went away).
    pub errors: i64,
    /// Mean time to first byte (ms) of the requests where it was measured.
    pub avg_ttfb_ms: Option<f64>,
    /// Mean total time (ms).
    pub avg_total_ms: Option<f64>,
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// Start of the bucket (ms since the epoch).
    pub t: i64,
    /// Its sums.
    #[serde(flatten)]
    pub stats: UsageStats,
}

/// One line of a chart: a member, a model, an account, a key or a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageSeries {
    /// The member, account, key or group id, or the model name; `all` for the single series.
    pub key: String,
    /// What to show.
    pub label: String,
    /// Every bucket of the range, zeros included, oldest first.
    pub points: Vec<UsagePoint>,
    /// The series' sums over the range.
    pub totals: UsageStats,
}

/// `GET /api/usage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// Start of the first bucket (ms; `from` rounded down to the bucket).
    pub from: i64,
    /// End of the last bucket (ms, exclusive; `to` rounded up).
    pub to: i64,
    /// `hour` or `day`.
    pub bucket: String,
    /// The grouping, if any.
    pub by: Option<String>,
    /// The UTC offset days start at (minutes).
    pub tz_offset_minutes: i32,
    /// The group, or `None` for all the caller may see.
    pub group_id: Option<i64>,
    /// The member, when only one member's usage is shown.
    pub user_id: Option<i64>,
    /// The series, the most expensive first.
    pub series: Vec<UsageSeries>,
    /// Sums over everything shown.
    pub totals: UsageStats,
}

/// One usage record as the records export shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecordView {
    /// Start (ms).
    pub created_at: i64,
    /// Request id.
    pub request_id: String,
    /// Group.
    pub group_id: i64,
    /// Member.
    pub user_id: i64,
    /// Member key.
    pub key_id: i64,
    /// Account that served (or last tried).
    pub account_id: Option<i64>,
    /// Its provider.
    pub provider: Option<String>,
    /// Endpoint.
    pub endpoint: String,
    /// Model asked for.
    pub model_requested: String,
    /// Model that answered.
    pub model_served: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache-read tokens.
    pub cache_read_tokens: i64,
    /// Cache-write tokens.
    pub cache_write_tokens: i64,
    /// Cost (micro-USD).
    pub cost_micros: i64,
    /// HTTP status.
    pub status: i64,
    /// Failure class.
    pub error_class: Option<String>,
    /// Streamed.
    pub streamed: bool,
    /// Upstream attempts.
    pub attempts: i64,
    /// Time to first byte (ms).
    pub ttfb_ms: Option<i64>,
    /// Total time (ms).
    pub total_ms: i64,
}

/// `GET /api/usage/records` (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecordsPage {
    /// The page, oldest first.
    pub records: Vec<UsageRecordView>,
    /// Records matching in all.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Offset of this page.
    pub offset: i64,
}

/// How a fixed cost is shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitRule {
    /// Equally among the group's members.
    Equal,
    /// In proportion to each member's metered cost in the period.
    Usage,
    /// In proportion to agreed weights.
    Weights,
}

impl SplitRule {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::Usage => "usage",
            Self::Weights => "weights",
        }
    }

    /// Reads a stored value.
    pub fn parse(value: &str) -> Option<SplitRule> {
        match value {
            "equal" => Some(Self::Equal),
            "usage" => Some(Self::Usage),
            "weights" => Some(Self::Weights),
            _ => None,
        }
    }
}

/// A decimal as clients send it: a JSON number or a string (`"10.00"`), read exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Decimal {
    /// A JSON number.
    Number(f64),
    /// A decimal string.
    Text(String),
}

/// `POST /api/groups/{id}/cost-split/fixed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedCostInput {
    /// `YYYY-MM`.
    pub period: String,
    /// What it is (a subscription, a top-up).
    pub name: String,
    /// Amount in USD, up to 6 decimal places.
    pub amount_usd: Decimal,
    /// How it is shared.
    pub split: SplitRule,
    /// For `weights`: member id -> weight (non-negative, up to 6 decimal places).
    #[serde(default)]
    pub weights: Option<BTreeMap<String, Decimal>>,
}

/// `POST /api/groups/{id}/cost-split/close`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosePeriodInput {
    /// `YYYY-MM`.
    pub period: String,
}

/// A fixed cost of a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedCostView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Amount (micro-USD).
    pub amount_micros: i64,
    /// Amount, exact decimal USD.
    pub amount_usd: String,
    /// How it is shared.
    pub split: SplitRule,
    /// Agreed weights (micro-units) for `weights`.
    pub weights: Option<BTreeMap<i64, i64>>,
    /// Who entered it.
    pub created_by: i64,
    /// When (ms).
    pub created_at: i64,
}

/// One member's share of one fixed cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedShare {
    /// The fixed cost.
    pub fixed_id: i64,
    /// The share (micro-USD).
    pub micros: i64,
}

/// One member's line of the statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostLine {
    /// Member.
    pub user_id: i64,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role (`None`: no longer a member, but used the group in the period).
    pub role: Option<super::GroupRole>,
    /// Requests in the period.
    pub requests: i64,
    /// Metered cost (micro-USD).
    pub metered_micros: i64,
    /// Their shares of the fixed costs.
    pub fixed_shares: Vec<FixedShare>,
    /// Sum of the shares (micro-USD).
    pub fixed_micros: i64,
    /// Metered plus fixed (micro-USD).
    pub total_micros: i64,
    /// Total, exact decimal USD.
    pub total_usd: String,
    /// What they owe the payee (0 for the payee).
    pub owes_micros: i64,
    /// What they receive (the payee: everyone else's totals).
    pub receives_micros: i64,
}

/// One transfer of the "who owes what" table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Payer.
    pub from_user_id: i64,
    /// Payer's name.
    pub from_name: String,
    /// Payee.
    pub to_user_id: i64,
    /// Payee's name.
    pub to_name: String,
    /// Amount (micro-USD).
    pub amount_micros: i64,
    /// Amount, exact decimal USD.
    pub amount_usd: String,
}

/// When and by whom a period was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedInfo {
    /// When (ms).
    pub closed_at: i64,
    /// Who.
    pub closed_by: i64,
}

/// `GET /api/groups/{id}/cost-split?period=YYYY-MM`: the statement of a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSplitView {
    /// Group.
    pub group_id: i64,
    /// `YYYY-MM`.
    pub period: String,
    /// The group's time zone the month is counted in.
    pub time_zone: String,
    /// Start of the month (ms).
    pub from: i64,
    /// Start of the next month (ms).
    pub to: i64,
    /// Set once the period is closed; the statement is then frozen.
    pub closed: Option<ClosedInfo>,
    /// The fixed costs.
    pub fixed: Vec<FixedCostView>,
    /// One line per member (and per former member with usage in the period).
    pub lines: Vec<CostLine>,
    /// Who paid the providers and receives the payments (the group's owner).
    pub payee_user_id: Option<i64>,
    /// Metered costs of the group (micro-USD).
    pub metered_total_micros: i64,
    /// Fixed costs (micro-USD).
    pub fixed_total_micros: i64,
    /// Group total (micro-USD): the sum of every line's total, exactly.
    pub total_micros: i64,
    /// Group total, exact decimal USD.
    pub total_usd: String,
    /// Who owes what.
    pub settlements: Vec<Settlement>,
}
