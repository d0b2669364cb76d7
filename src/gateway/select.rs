//! The selector: turns a request's candidate accounts into the order to try them. Accounts
//! that are out (open circuit, cooldown, refused key) are skipped with their reason; the rest
//! go by fallback-chain step, then priority tier, then the group's strategy within the tier;
//! a sticky conversation's account goes first while it is healthy. When nothing is left, the
//! accounts out only for an open circuit are tried as last-resort probes, the soonest to
//! close first. It also keeps this node's view of each account's latency and error rate.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::catalog::Candidate;
use super::health::{Availability, OutReason};
use crate::counters::CounterStore;
use crate::model::RoutingStrategy;
use crate::pricing;

/// Weight of the newest sample in the latency average.
const EWMA_ALPHA: f64 = 0.2;
/// Decay of the error-rate counters per observation.
const ERROR_DECAY: f64 = 0.98;

/// One candidate in the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The candidate.
    pub candidate: Candidate,
    /// Its circuit is half-open: claim the probe before sending.
    pub needs_probe: bool,
    /// Its circuit is open, but nothing else can serve: the probe is a last resort.
    pub last_resort: bool,
}

/// What share of its budget each account has left (0.0 to 1.0; accounts without a limit are
/// missing and count as 1.0), for the `most_budget` strategy.
pub type BudgetLeft = HashMap<i64, f64>;

/// The order to try accounts in, and those left out.
#[derive(Debug, Default)]
pub struct Plan {
    /// In order.
    pub ordered: Vec<Planned>,
    /// Out, with the reason.
    pub skipped: Vec<(Candidate, OutReason)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    ewma_ttfb_ms: Option<f64>,
    ok: f64,
    err: f64,
    attempts: u64,
}

