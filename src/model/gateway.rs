//! Wire types of the chat proxy's configuration: upstream accounts, their bindings to groups,
//! and member keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kind of AI service an upstream account talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// OpenAI (Chat Completions and Responses), base URL with `/v1`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages, base URL without `/v1`.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Google Gemini through its OpenAI-compatible endpoint.
    #[serde(rename = "gemini")]
    Gemini,
    /// Any OpenAI-compatible Chat Completions API: DeepSeek, Qwen (DashScope compatible mode),
    /// Moonshot, Zhipu, vLLM, Ollama.
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
}

impl Provider {
    /// Every provider, in the order forms list them.
    pub const ALL: [Provider; 4] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::OpenAiCompatible,
    ];

    /// The stored and submitted value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::OpenAiCompatible => "openai_compatible",
        }
    }

    /// Reads a stored or submitted value.
    pub fn parse(value: &str) -> Option<Provider> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    /// The provider's public API root, as its own SDK takes it.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com",
            Self::Gemini => "https://generativelanguage.googleapis.com/v1beta/openai",
            Self::OpenAiCompatible => "",
        }
    }
}

/// An upstream account as its managers see it; the API key shows only its last 4 characters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Provider kind.
    pub provider: Provider,
    /// API root.
    pub base_url: String,
    /// `…` and the key's last 4 characters.
    pub api_key_hint: String,
    /// Models this account serves.
    pub models: Vec<String>,
    /// Names clients may use, each mapped to one of `models`.
    pub model_aliases: BTreeMap<String, String>,
    /// The proxy, with any password masked.
    pub proxy_url: Option<String>,
    /// Share of traffic within its priority tier.
    pub weight: u32,
    /// Lower is tried first.
    pub priority: i32,
    /// The group it is dedicated to; `None` for a system account.
    pub group_id: Option<i64>,
    /// Whether it serves requests.
    pub enabled: bool,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// When it failed (ms).
    pub last_error_at: Option<i64>,
    /// Latency of the last successful connection test (ms).
    pub last_test_ms: Option<i64>,
    /// Requests in flight at once; `None` for no cap.
    pub max_concurrency: Option<u32>,
    /// Requests per minute; `None` for no cap.
    pub rpm_limit: Option<u32>,
    /// Tokens per minute; `None` for no cap.
    pub tpm_limit: Option<u64>,
    /// Live health (this node's latency and error view, the shared circuit state).
    pub health: Option<AccountHealthView>,
    /// Groups it is bound to.
    pub bound_groups: Vec<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

/// A new upstream account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccountInput {
    /// Name.
    pub name: String,
    /// `openai`, `anthropic`, `gemini` or `openai_compatible`.
    pub provider: String,
    /// API root; the provider's public one when empty.
    #[serde(default)]
    pub base_url: String,
    /// The provider API key.
    pub api_key: String,
    /// Models it serves.
    #[serde(default)]
    pub models: Vec<String>,
    /// Alias -> model.
    #[serde(default)]
    pub model_aliases: BTreeMap<String, String>,
    /// `http://`, `https://`, `socks5://` or `socks5h://`, with optional credentials.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Default 1.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Default 0.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Dedicated to this group; system account when absent.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Concurrency cap; absent or 0 for none.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Requests-per-minute cap; absent or 0 for none.
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    /// Tokens-per-minute cap; absent or 0 for none.
    #[serde(default)]
    pub tpm_limit: Option<u64>,
}

/// A change to an upstream account: absent fields stay as they are. An empty `proxy_url`
/// removes the proxy.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccountPatch {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// API root.
    #[serde(default)]
    pub base_url: Option<String>,
    /// A new key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Models.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Aliases.
    #[serde(default)]
    pub model_aliases: Option<BTreeMap<String, String>>,
    /// Proxy; `""` removes it.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Weight.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Concurrency cap; 0 removes it.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Requests-per-minute cap; 0 removes it.
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    /// Tokens-per-minute cap; 0 removes it.
    #[serde(default)]
    pub tpm_limit: Option<u64>,
}

