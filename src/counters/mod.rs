//! Counters and health shared by every request and, in distributed mode, by every node:
//! account health (circuit breaker, cooldowns), per-account caps (concurrency, requests and
//! tokens per minute), sticky-session pins. One contract, two stores: in process memory by
//! default, Redis when `REDIS_URL` is set (atomic Lua scripts, never read-then-write).

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryCounters;
pub use redis::RedisCounters;

use crate::gateway::health::{Availability, HealthEvent, HealthPolicy, HealthState};

/// Per-account caps; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Requests in flight at once.
    pub max_concurrency: Option<u32>,
    /// Requests started per minute.
    pub rpm: Option<u32>,
    /// Tokens used per minute.
    pub tpm: Option<u64>,
}

impl Caps {
    /// Whether any cap is set (otherwise acquiring costs nothing).
    pub fn any(&self) -> bool {
        self.max_concurrency.is_some() || self.rpm.is_some() || self.tpm.is_some()
    }
}

/// Which cap refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapHit {
    /// Too many in flight.
    Concurrency,
    /// Too many requests this minute.
    Rpm,
    /// Too many tokens this minute.
    Tpm,
}

/// A slot held on an account while a request runs; give it back with
/// [`CounterStore::release`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The account.
    pub account: i64,
    /// Unique id of the slot.
    pub id: String,
    /// The caps it was taken under.
    pub caps: Caps,
}

/// One counter a reservation charges: its key (limit and window), the cap, the amount held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// Counter key, unique per limit and window.
    pub key: String,
    /// The cap.
    pub cap: i64,
    /// How much to hold.
    pub amount: i64,
    /// How long the counter must outlive its window (ms); 0 keeps it forever.
    pub ttl_ms: i64,
}

/// Why a reservation was refused: which charge, and what was already used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Index of the charge that did not fit.
    pub index: usize,
    /// Used in that counter (reservations in flight included).
    pub used: i64,
}

/// The store.
#[derive(Debug)]
pub enum CounterStore {
    /// One node: process memory.
    Memory(MemoryCounters),
    /// Several nodes: Redis.
    Redis(RedisCounters),
}

/// Minute bucket of a time (ms).
pub(crate) fn minute(now: i64) -> i64 {
    now.div_euclid(60_000)
}

impl CounterStore {
    /// The in-memory store.
    pub fn memory() -> CounterStore {
        CounterStore::Memory(MemoryCounters::default())
    }

    /// The Redis store; every key starts with `prefix` (`acp:` unless REDIS_PREFIX says
    /// otherwise), so several instances can share one Redis.
    pub fn redis(
        client: fred::clients::Client,
        lease_ttl: Duration,
        prefix: String,
    ) -> CounterStore {
        CounterStore::Redis(RedisCounters::new(client, lease_ttl, prefix))
    }

    /// `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// The last known health of an account (no I/O: Redis state is mirrored locally).
    pub fn health(&self, account: i64) -> HealthState {
        match self {
            Self::Memory(m) => m.health(account),
            Self::Redis(r) => r.health(account),
        }
    }

    /// Applies an event to an account's health atomically; returns the new state.
    pub async fn report(
        &self,
        account: i64,
        event: HealthEvent,
        now: i64,
        policy: &HealthPolicy,
    ) -> HealthState {
        match self {
            Self::Memory(m) => m.update(account, |s| Some(s.apply(event, now, policy))).1,
            Self::Redis(r) => {
                r.update(account, |s| Some(s.apply(event, now, policy)))
                    .await
                    .1
            }
        }
    }

    /// Claims the half-open probe of an account, or with `last_resort` a probe of an open
    /// circuit ([`HealthState::last_resort`]); `true` for exactly one caller (on any node).
    pub async fn claim_probe(
        &self,
        account: i64,
        now: i64,
        policy: &HealthPolicy,
        last_resort: bool,
    ) -> bool {
        let claim = |s: HealthState| {
            let due = s.availability(now) == Availability::ProbeDue
                || (last_resort && s.last_resort(now) == Some(Availability::ProbeDue));
            due.then(|| s.apply(HealthEvent::ProbeClaimed, now, policy))
        };
        match self {
            Self::Memory(m) => m.update(account, claim).0,
            Self::Redis(r) => r.update(account, claim).await.0,
        }
    }

