//! The routing catalog: every upstream account with its decrypted key and its HTTP client,
//! and which accounts serve which group. Requests read an immutable snapshot (`Arc`); a
//! change on this node rebuilds it at once, a change on another node is noticed by polling a
//! cheap fingerprint of the tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use super::budget::Limit;
use super::{client, upstream};
use crate::counters::Caps;
use crate::db::{Db, DbError, accounts, limits, routing};
use crate::model::{LimitMetric, LimitScope, LimitWindow, Provider, RoutingStrategy};
use crate::pricing::{self, Price};
use crate::secret::Secret;
use crate::tz::Zone;
use crate::vault::Vault;

/// An upstream account, ready to send requests.
#[derive(Debug)]
pub struct Account {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// API root without a trailing slash.
    pub base_url: String,
    /// The provider key.
    pub api_key: Secret<String>,
    /// Models served; an empty list passes any model name through.
    pub models: Vec<String>,
    /// Alias -> upstream model.
    pub aliases: BTreeMap<String, String>,
    /// Whether it serves requests.
    pub enabled: bool,
    /// Concurrency, request and token caps.
    pub caps: Caps,
    /// When the row last changed (ms): the client is rebuilt only when this moves.
    pub updated_at: i64,
    /// Its pooled HTTP client, with its proxy.
    pub client: client::Client,
    /// `name` as the `x-aicarpool-account` answer header; `None` when it is not printable
    /// ASCII (the id header still names the account).
    pub name_header: Option<HeaderValue>,
    /// The key in the header its provider reads, marked sensitive; `None` when the key has
    /// characters a header cannot carry (its requests then fail as misconfigured).
    pub credential: Option<(HeaderName, HeaderValue)>,
}

impl Account {
    /// The upstream model for a requested name, if this account serves it.
    pub fn resolve(&self, requested: &str) -> Option<String> {
        if let Some(target) = self.aliases.get(requested) {
            return Some(target.clone());
        }
        if self.models.is_empty() || self.models.iter().any(|m| m == requested) {
            return Some(requested.to_owned());
        }
        None
    }
}

/// One account serving one group.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The account.
    pub account: Arc<Account>,
    /// Lower is tried first.
    pub priority: i32,
    /// Share within the priority tier.
    pub weight: u32,
}

/// A candidate for one request: the account and the model name to send it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The account.
    pub account: Arc<Account>,
    /// The model name upstream.
    pub upstream_model: String,
    /// Priority of its binding (lower first).
    pub priority: i32,
    /// Weight of its binding.
    pub weight: u32,
    /// Position of its model in the fallback chain (0 for the model asked).
    pub chain_step: usize,
}

/// How a group routes.
#[derive(Debug, Default)]
pub struct GroupRouting {
    /// Its accounts.
    pub bindings: Vec<Binding>,
    /// Its strategy.
    pub strategy: RoutingStrategy,
    /// Fallback chains: alias -> models in order.
    pub routes: HashMap<String, Vec<String>>,
    /// Its limits.
    pub limits: Vec<Limit>,
    /// Its time zone, which bounds the day and month windows of its limits.
    pub zone: Zone,
}

impl GroupRouting {
    /// The group's limits on one upstream account.
    pub fn account_limits(&self, account_id: i64) -> impl Iterator<Item = &Limit> {
        self.limits
            .iter()
            .filter(move |l| l.scope == LimitScope::Account && l.target_id == Some(account_id))
    }
}

/// An immutable snapshot.
#[derive(Debug, Default)]
pub struct Catalog {
    accounts: HashMap<i64, Arc<Account>>,
    groups: HashMap<i64, GroupRouting>,
    prices: Vec<(String, Price)>,
    /// The fingerprint of the tables this snapshot was built from.
    pub fingerprint: Vec<i64>,
}