/// This node's routing state.
#[derive(Debug, Default)]
pub struct Selector {
    round_robin: Mutex<HashMap<(i64, i32, usize), u64>>,
    stats: Mutex<HashMap<i64, Stats>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Selector {
    /// Orders `candidates` for one request of `group_id`. `left` is read by the `most_budget`
    /// strategy only.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site, each argument distinct"
    )]
    pub fn plan(
        &self,
        group_id: i64,
        strategy: RoutingStrategy,
        candidates: Vec<Candidate>,
        counters: &CounterStore,
        sticky: Option<i64>,
        left: &BudgetLeft,
        now: i64,
    ) -> Plan {
        let mut plan = Plan::default();
        let mut usable = Vec::with_capacity(candidates.len());
        for c in candidates {
            match counters.health(c.account.id).availability(now) {
                Availability::Available => usable.push((c, false)),
                Availability::ProbeDue => usable.push((c, true)),
                Availability::Out(reason) => plan.skipped.push((c, reason)),
            }
        }
        if usable.is_empty() {
            plan.ordered = last_resort(&mut plan.skipped, counters, now);
            return plan;
        }
        usable.sort_by_key(|(c, _)| (c.chain_step, c.priority));
        let mut start = 0;
        while start < usable.len() {
            let tier = (usable[start].0.chain_step, usable[start].0.priority);
            let end = usable[start..]
                .iter()
                .position(|(c, _)| (c.chain_step, c.priority) != tier)
                .map_or(usable.len(), |n| start + n);
            self.order_tier(group_id, strategy, tier, left, &mut usable[start..end]);
            start = end;
        }
        if let Some(pinned) = sticky
            && let Some(i) = usable
                .iter()
                .position(|(c, probe)| c.account.id == pinned && !probe)
        {
            let entry = usable.remove(i);
            usable.insert(0, entry);
        }
        plan.ordered = usable
            .into_iter()
            .map(|(candidate, needs_probe)| Planned {
                candidate,
                needs_probe,
                last_resort: false,
            })
            .collect();
        plan
    }

    fn order_tier(
        &self,
        group_id: i64,
        strategy: RoutingStrategy,
        tier: (usize, i32),
        left: &BudgetLeft,
        items: &mut [(Candidate, bool)],
    ) {
        if items.len() < 2 {
            return;
        }
        match strategy {
            RoutingStrategy::Weighted => weighted_shuffle(items),
            RoutingStrategy::MostBudget => {
                // Equal shares (to a tenth of a percent) keep the weighted random order, so
                // fresh accounts share the load by weight rather than by id.
                weighted_shuffle(items);
                items.sort_by_cached_key(|(c, _)| {
                    let share = left.get(&c.account.id).copied().unwrap_or(1.0);
                    std::cmp::Reverse((share.clamp(0.0, 1.0) * 1000.0).round() as u32)
                });
            }
            RoutingStrategy::RoundRobin => {
                items.sort_by_key(|(c, _)| c.account.id);
                let turn = {
                    let mut rr = lock(&self.round_robin);
                    let counter = rr.entry((group_id, tier.1, tier.0)).or_insert(0);
                    *counter = counter.wrapping_add(1);
                    *counter - 1
                };
                let n = items.len();
                items.rotate_left(usize::try_from(turn % n as u64).unwrap_or(0));
            }
            RoutingStrategy::LeastLatency => {
                weighted_shuffle(items);
                let stats = lock(&self.stats);
                // Unmeasured accounts first, so each gets measured. Whole microseconds make
                // a cheap integer key, computed once per account.
                items.sort_by_cached_key(|(c, _)| {
                    let ms = stats
                        .get(&c.account.id)
                        .and_then(|s| s.ewma_ttfb_ms)
                        .unwrap_or(0.0);
                    (ms * 1000.0) as u64
                });
            }
            RoutingStrategy::LowestCost => {
                weighted_shuffle(items);
                items.sort_by_cached_key(|(c, _)| {
                    pricing::built_in(&c.upstream_model).map_or(u64::MAX, |p| p.typical())
                });
            }
        }
    }

    /// Notes an attempt's outcome and, on success, its time to first byte.
    pub fn observe(&self, account: i64, ok: bool, ttfb_ms: Option<f64>) {
        let mut stats = lock(&self.stats);
        let s = stats.entry(account).or_default();
        s.attempts += 1;
        s.ok = s.ok * ERROR_DECAY + f64::from(u8::from(ok));
        s.err = s.err * ERROR_DECAY + f64::from(u8::from(!ok));
        if let Some(ms) = ttfb_ms {
            s.ewma_ttfb_ms = Some(match s.ewma_ttfb_ms {
                Some(avg) => avg + EWMA_ALPHA * (ms - avg),
                None => ms,
            });
        }
    }

    /// This node's view of an account: (latency average ms, error rate, attempts).
    pub fn stats(&self, account: i64) -> (Option<f64>, f64, u64) {
        let s = lock(&self.stats).get(&account).copied().unwrap_or_default();
        let total = s.ok + s.err;
        let rate = if total > 0.0 { s.err / total } else { 0.0 };
        (s.ewma_ttfb_ms, rate, s.attempts)
    }
}

/// With no account usable: those out only for an open circuit whose last-resort probe is due,
/// by chain step, priority and the end of their open time; the others stay in `skipped`,
/// a circuit-open one with the time its next probe may go.
pub(super) fn last_resort(
    skipped: &mut Vec<(Candidate, OutReason)>,
    counters: &CounterStore,
    now: i64,
) -> Vec<Planned> {
    let mut probes = Vec::new();
    for (c, reason) in std::mem::take(skipped) {
        if matches!(reason, OutReason::CircuitOpen { .. }) {
            let health = counters.health(c.account.id);
            match health.last_resort(now) {
                Some(Availability::ProbeDue) => {
                    probes.push((health.open_until, c));
                    continue;
                }
                Some(Availability::Out(next)) => {
                    skipped.push((c, next));
                    continue;
                }
                Some(Availability::Available) | None => {}
            }
        }
        skipped.push((c, reason));
    }
    probes.sort_by_key(|(opened, c)| (c.chain_step, c.priority, *opened));
    probes
        .into_iter()
        .map(|(_, candidate)| Planned {
            candidate,
            needs_probe: true,
            last_resort: true,
        })
        .collect()
}

