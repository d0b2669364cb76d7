//! The routing catalog: every upstream account with its decrypted key and its HTTP client,
//! and which accounts serve which group. Requests read an immutable snapshot (`Arc`); a
//! change on this node rebuilds it at once, a change on another node is noticed by polling a
//! cheap fingerprint of the tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rand::Rng;

use super::client;
use crate::db::{Db, DbError, accounts};
use crate::model::Provider;
use crate::secret::Secret;
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
    /// When the row last changed (ms): the client is rebuilt only when this moves.
    pub updated_at: i64,
    /// Its pooled HTTP client, with its proxy.
    pub client: reqwest::Client,
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
}

/// An immutable snapshot.
#[derive(Debug, Default)]
pub struct Catalog {
    accounts: HashMap<i64, Arc<Account>>,
    groups: HashMap<i64, Vec<Binding>>,
    /// The fingerprint of the tables this snapshot was built from.
    pub fingerprint: [i64; 4],
}

impl Catalog {
    /// Loads every account and binding. Clients of unchanged accounts are taken over from
    /// `previous`, so their pooled connections survive a reload.
    pub async fn load(db: &Db, vault: &Vault, previous: &Catalog) -> Result<Catalog, DbError> {
        let fingerprint = accounts::config_fingerprint(db).await?;
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
                None => match client::build(proxy.as_ref().map(|p| p.expose().as_str())) {
                    Ok(http) => http,
                    Err(e) => {
                        tracing::error!(account = row.id, "account skipped: client: {e}");
                        continue;
                    }
                },
            };
            let account = Account {
                id: row.id,
                name: row.name,
                provider,
                base_url: row.base_url.trim_end_matches('/').to_owned(),
                api_key,
                models: serde_json::from_str(&row.models).unwrap_or_default(),
                aliases: serde_json::from_str(&row.model_aliases).unwrap_or_default(),
                enabled: row.enabled,
                updated_at: row.updated_at,
                client: http,
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
        let mut groups: HashMap<i64, Vec<Binding>> = HashMap::new();
        for b in bindings {
            if let Some((account, priority, weight)) = by_id.get(&b.account_id) {
                groups.entry(b.group_id).or_default().push(Binding {
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
            fingerprint,
        })
    }

    /// One account.
    pub fn account(&self, id: i64) -> Option<&Arc<Account>> {
        self.accounts.get(&id)
    }

    /// The enabled accounts of a group that serve `model`, in the order to try them: by
    /// priority (lower first), and within a priority tier in weighted random order.
    pub fn candidates(&self, group_id: i64, model: &str) -> Vec<Candidate> {
        let Some(bindings) = self.groups.get(&group_id) else {
            return Vec::new();
        };
        let mut eligible: Vec<(&Binding, String)> = bindings
            .iter()
            .filter(|b| b.account.enabled && b.weight > 0)
            .filter_map(|b| b.account.resolve(model).map(|m| (b, m)))
            .collect();
        // Explicitly listed models before pass-through accounts, then by priority.
        eligible.sort_by_key(|(b, _)| (b.account.models.is_empty(), b.priority));
        let mut rng = rand::rng();
        let mut out = Vec::with_capacity(eligible.len());
        let mut start = 0;
        while start < eligible.len() {
            let key = |(b, _): &(&Binding, String)| (b.account.models.is_empty(), b.priority);
            let tier = key(&eligible[start]);
            let end = eligible[start..]
                .iter()
                .position(|e| key(e) != tier)
                .map_or(eligible.len(), |n| start + n);
            let mut tier_items: Vec<(&Binding, String)> = eligible[start..end].to_vec();
            // Weighted random order without replacement.
            while !tier_items.is_empty() {
                let total: u64 = tier_items.iter().map(|(b, _)| u64::from(b.weight)).sum();
                let mut pick = rng.random_range(0..total.max(1));
                let mut index = 0;
                for (i, (b, _)) in tier_items.iter().enumerate() {
                    if pick < u64::from(b.weight) {
                        index = i;
                        break;
                    }
                    pick -= u64::from(b.weight);
                }
                let (b, m) = tier_items.swap_remove(index);
                out.push(Candidate {
                    account: b.account.clone(),
                    upstream_model: m,
                });
            }
            start = end;
        }
        out
    }

    /// The model names a group's enabled accounts serve (aliases included), sorted.
    pub fn models(&self, group_id: i64) -> Vec<String> {
        let mut names = BTreeSet::new();
        for b in self.groups.get(&group_id).into_iter().flatten() {
            if b.account.enabled {
                names.extend(b.account.models.iter().cloned());
                names.extend(b.account.aliases.keys().cloned());
            }
        }
        names.into_iter().collect()
    }
}
