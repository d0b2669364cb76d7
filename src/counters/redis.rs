//! The Redis counter store (several nodes). Health is written with a compare-and-set script
//! (the rules stay in Rust, in `gateway::health`; the script only swaps the value if nobody
//! changed it meanwhile) and mirrored locally, so routing reads no Redis on the hot path.
//! Caps use one script per acquire: leases in a sorted set that expire by themselves if a
//! node dies mid-request, and per-minute request / token counters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{HashesInterface, KeysInterface, LuaInterface, SortedSetsInterface};
use fred::types::{Expiration, SetOptions};

use super::{CapHit, Caps, Charge, Lease, Refusal, minute};
use crate::gateway::health::HealthState;

/// Attempts of the compare-and-set loop before giving up on a contended update.
const CAS_ATTEMPTS: usize = 8;

const CAS: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then v = ARGV[4] end
if v == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return {1, ARGV[3]}
end
return {0, v}
";

const ACQUIRE: &str = r"
local now = tonumber(ARGV[1])
local conc = tonumber(ARGV[4])
local rpm = tonumber(ARGV[5])
local tpm = tonumber(ARGV[6])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= conc then return 1 end
end
if rpm > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= rpm then return 2 end
if tpm > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= tpm then return 3 end
if conc > 0 then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
if rpm > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 120000)
end
return 0
";

/// Holds every charge or none. ARGV: per key, cap, amount, ttl (ms). Returns {0, 0} when
/// held, or {index, used} (1-based) of the first counter that would pass its cap.
const RESERVE: &str = r"
for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 * i - 1])
  if amount > 0 then
    local used = tonumber(redis.call('GET', KEYS[i]) or '0')
    if used + amount > tonumber(ARGV[3 * i - 2]) then return {i, used} end
  end
end
for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 * i - 1])
  local ttl = tonumber(ARGV[3 * i])
  redis.call('INCRBY', KEYS[i], amount)
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {0, 0}
";