/// Weighted random order without replacement (Efraimidis–Spirakis: sort by u^(1/w)), in
/// O(n log n) so a thousand accounts cost microseconds.
fn weighted_shuffle(items: &mut [(Candidate, bool)]) {
    let mut rng = rand::rng();
    let mut keyed: Vec<(f64, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            (u.ln() / f64::from(c.weight.max(1)), i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    apply_order(items, &order);
}

fn apply_order<T: Clone>(items: &mut [T], order: &[usize]) {
    let copy: Vec<T> = order.iter().map(|&i| items[i].clone()).collect();
    for (slot, item) in items.iter_mut().zip(copy) {
        *slot = item;
    }
}

/// The conversation a request belongs to, for sticky routing: Claude Code's
/// `metadata.user_id` session, OpenAI's `prompt_cache_key`, otherwise a hash of the system
/// prompt and the first message. `None` for a one-message request without a system prompt
/// (nothing to cache).
pub fn session_key(group_id: i64, model: &str, body: &Value) -> Option<String> {
    let explicit = body
        .pointer("/metadata/user_id")
        .or_else(|| body.get("prompt_cache_key"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let mut hash = Sha256::new();
    hash.update(group_id.to_le_bytes());
    hash.update(model.as_bytes());
    match explicit {
        Some(id) => {
            hash.update(b"id:");
            hash.update(id.as_bytes());
        }
        None => {
            let system = body.get("system").or_else(|| body.get("instructions"));
            let conversation = body.get("messages").or_else(|| body.get("input"));
            let is_system = |m: &Value| {
                matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("system" | "developer")
                )
            };
            match conversation? {
                Value::Array(list) => {
                    // Chat puts the system prompt in the list: skip it, take the first turn.
                    let first = list.iter().find(|m| !is_system(m))?;
                    if system.is_none()
                        && list.len() < 2
                        && !first.to_string().contains("\"system\"")
                    {
                        return None;
                    }
                    hash.update(b"conv:");
                    if let Some(system) = system {
                        hash_json(&mut hash, system);
                    }
                    for m in list.iter().filter(|m| is_system(m)) {
                        hash_json(&mut hash, m);
                    }
                    hash_json(&mut hash, first);
                }
                Value::String(input) => {
                    if system.is_none() && !input.contains("\"system\"") {
                        return None;
                    }
                    hash.update(b"conv:");
                    if let Some(system) = system {
                        hash_json(&mut hash, system);
                    }
                    hash.update(input.as_bytes());
                }
                _ => return None,
            }
        }
    }
    Some(hex::encode(&hash.finalize()[..16]))
}

/// Hashes `value` as its compact JSON text (the bytes `Value::to_string` gives) without
/// building the string.
fn hash_json(hash: &mut Sha256, value: &Value) {
    struct Feed<'a>(&'a mut Sha256);
    impl std::io::Write for Feed<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Writing a `Value` to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(Feed(hash), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The key hashes the JSON text of the system prompt and the first turn; streaming it
    /// into the hash must give the key the strings gave (sessions stay sticky on upgrade).
    #[test]
    fn the_key_hashes_the_json_text_of_system_and_first_turn() {
        let body = json!({"model": "m", "system": [{"type": "text", "text": "Be brief \u{e9}"}],
            "messages": [{"role": "developer", "content": "x"},
                {"role": "user", "content": [{"type": "text", "text": "hi \"there\""}]},
                {"role": "assistant", "content": "hello"}]});
        let mut hash = Sha256::new();
        hash.update(7i64.to_le_bytes());
        hash.update(b"m");
        hash.update(b"conv:");
        hash.update(body["system"].to_string());
        hash.update(body["messages"][0].to_string());
        hash.update(body["messages"][1].to_string());
        let expected = hex::encode(&hash.finalize()[..16]);
        assert_eq!(session_key(7, "m", &body), Some(expected));
    }

    #[test]
    fn a_conversation_keeps_its_key_as_it_grows() {
        let first = json!({"model": "m", "messages": [
            {"role": "system", "content": "You are helpful"},
            {"role": "user", "content": "hi"}]});
        let later = json!({"model": "m", "messages": [
            {"role": "system", "content": "You are helpful"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"}]});
        assert_eq!(session_key(1, "m", &first), session_key(1, "m", &later));
        assert!(session_key(1, "m", &first).is_some());
        assert_ne!(session_key(1, "m", &first), session_key(2, "m", &first));
        let claude = json!({"metadata": {"user_id": "user_x_session_42"}, "messages": []});
        assert!(session_key(1, "m", &claude).is_some());
        let lone = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(session_key(1, "m", &lone), None);
    }
}