/// The result of a connection test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTestView {
    /// The provider answered with success.
    pub ok: bool,
    /// Round trip (ms).
    pub latency_ms: u64,
    /// The provider's HTTP status, when it answered.
    pub status: Option<u16>,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// Models the provider listed.
    pub models: Vec<String>,
}

/// An account bound to a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingView {
    /// Account id.
    pub account_id: i64,
    /// Account name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// Models (aliases included).
    pub models: Vec<String>,
    /// Priority for this group (the account's own when not overridden).
    pub priority: i32,
    /// Weight for this group (the account's own when not overridden).
    pub weight: u32,
    /// Whether the account serves requests.
    pub enabled: bool,
    /// Dedicated to this group (rather than a shared system account).
    pub dedicated: bool,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A binding request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BindingInput {
    /// The account.
    pub account_id: i64,
    /// Priority for this group.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Weight for this group.
    #[serde(default)]
    pub weight: Option<u32>,
}

/// A member key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    /// Id.
    pub id: i64,
    /// Group.
    pub group_id: i64,
    /// Owner.
    pub user_id: i64,
    /// Owner's name.
    pub user_name: String,
    /// Name.
    pub name: String,
    /// The first characters (`acp_AbCd`).
    pub prefix: String,
    /// The last 4 characters.
    pub last4: String,
    /// Models it may use; all of the group's when `None`.
    pub models: Option<Vec<String>>,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Last request (ms).
    pub last_used_at: Option<i64>,
}

/// A key just created: the only time the key itself is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyView {
    /// The key, `acp_…`.
    pub key: String,
    /// Its listing.
    #[serde(flatten)]
    pub info: KeyView,
}

/// A new member key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeyInput {
    /// Name.
    pub name: String,
    /// Allowed models; all of the group's when absent (an empty list is refused).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Expiry: ms since the epoch, or an RFC 3339 time string.
    #[serde(default)]
    pub expires_at: Option<Expiry>,
}

/// A point in time as clients send it: milliseconds since the epoch or an RFC 3339 string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expiry {
    /// Milliseconds since the epoch.
    Millis(i64),
    /// `2026-12-31T00:00:00Z`.
    Text(String),
}

/// How a group spreads requests over the accounts of one priority tier (lower priority
/// numbers are always tried first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// Random, in proportion to the bindings' weights.
    #[default]
    Weighted,
    /// In turn.
    RoundRobin,
    /// The account with the lowest recent time to first byte first.
    LeastLatency,
    /// The account whose model costs least (from the price table) first.
    LowestCost,
    /// The account with the most of its budget left first.
    MostBudget,
}

impl RoutingStrategy {
    /// Every strategy, in the order forms list them.
    pub const ALL: [RoutingStrategy; 5] = [
        RoutingStrategy::Weighted,
        RoutingStrategy::RoundRobin,
        RoutingStrategy::LeastLatency,
        RoutingStrategy::LowestCost,
        RoutingStrategy::MostBudget,
    ];

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::RoundRobin => "round_robin",
            Self::LeastLatency => "least_latency",
            Self::LowestCost => "lowest_cost",
            Self::MostBudget => "most_budget",
        }
    }

    /// Reads a stored or submitted value.
    pub fn parse(value: &str) -> Option<RoutingStrategy> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Live health of an account, as the accounts page shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountHealthView {
    /// `closed`, `open` or `half_open`.
    pub circuit: String,
    /// Why the account is out, in words; `None` when it serves.
    pub out_reason: Option<String>,
    /// Out until (ms), when that is known.
    pub out_until: Option<i64>,
    /// Recent time to first byte (ms), an exponentially weighted average.
    pub latency_ms: Option<f64>,
    /// Share of recent attempts that failed (0..1).
    pub error_rate: f64,
    /// Attempts seen by this node.
    pub attempts: u64,
    /// Failures in a row.
    pub consecutive_failures: u32,
}

/// A group's routing settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingView {
    /// The strategy.
    pub strategy: RoutingStrategy,
    /// Fallback chains: alias -> models in order.
    pub routes: BTreeMap<String, Vec<String>>,
}
