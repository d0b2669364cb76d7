//! The in-memory counter store (one node).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{CapHit, Caps, Charge, Lease, Refusal, minute};
use crate::gateway::health::HealthState;

/// Sticky pins kept at most; past it expired ones are swept, then the oldest half dropped.
const STICKY_MAX: usize = 200_000;

#[derive(Debug, Default)]
struct CapCounters {
    in_flight: u32,
    minute: i64,
    requests: u32,
    tokens: u64,
}

/// Counters in process memory.
#[derive(Debug, Default)]
pub struct MemoryCounters {
    health: Mutex<HashMap<i64, HealthState>>,
    caps: Mutex<HashMap<i64, CapCounters>>,
    sticky: Mutex<HashMap<String, (i64, i64)>>,
    budgets: Mutex<HashMap<String, (i64, i64)>>,
    next_lease: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryCounters {
    pub(super) fn health(&self, account: i64) -> HealthState {
        lock(&self.health)
            .get(&account)
            .copied()
            .unwrap_or_default()
    }

    /// Applies `change` to the state under the lock; `(changed, state after)`.
    pub(super) fn update(
        &self,
        account: i64,
        change: impl FnOnce(HealthState) -> Option<HealthState>,
    ) -> (bool, HealthState) {
        let mut map = lock(&self.health);
        let current = map.get(&account).copied().unwrap_or_default();
        match change(current) {
            Some(next) => {
                map.insert(account, next);
                (true, next)
            }
            None => (false, current),
        }
    }

    pub(super) fn clear(&self, account: i64) {
        lock(&self.health).remove(&account);
    }

    pub(super) fn acquire(&self, account: i64, caps: Caps, now: i64) -> Result<Lease, CapHit> {
        let mut map = lock(&self.caps);
        let c = map.entry(account).or_default();
        if c.minute != minute(now) {
            c.minute = minute(now);
            c.requests = 0;
            c.tokens = 0;
        }
        if caps.max_concurrency.is_some_and(|max| c.in_flight >= max) {
            return Err(CapHit::Concurrency);
        }
        if caps.rpm.is_some_and(|max| c.requests >= max) {
            return Err(CapHit::Rpm);
        }
        if caps.tpm.is_some_and(|max| c.tokens >= max) {
            return Err(CapHit::Tpm);
        }
        c.in_flight += 1;
        c.requests += 1;
        Ok(Lease {
            account,
            id: self.next_lease.fetch_add(1, Ordering::Relaxed).to_string(),
            caps,
        })
    }

    pub(super) fn release(&self, lease: &Lease, tokens: u64, now: i64) {
        let mut map = lock(&self.caps);
        let c = map.entry(lease.account).or_default();
        c.in_flight = c.in_flight.saturating_sub(1);
        if c.minute == minute(now) {
            c.tokens = c.tokens.saturating_add(tokens);
        } else {
            c.minute = minute(now);
            c.requests = 0;
            c.tokens = tokens;
        }
    }

    pub(super) fn sticky_get(&self, key: &str, now: i64) -> Option<i64> {
        lock(&self.sticky)
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(account, _)| *account)
    }

    pub(super) fn sticky_set(&self, key: &str, account: i64, ttl: Duration, now: i64) {
        let mut map = lock(&self.sticky);
        if map.len() >= STICKY_MAX {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= STICKY_MAX {
                let mut untils: Vec<i64> = map.values().map(|(_, u)| *u).collect();
                untils.sort_unstable();
                let cut = untils[untils.len() / 2];
                map.retain(|_, (_, until)| *until > cut);
            }
        }
        let until = now + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
        map.insert(key.to_owned(), (account, until));
    }
}

/// Budget counters kept at most before expired ones are swept.
const BUDGETS_SWEEP: usize = 100_000;

impl MemoryCounters {
    pub(super) fn reserve(&self, charges: &[Charge]) -> Result<(), Refusal> {
        let now = crate::db::now_ms();
        let mut map = lock(&self.budgets);
        for (index, c) in charges.iter().enumerate() {
            let used = map
                .get(&c.key)
                .filter(|(_, until)| *until == 0 || *until > now)
                .map_or(0, |(v, _)| *v);
            if c.amount > 0 && used.saturating_add(c.amount) > c.cap {
                return Err(Refusal { index, used });
            }
        }
        if map.len() > BUDGETS_SWEEP {
            map.retain(|_, (_, until)| *until == 0 || *until > now);
        }
        for c in charges {
            let until = if c.ttl_ms > 0 { now + c.ttl_ms } else { 0 };
            let entry = map.entry(c.key.clone()).or_insert((0, until));
            if entry.1 != 0 && entry.1 <= now {
                *entry = (0, until);
            }
            entry.0 = entry.0.saturating_add(c.amount);
        }
        Ok(())
    }

    pub(super) fn seed(&self, charges: &[Charge]) {
        let now = crate::db::now_ms();
        let mut map = lock(&self.budgets);
        for c in charges {
            let until = if c.ttl_ms > 0 { now + c.ttl_ms } else { 0 };
            let live = map
                .get(&c.key)
                .is_some_and(|(_, until)| *until == 0 || *until > now);
            if !live {
                map.insert(c.key.clone(), (c.amount.max(0), until));
            }
        }
    }

    pub(super) fn settle(&self, deltas: &[(String, i64, i64)]) {
        let now = crate::db::now_ms();
        let mut map = lock(&self.budgets);
        for (key, delta, ttl_ms) in deltas {
            let until = if *ttl_ms > 0 { now + ttl_ms } else { 0 };
            let entry = map.entry(key.clone()).or_insert((0, until));
            entry.0 = entry.0.saturating_add(*delta).max(0);
        }
    }

    pub(super) fn peek(&self, keys: &[String]) -> Vec<i64> {
        let now = crate::db::now_ms();
        let map = lock(&self.budgets);
        keys.iter()
            .map(|k| {
                map.get(k)
                    .filter(|(_, until)| *until == 0 || *until > now)
                    .map_or(0, |(v, _)| *v)
            })
            .collect()
    }
}