/// Adds deltas. ARGV: per key, delta, ttl (ms).
const SETTLE: &str = r"
for i = 1, #KEYS do
  local v = redis.call('INCRBY', KEYS[i], tonumber(ARGV[2 * i - 1]))
  if v < 0 then redis.call('SET', KEYS[i], 0) end
  local ttl = tonumber(ARGV[2 * i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 0
";

/// Counters in Redis.
#[derive(Debug)]
pub struct RedisCounters {
    client: Client,
    prefix: String,
    lease_ttl: Duration,
    mirror: Mutex<HashMap<i64, HealthState>>,
    sticky_cache: Mutex<HashMap<String, (i64, i64)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl RedisCounters {
    pub(super) fn new(client: Client, lease_ttl: Duration, prefix: String) -> RedisCounters {
        RedisCounters {
            client,
            prefix,
            lease_ttl,
            mirror: Mutex::new(HashMap::new()),
            sticky_cache: Mutex::new(HashMap::new()),
        }
    }

    fn health_key(&self) -> String {
        format!("{}health", self.prefix)
    }

    pub(super) fn health(&self, account: i64) -> HealthState {
        lock(&self.mirror)
            .get(&account)
            .copied()
            .unwrap_or_default()
    }

    /// Compare-and-set loop: applies `change` to the shared value; `(changed, state after)`.
    /// If Redis is unreachable the change is kept locally so this node still protects itself.
    pub(super) async fn update(
        &self,
        account: i64,
        change: impl Fn(HealthState) -> Option<HealthState>,
    ) -> (bool, HealthState) {
        let default = HealthState::default().encode();
        let mut current = self.health(account);
        for _ in 0..CAS_ATTEMPTS {
            let Some(next) = change(current) else {
                return (false, current);
            };
            let result: Result<(i64, String), _> = self
                .client
                .eval(
                    CAS,
                    vec![self.health_key()],
                    vec![
                        account.to_string(),
                        current.encode(),
                        next.encode(),
                        default.clone(),
                    ],
                )
                .await;
            match result {
                Ok((1, _)) => {
                    lock(&self.mirror).insert(account, next);
                    return (true, next);
                }
                Ok((_, seen)) => {
                    current = HealthState::decode(&seen);
                    lock(&self.mirror).insert(account, current);
                }
                Err(e) => {
                    tracing::warn!(account, "Redis health update failed, kept locally: {e}");
                    lock(&self.mirror).insert(account, next);
                    return (true, next);
                }
            }
        }
        (false, current)
    }

    pub(super) async fn clear(&self, account: i64) {
        lock(&self.mirror).remove(&account);
        let result: Result<i64, _> = self
            .client
            .hdel(self.health_key(), account.to_string())
            .await;
        if let Err(e) = result {
            tracing::warn!(account, "Redis health reset failed: {e}");
        }
    }

    pub(super) async fn sync(&self) {
        let all: Result<HashMap<String, String>, _> = self.client.hgetall(self.health_key()).await;
        match all {
            Ok(all) => {
                let fresh: HashMap<i64, HealthState> = all
                    .into_iter()
                    .filter_map(|(k, v)| k.parse().ok().map(|k| (k, HealthState::decode(&v))))
                    .collect();
                *lock(&self.mirror) = fresh;
            }
            Err(e) => tracing::warn!("Redis health sync failed: {e}"),
        }
    }

    fn keys(&self, account: i64, now: i64) -> Vec<String> {
        let (p, m) = (&self.prefix, minute(now));
        vec![
            format!("{p}inflight:{account}"),
            format!("{p}rpm:{account}:{m}"),
            format!("{p}tpm:{account}:{m}"),
        ]
    }

    pub(super) async fn acquire(
        &self,
        account: i64,
        caps: Caps,
        now: i64,
    ) -> Result<Lease, CapHit> {
        let id = crate::gateway::keys::generate();
        let expires = now + ms(self.lease_ttl);
        let result: Result<i64, _> = self
            .client
            .eval(
                ACQUIRE,
                self.keys(account, now),
                vec![
                    now.to_string(),
                    expires.to_string(),
                    id.clone(),
                    caps.max_concurrency.unwrap_or(0).to_string(),
                    caps.rpm.unwrap_or(0).to_string(),
                    caps.tpm.unwrap_or(0).to_string(),
                ],
            )
            .await;
        match result {
            Ok(0) => Ok(Lease { account, id, caps }),
            Ok(1) => Err(CapHit::Concurrency),
            Ok(2) => Err(CapHit::Rpm),
            Ok(_) => Err(CapHit::Tpm),
            Err(e) => {
                // Without Redis the caps cannot be enforced across nodes; serving beats refusing.
                tracing::warn!(account, "Redis cap check failed, allowing the request: {e}");
                Ok(Lease { account, id, caps })
            }
        }
    }

    pub(super) async fn release(&self, lease: &Lease, tokens: u64, now: i64) {
        let keys = self.keys(lease.account, now);
        if lease.caps.max_concurrency.is_some() {
            let r: Result<i64, _> = self.client.zrem(&keys[0], lease.id.as_str()).await;
            if let Err(e) = r {
                tracing::warn!("Redis lease release failed: {e}");
            }
        }
        if lease.caps.tpm.is_some() && tokens > 0 {
            let r: Result<i64, _> = self
                .client
                .incr_by(&keys[2], i64::try_from(tokens).unwrap_or(i64::MAX))
                .await;
            let e: Result<i64, _> = self.client.pexpire(&keys[2], 120_000, None).await;
            if let Err(e) = r.and(e) {
                tracing::warn!("Redis token count failed: {e}");
            }
        }
    }

    pub(super) async fn sticky_get(&self, key: &str, now: i64) -> Option<i64> {
        if let Some((account, until)) = lock(&self.sticky_cache).get(key).copied()
            && until > now
        {
            return Some(account);
        }
        let value: Result<Option<i64>, _> = self
            .client
            .get(format!("{}sticky:{key}", self.prefix))
            .await;
        let account = value.ok().flatten()?;
        // Trust the shared pin for a few seconds before asking again.
        lock(&self.sticky_cache).insert(key.to_owned(), (account, now + 5_000));
        Some(account)
    }

    /// Remembers a pin on this node (for the few seconds a shared pin is trusted).
    pub(super) fn sticky_remember(&self, key: &str, account: i64, now: i64) {
        let mut cache = lock(&self.sticky_cache);
        if cache.len() > 100_000 {
            cache.retain(|_, (_, until)| *until > now);
        }
        cache.insert(key.to_owned(), (account, now + 5_000));
    }

    pub(super) async fn sticky_set(&self, key: &str, account: i64, ttl: Duration, now: i64) {
        self.sticky_remember(key, account, now);
        let r: Result<(), _> = self
            .client
            .set(
                format!("{}sticky:{key}", self.prefix),
                account,
                Some(Expiration::PX(ms(ttl))),
                None,
                false,
            )
            .await;
        if let Err(e) = r {
            tracing::warn!("Redis sticky pin failed: {e}");
        }
    }
}

impl RedisCounters {
    fn budget_key(&self, key: &str) -> String {
        format!("{}budget:{key}", self.prefix)
    }

    pub(super) async fn reserve(&self, charges: &[Charge]) -> Result<(), Refusal> {
        let keys: Vec<String> = charges.iter().map(|c| self.budget_key(&c.key)).collect();
        let args: Vec<String> = charges
            .iter()
            .flat_map(|c| {
                [
                    c.cap.to_string(),
                    c.amount.to_string(),
                    c.ttl_ms.to_string(),
                ]
            })
            .collect();
        let result: Result<(i64, i64), _> = self.client.eval(RESERVE, keys, args).await;
        match result {
            Ok((0, _)) => Ok(()),
            Ok((index, used)) => Err(Refusal {
                index: usize::try_from(index - 1).unwrap_or(0),
                used,
            }),
            Err(e) => {
                // Budgets cannot be checked without Redis: refusing would stop every request.
                tracing::error!("Redis budget reservation failed, allowing the request: {e}");
                Ok(())
            }
        }
    }

    pub(super) async fn seed(&self, charges: &[Charge]) {
        for c in charges {
            let expire = (c.ttl_ms > 0).then_some(Expiration::PX(c.ttl_ms));
            let result: Result<Option<String>, _> = self
                .client
                .set(
                    self.budget_key(&c.key),
                    c.amount.max(0),
                    expire,
                    Some(SetOptions::NX),
                    false,
                )
                .await;
            if let Err(e) = result {
                tracing::warn!("Redis budget counter could not be seeded: {e}");
            }
        }
    }

    pub(super) async fn settle(&self, deltas: &[(String, i64, i64)]) {
        let keys: Vec<String> = deltas.iter().map(|(k, _, _)| self.budget_key(k)).collect();
        let args: Vec<String> = deltas
            .iter()
            .flat_map(|(_, d, ttl)| [d.to_string(), ttl.to_string()])
            .collect();
        let result: Result<i64, _> = self.client.eval(SETTLE, keys, args).await;
        if let Err(e) = result {
            tracing::error!("Redis budget settlement failed: {e}");
        }
    }

    pub(super) async fn peek(&self, keys: &[String]) -> Vec<i64> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let v: Result<Option<i64>, _> = self.client.get(self.budget_key(key)).await;
            out.push(v.ok().flatten().unwrap_or(0));
        }
        out
    }
}