/// The fingerprint of everything the catalog holds.
pub async fn fingerprint(db: &Db) -> Result<Vec<i64>, DbError> {
    let mut f = accounts::config_fingerprint(db).await?.to_vec();
    f.extend(limits::fingerprint(db).await?);
    Ok(f)
}

impl Catalog {
    /// Loads every account and binding. Clients of unchanged accounts are taken over from
    /// `previous`, so their pooled connections survive a reload.
    pub async fn load(
        db: &Db,
        vault: &Vault,
        tls: Option<&Arc<rustls::ClientConfig>>,
        previous: &Catalog,
    ) -> Result<Catalog, DbError> {
        let fingerprint = fingerprint(db).await?;
        let rows = accounts::list_all(db).await?;
        let bindings = accounts::list_bindings(db).await?;
        let mut by_id = HashMap::with_capacity(rows.len());
        for row in rows {
            let Some(provider) = Provider::parse(&row.provider) else {
                continue;
            };
            let api_key = match vault.open(&row.api_key_enc) {
                Ok(key) => key,
                Err(e) => {
                    tracing::error!(account = row.id, "account skipped: {e}");
                    continue;
                }
            };
            let proxy = match row.proxy_url_enc.as_deref().map(|p| vault.open(p)) {
                Some(Ok(proxy)) => Some(proxy),
                Some(Err(e)) => {
                    tracing::error!(account = row.id, "account skipped: proxy: {e}");
                    continue;
                }
                None => None,
            };
            let reused = previous
                .accounts
                .get(&row.id)
                .filter(|a| a.updated_at == row.updated_at)
                .map(|a| a.client.clone());
            let http = match reused {
                Some(http) => http,
                None => match client::build(proxy.as_ref().map(|p| p.expose().as_str()), tls) {
                    Ok(http) => http,
                    Err(e) => {
                        tracing::error!(account = row.id, "account skipped: client: {e}");
                        continue;
                    }
                },
            };
            let name_header = row
                .name
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b))
                .then(|| HeaderValue::from_str(&row.name).ok())
                .flatten();
            let credential = upstream::credential(provider, api_key.expose());
            let account = Account {
                id: row.id,
                name: row.name,
                provider,
                base_url: row.base_url.trim_end_matches('/').to_owned(),
                api_key,
                models: serde_json::from_str(&row.models).unwrap_or_default(),
                aliases: serde_json::from_str(&row.model_aliases).unwrap_or_default(),
                enabled: row.enabled,
                caps: Caps {
                    max_concurrency: row.max_concurrency.and_then(|v| u32::try_from(v).ok()),
                    rpm: row.rpm_limit.and_then(|v| u32::try_from(v).ok()),
                    tpm: row.tpm_limit.and_then(|v| u64::try_from(v).ok()),
                },
                updated_at: row.updated_at,
                client: http,
                name_header,
                credential,
            };
            by_id.insert(
                row.id,
                (
                    Arc::new(account),
                    i32::try_from(row.priority).unwrap_or(0),
                    u32::try_from(row.weight).unwrap_or(1),
                ),
            );
        }
        let mut groups: HashMap<i64, GroupRouting> = HashMap::new();
        for (group_id, strategy) in routing::strategies(db).await? {
            groups.entry(group_id).or_default().strategy =
                RoutingStrategy::parse(&strategy).unwrap_or_default();
        }
        for (group_id, name) in limits::time_zones(db).await? {
            groups.entry(group_id).or_default().zone = Zone::or_default(&name);
        }
        for row in limits::list_all(db).await? {
            let (Some(scope), Some(metric), Some(window)) = (
                LimitScope::parse(&row.scope),
                LimitMetric::parse(&row.metric),
                LimitWindow::parse(&row.period),
            ) else {
                continue;
            };
            let g = groups.entry(row.group_id).or_default();
            let zone = g.zone.clone();
            g.limits.push(Limit {
                id: row.id,
                group_id: row.group_id,
                scope,
                target_id: row.target_id,
                metric,
                window,
                cap: row.cap,
                warn_at: serde_json::from_str(&row.warn_at).unwrap_or_default(),
                zone,
            });
        }
        let prices = limits::prices(db)
            .await?
            .into_iter()
            .map(|p| {
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                (
                    p.model.to_ascii_lowercase(),
                    Price {
                        input: n(p.input),
                        output: n(p.output),
                        cache_read: n(p.cache_read),
                        cache_write: n(p.cache_write),
                    },
                )
            })
            .collect();
        for route in routing::routes(db).await? {
            let models: Vec<String> = serde_json::from_str(&route.models).unwrap_or_default();
            groups
                .entry(route.group_id)
                .or_default()
                .routes
                .insert(route.alias, models);
        }
        for b in bindings {
            if let Some((account, priority, weight)) = by_id.get(&b.account_id) {
                groups
                    .entry(b.group_id)
                    .or_default()
                    .bindings
                    .push(Binding {
                        account: account.clone(),
                        priority: b
                            .priority
                            .and_then(|p| i32::try_from(p).ok())
                            .unwrap_or(*priority),
                        weight: b
                            .weight
                            .and_then(|w| u32::try_from(w).ok())
                            .unwrap_or(*weight),
                    });
            }
        }
        Ok(Catalog {
            accounts: by_id.into_iter().map(|(id, (a, _, _))| (id, a)).collect(),
            groups,
            prices,
            fingerprint,
        })
    }

    /// One account.
    pub fn account(&self, id: i64) -> Option<&Arc<Account>> {
        self.accounts.get(&id)
    }

    /// The price of a model: an admin override (exact name, or the family of a dated
    /// variant), else the built-in table.
    pub fn price(&self, model: &str) -> Option<Price> {
        let lower = model.to_ascii_lowercase();
        self.prices
            .iter()
            .filter(|(name, _)| {
                lower == *name
                    || lower
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with(['-', '.', '@']))
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
            .or_else(|| pricing::built_in(model))
    }

    /// A group's routing.
    pub fn group(&self, group_id: i64) -> Option<&GroupRouting> {
        self.groups.get(&group_id)
    }

    /// The models to try for a requested name: its fallback chain, or just itself.
    pub fn chain(&self, group_id: i64, model: &str) -> Vec<String> {
        self.groups
            .get(&group_id)
            .and_then(|g| g.routes.get(model))
            .filter(|chain| !chain.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![model.to_owned()])
    }

    /// Every enabled account of a group that serves some model of the requested name's
    /// chain, unordered (the selector orders them).
    pub fn candidates(&self, group_id: i64, model: &str) -> Vec<Candidate> {
        let Some(group) = self.groups.get(&group_id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (step, name) in self.chain(group_id, model).iter().enumerate() {
            // Accounts listing the model explicitly before pass-through ones.
            for explicit in [true, false] {
                for b in &group.bindings {
                    if !b.account.enabled
                        || b.weight == 0
                        || b.account.models.is_empty() == explicit
                    {
                        continue;
                    }
                    if let Some(upstream_model) = b.account.resolve(name) {
                        out.push(Candidate {
                            account: b.account.clone(),
                            upstream_model,
                            priority: b.priority,
                            weight: b.weight,
                            chain_step: step * 2 + usize::from(!explicit),
                        });
                    }
                }
            }
        }
        out
    }

    /// The model names a group's enabled accounts serve (aliases and fallback chains
    /// included), sorted.
    pub fn models(&self, group_id: i64) -> Vec<String> {
        let mut names = BTreeSet::new();
        if let Some(group) = self.groups.get(&group_id) {
            for b in &group.bindings {
                if b.account.enabled {
                    names.extend(b.account.models.iter().cloned());
                    names.extend(b.account.aliases.keys().cloned());
                }
            }
            names.extend(group.routes.keys().cloned());
        }
        names.into_iter().collect()
    }
}