    /// Forgets an account's health (its configuration changed, or a test succeeded).
    pub async fn clear_health(&self, account: i64) {
        match self {
            Self::Memory(m) => m.clear(account),
            Self::Redis(r) => r.clear(account).await,
        }
    }

    /// Refreshes the local mirror from the shared store (Redis only; a no-op in memory).
    pub async fn sync(&self) {
        if let Self::Redis(r) = self {
            r.sync().await;
        }
    }

    /// Takes a slot under `caps` at `now`.
    pub async fn acquire(&self, account: i64, caps: Caps, now: i64) -> Result<Lease, CapHit> {
        match self {
            Self::Memory(m) => m.acquire(account, caps, now),
            Self::Redis(r) => r.acquire(account, caps, now).await,
        }
    }

    /// Gives a slot back and counts the tokens the request used.
    pub async fn release(&self, lease: &Lease, tokens: u64, now: i64) {
        match self {
            Self::Memory(m) => m.release(lease, tokens, now),
            Self::Redis(r) => r.release(lease, tokens, now).await,
        }
    }

    /// Holds every charge, or none: refused if any counter would pass its cap. Atomic: no
    /// interleaving of concurrent reservations can overshoot a cap.
    pub async fn reserve(&self, charges: &[Charge]) -> Result<(), Refusal> {
        if charges.is_empty() {
            return Ok(());
        }
        match self {
            Self::Memory(m) => m.reserve(charges),
            Self::Redis(r) => r.reserve(charges).await,
        }
    }

    /// Starts each charge's counter at its amount where the counter does not exist yet (a
    /// window this store has not counted: after a restart in memory, a new limit, a new
    /// window); an existing counter is left as it is, whoever created it first.
    pub async fn seed(&self, charges: &[Charge]) {
        match self {
            Self::Memory(m) => m.seed(charges),
            Self::Redis(r) => r.seed(charges).await,
        }
    }

    /// Replaces held amounts with actual ones: adds each `delta` (actual - held), atomically.
    pub async fn settle(&self, deltas: &[(String, i64, i64)]) {
        if deltas.iter().all(|(_, d, _)| *d == 0) {
            return;
        }
        match self {
            Self::Memory(m) => m.settle(deltas),
            Self::Redis(r) => r.settle(deltas).await,
        }
    }

    /// Current values of counters (0 when absent).
    pub async fn peek(&self, keys: &[String]) -> Vec<i64> {
        match self {
            Self::Memory(m) => m.peek(keys),
            Self::Redis(r) => r.peek(keys).await,
        }
    }

    /// The account a conversation is pinned to.
    pub async fn sticky_get(&self, key: &str, now: i64) -> Option<i64> {
        match self {
            Self::Memory(m) => m.sticky_get(key, now),
            Self::Redis(r) => r.sticky_get(key, now).await,
        }
    }

    /// Pins a conversation to an account for `ttl`.
    pub async fn sticky_set(&self, key: &str, account: i64, ttl: Duration, now: i64) {
        match self {
            Self::Memory(m) => m.sticky_set(key, account, ttl, now),
            Self::Redis(r) => r.sticky_set(key, account, ttl, now).await,
        }
    }

    /// Pins a conversation to an account for `ttl` without waiting: on this node at once, and
    /// with Redis on every node a moment later (in a task). For a pin made inside a stream,
    /// before the event that names what is pinned goes out.
    pub fn sticky_set_now(self: &Arc<Self>, key: String, account: i64, ttl: Duration, now: i64) {
        match &**self {
            Self::Memory(m) => m.sticky_set(&key, account, ttl, now),
            Self::Redis(r) => {
                r.sticky_remember(&key, account, now);
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let store = Arc::clone(self);
                    runtime.spawn(async move { store.sticky_set(&key, account, ttl, now).await });
                }
            }
        }
    }
}
